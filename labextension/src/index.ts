import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';

import { MLInfraAPI } from './api';
import { MLInfraPanel } from './panel';
import { startProvenanceTracker } from './components/provenance/tracker';
import { CAPABILITY_NAMES, CapabilityName } from './tokens';

export namespace CommandIDs {
  export const openPanel = 'mlinfra:open-panel';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlinfra:plugin',
  description:
    'The ML Infra side panel: provenance, jobs, models and features of jupyter_mlinfra.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebookTracker: INotebookTracker | null
  ) => {
    const api = new MLInfraAPI(app.serviceManager.serverSettings);
    const panel = new MLInfraPanel({ api, app, notebookTracker });
    if (notebookTracker) {
      // markers on stale/changed cells and the log saved into the notebook, tab open or not
      startProvenanceTracker(api, notebookTracker);
    }
    app.shell.add(panel, 'left', { rank: 850 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }

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
    if (palette) {
      palette.addItem({ command: CommandIDs.openPanel, category: 'ML Infra' });
    }
  }
};

export default plugin;
