/**
 * Where users already are: the notebook toolbar ("Run / schedule as job"), the file
 * browser's context menu on notebooks, a status-bar item with the open notebook's hazards,
 * the command palette, the launcher and an "ML Infra" menu in the main menu.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, Notification, ReactWidget, ToolbarButton } from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { IMainMenu } from '@jupyterlab/mainmenu';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';
import { MenuSvg } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { MLInfraAPI } from '../api';
import { ProvenanceTracker } from '../provenance/tracker';
import { CommandIDs } from '../tokens';
import type { ProvenanceView } from '../types';
import { mlinfraIcon } from './icons';

export interface EntryPointOptions {
  api: MLInfraAPI;
  notebookTracker: INotebookTracker | null;
  provenance: ProvenanceTracker | null;
  palette: ICommandPalette | null;
  launcher: ILauncher | null;
  mainMenu: IMainMenu | null;
  statusBar: IStatusBar | null;
  fileBrowser: IFileBrowserFactory | null;
}

const CATEGORY = 'ML Infra';

/** The notebook a command acts on: its `path` arg, else the current notebook. */
function notebookPath(
  args: { [key: string]: unknown },
  notebookTracker: INotebookTracker | null
): string | null {
  if (typeof args.path === 'string' && args.path) {
    return args.path;
  }
  return notebookTracker?.currentWidget?.context.path ?? null;
}

export function addEntryPoints(app: JupyterFrontEnd, options: EntryPointOptions): void {
  const { api, notebookTracker, palette } = options;
  const { commands } = app;

  // -- actions on a notebook --------------------------------------------------------------
  commands.addCommand(CommandIDs.verifyNotebook, {
    label: 'Verify notebook in a fresh kernel',
    caption: 'Re-run the saved notebook in a fresh kernel and compare its outputs',
    isEnabled: () => !!notebookTracker?.currentWidget,
    execute: async args => {
      const path = notebookPath(args, notebookTracker);
      if (!path) {
        return;
      }
      const id = Notification.emit(`Verifying ${path} in a fresh kernel…`, 'in-progress', {
        autoClose: false
      });
      try {
        const result = await api.provenance.verifyNotebook({ path });
        const text = JSON.stringify(result).includes('"mismatch"')
          ? `${path}: some outputs differ from a fresh run (see the Provenance tab)`
          : `${path}: a fresh run reproduces the saved outputs`;
        Notification.update({ id, message: text, type: 'success', autoClose: 8000 });
      } catch (e) {
        Notification.update({
          id,
          message: `Verify failed: ${(e as Error).message}`,
          type: 'error',
          autoClose: false
        });
      }
    }
  });
  commands.addCommand(CommandIDs.exportReplay, {
    label: 'Export replay notebook',
    caption: 'Write the cells in the order they ran into a new notebook',
    isEnabled: () => !!notebookTracker?.currentWidget,
    execute: async args => {
      const path = notebookPath(args, notebookTracker);
      if (!path) {
        return;
      }
      try {
        const summary = await api.provenance.exportReplay({
          path,
          kernel_id: notebookTracker?.currentWidget?.sessionContext.session?.kernel?.id
        });
        await commands.execute('docmanager:open', { path: summary.path });
      } catch (e) {
        Notification.error(`Export replay failed: ${(e as Error).message}`);
      }
    }
  });

  // -- the notebook toolbar ---------------------------------------------------------------
  app.docRegistry.addWidgetExtension('Notebook', {
    createNew: (panel: NotebookPanel) => {
      const button = new ToolbarButton({
        className: 'jp-mlinfra-RunAsJobButton',
        label: 'Run / schedule as job',
        tooltip: 'Run this notebook as a job now or on a schedule, with its parameters',
        icon: mlinfraIcon,
        onClick: () => void commands.execute(CommandIDs.createJob, { path: panel.context.path })
      });
      if (!panel.toolbar.insertAfter('cellType', 'mlinfra-run-as-job', button)) {
        panel.toolbar.insertItem(10, 'mlinfra-run-as-job', button);
      }
      return button;
    }
  });

  // -- the file browser's context menu on notebooks ----------------------------------------
  const fromBrowser = 'mlinfra:create-job-from-file';
  commands.addCommand(fromBrowser, {
    label: 'Run / schedule as job',
    caption: 'Run the selected notebook as a job now or on a schedule',
    icon: mlinfraIcon,
    execute: () => {
      const browser = options.fileBrowser?.tracker.currentWidget;
      const item = browser?.selectedItems().next();
      const model = item && !item.done ? item.value : null;
      if (model && model.path.endsWith('.ipynb')) {
        return commands.execute(CommandIDs.createJob, { path: model.path });
      }
      return undefined;
    }
  });
  app.contextMenu.addItem({
    command: fromBrowser,
    selector: '.jp-DirListing-item[data-file-type="notebook"]',
    rank: 3
  });

  // -- the status bar: the open notebook's hazards -------------------------------------------
  if (options.statusBar && notebookTracker && options.provenance) {
    const item = new HazardsStatus(notebookTracker, options.provenance, () =>
      commands.execute(CommandIDs.openPanel, { tab: 'provenance' })
    );
    options.statusBar.registerStatusItem('jupyter-mlinfra:hazards', {
      item,
      align: 'left',
      rank: 5,
      isActive: () => !!notebookTracker.currentWidget
    });
  }

  // -- palette, launcher, main menu -------------------------------------------------------
  const actions = [
    CommandIDs.openPanel,
    CommandIDs.createJob,
    CommandIDs.verifyNotebook,
    CommandIDs.exportReplay,
    CommandIDs.openRun,
    CommandIDs.openJob,
    CommandIDs.openModel,
    CommandIDs.openFeatureView,
    CommandIDs.openNotebookHub,
    CommandIDs.openTour
  ];
  if (palette) {
    for (const command of actions) {
      palette.addItem({ command, category: CATEGORY });
    }
  }
  if (options.launcher) {
    options.launcher.add({ command: CommandIDs.openTour, category: 'Other', rank: 1 });
  }
  if (options.mainMenu) {
    const menu = new MenuSvg({ commands });
    menu.id = 'jp-mlinfra-mainmenu';
    menu.title.label = 'ML Infra';
    for (const command of actions) {
      menu.addItem({ command });
    }
    options.mainMenu.addMenu(menu, true, { rank: 80 });
  }
}

