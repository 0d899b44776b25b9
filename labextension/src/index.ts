import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { IMainMenu } from '@jupyterlab/mainmenu';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';

import { MLInfraAPI } from './api';
import { startProvenanceTracker } from './provenance/tracker';
import { FEATURE_PAGES } from './features/pages';
import { JOB_PAGES } from './jobs/pages';
import { MODEL_PAGES } from './models/pages';
import { NOTEBOOK_PAGES } from './notebooks/pages';
import { addEntryPoints } from './shell/entryPoints';
import { registerPages } from './shell/pages';
import { TOUR_PAGE } from './shell/tour';
import { MLInfraPanel } from './shell/panel';
import { CommandIDs, IMLInfraAPI } from './tokens';
import { CAPABILITY_NAMES, CapabilityName } from './types';

export { CommandIDs, IMLInfraAPI } from './tokens';

/** The REST client, provided to every extension that asks for `IMLInfraAPI`. */
const apiPlugin: JupyterFrontEndPlugin<IMLInfraAPI> = {
  id: 'jupyter-mlinfra:api',
  description: 'The REST client of jupyter_mlinfra (IMLInfraAPI).',
  autoStart: true,
  provides: IMLInfraAPI,
  activate: (app: JupyterFrontEnd): IMLInfraAPI => new MLInfraAPI(app.serviceManager.serverSettings)
};

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlinfra:plugin',
  description: 'The ML Infra side panel: provenance, jobs, models and features of jupyter_mlinfra.',
  autoStart: true,
  requires: [IMLInfraAPI],
  optional: [
    ICommandPalette,
    ILayoutRestorer,
    INotebookTracker,
    ILauncher,
    IMainMenu,
    IStatusBar,
    IFileBrowserFactory
  ],
  activate: (
    app: JupyterFrontEnd,
    api: IMLInfraAPI,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebookTracker: INotebookTracker | null,
    launcher: ILauncher | null,
    mainMenu: IMainMenu | null,
    statusBar: IStatusBar | null,
    fileBrowser: IFileBrowserFactory | null
  ) => {
    const panel = new MLInfraPanel({ api, app, notebookTracker });
    // markers on stale/changed cells and the log saved into the notebook, tab open or not
    const provenance = notebookTracker ? startProvenanceTracker(api, notebookTracker) : null;
    app.shell.add(panel, 'left', { rank: 850 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }

    // Main-area pages: a run, a job, a model, a feature view (command + args = route).
    registerPages(
      app,
      [...JOB_PAGES, ...MODEL_PAGES, ...FEATURE_PAGES, ...NOTEBOOK_PAGES, TOUR_PAGE],
      {
        api,
        notebookTracker,
        restorer
      }
    );

    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'ML Infra: Open panel',
      caption:
        'Show the ML Infra side panel (optional argument `tab`: provenance, jobs, models or features)',
      icon: args => (args.isPalette ? undefined : panel.title.icon),
      execute: args => {
        const tab = args.tab as string | undefined;
        if (tab && (CAPABILITY_NAMES as readonly string[]).includes(tab)) {
          panel.selectTab(tab as CapabilityName);
        }
        app.shell.activateById(panel.id);
      }
    });
    addEntryPoints(app, {
      api,
      notebookTracker,
      provenance,
      palette,
      launcher,
      mainMenu,
      statusBar,
      fileBrowser
    });
  }
};

export default [apiPlugin, plugin];