/** A short summary of a view's hazards: `2 stale · 1 changed`, or `clean`. */
export function hazardSummary(view: ProvenanceView | undefined): string {
  const report = view?.report;
  if (!report) {
    return '';
  }
  const parts: string[] = [];
  if (report.stale.length) {
    parts.push(`${report.stale.length} stale`);
  }
  if (report.code_changed.length) {
    parts.push(`${report.code_changed.length} changed`);
  }
  if (report.hidden_state.length) {
    parts.push(`${report.hidden_state.length} hidden`);
  }
  if (report.out_of_order) {
    parts.push('out of order');
  }
  return parts.length ? parts.join(' · ') : 'clean';
}

class HazardsStatus extends ReactWidget {
  constructor(
    private readonly notebooks: INotebookTracker,
    private readonly provenance: ProvenanceTracker,
    private readonly open: () => void
  ) {
    super();
    this.addClass('jp-mlinfra-HazardsStatus');
    this.node.title = 'Provenance of this notebook: open the Provenance tab';
    notebooks.currentChanged.connect(() => this.update());
    provenance.changed.connect(() => this.update());
  }

  render(): JSX.Element {
    const path = this.notebooks.currentWidget?.context.path;
    const summary = path ? hazardSummary(this.provenance.view(path)) : '';
    if (!summary) {
      return <></>;
    }
    return (
      <button
        type="button"
        className="jp-mlinfra-HazardsStatus-button"
        data-clean={summary === 'clean' ? 'true' : 'false'}
        aria-label={`Provenance: ${summary}`}
        onClick={this.open}
      >
        <mlinfraIcon.react tag="span" className="jp-mlinfra-HazardsStatus-icon" />
        {summary}
      </button>
    );
  }
}
