/**
 * The provenance tracker: one per JupyterLab, started with the extension (not only when the
 * Provenance tab is open), so that
 *
 * - after each cell execution in any notebook, the notebook's history and hazards are
 *   fetched (POST /provenance/check with the cells as shown now) and every stale, changed or
 *   hidden-state cell gets a visible marker: a CSS class on its node (`jp-mlinfra-prov-stale`,
 *   `jp-mlinfra-prov-changed`, `jp-mlinfra-prov-hidden`) and the explanation as its tooltip;
 * - when a notebook is saved, its execution log is written into the notebook's metadata under
 *   `jupyter_mlinfra.provenance`, so the log travels with the file (checked elsewhere with
 *   `jupyter mlinfra check NB.ipynb`, no catalog needed).
 */

import type { ISessionContext } from '@jupyterlab/apputils';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { Kernel } from '@jupyterlab/services';
import {
  INotebookModel,
  INotebookTracker,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';

import { MLInfraAPI } from '../api';
import { ProvenanceView } from '../types';
import { cellRef, lastCounts } from './numbering';

export const MARKER_CLASSES = {
  stale: 'jp-mlinfra-prov-stale',
  changed: 'jp-mlinfra-prov-changed',
  hidden: 'jp-mlinfra-prov-hidden'
};
const METADATA_KEY = 'jupyter_mlinfra';
/** After a restart, ask again this often until the new kernel's session appears. */
const AFTER_RESTART_MS = 1500;
const RESTART_FOLLOW_MS = 30_000;

/** A notebook's kernel restarted (or was changed or shut down) while it was open. */
export interface KernelRestart {
  at: Date;
  reason: 'restarted' | 'changed' | 'shut down';
  /** The sessions of the kernel lifetimes that ended: never shown as the current one. */
  ended: Set<string>;
}

/** A view with nothing of a session: what a kernel that has recorded nothing yet shows. */
function withoutSession(view: ProvenanceView): ProvenanceView {
  return {
    ...view,
    session_id: null,
    executions: [],
    report: null,
    log: null,
    kernel: view.kernel ? { ...view.kernel, recording: false, session_id: null } : view.kernel
  };
}
/** Wait after an execution before asking: the kernel writes its record in its quiet time. */
const AFTER_EXECUTION_MS = 900;
const AFTER_EDIT_MS = 1500;

export class ProvenanceTracker {
  constructor(
    readonly api: MLInfraAPI,
    readonly notebooks: INotebookTracker
  ) {
    notebooks.widgetAdded.connect((_, panel) => this._watch(panel));
    notebooks.forEach(panel => this._watch(panel));
    NotebookActions.executed.connect((_, args) => {
      const panel = this.notebooks.find(p => p.content === args.notebook);
      if (panel) {
        this.schedule(panel);
      }
    });
  }

  /** Emits the contents path of a notebook whose view changed. */
  get changed(): ISignal<this, string> {
    return this._changed;
  }

  /** The last view fetched for a notebook (contents path). */
  view(path: string): ProvenanceView | undefined {
    return this._views.get(path);
  }

  /** The last kernel restart (or change) of an open notebook, if any. */
  restart(path: string): KernelRestart | undefined {
    return this._restarts.get(path);
  }

  /** The error of the last fetch for a notebook, if it failed. */
  error(path: string): Error | undefined {
    return this._errors.get(path);
  }

  /** Fetch history and hazards for the notebook as shown now; update its markers. */
  async refresh(panel: NotebookPanel): Promise<ProvenanceView | null> {
    const path = panel.context.path;
    const model = panel.content.model;
    if (!model) {
      return null;
    }
    const cells: Array<{ id: string; source: string; cell_type: string }> = [];
    for (let i = 0; i < model.cells.length; i++) {
      const cell = model.cells.get(i);
      cells.push({
        id: cell.id,
        source: cell.sharedModel.getSource(),
        cell_type: cell.type
      });
    }
    try {
      let view = await this.api.provenance.checkProvenance({
        path,
        cells,
        kernel_id: panel.sessionContext.session?.kernel?.id
      });
      const restart = this._restarts.get(path);
      if (restart && view.session_id && restart.ended.has(view.session_id)) {
        // the kernel that ended: its successor has not registered its session yet
        view = withoutSession(view);
        if (Date.now() - restart.at.getTime() < RESTART_FOLLOW_MS) {
          this.schedule(panel, AFTER_RESTART_MS);
        }
      }
      this._views.set(path, view);
      this._errors.delete(path);
      this.applyMarkers(panel, view);
      this._changed.emit(path);
      return view;
    } catch (error) {
      this._errors.set(path, error instanceof Error ? error : new Error(String(error)));
      this._changed.emit(path);
      throw error;
    }
  }

  /** Refresh a notebook shortly (debounced). */
  schedule(panel: NotebookPanel, delayMs = AFTER_EXECUTION_MS): void {
    const path = panel.context.path;
    window.clearTimeout(this._timers.get(path));
    this._timers.set(
      path,
      window.setTimeout(() => {
        this._timers.delete(path);
        void this.refresh(panel).catch(() => undefined);
      }, delayMs)
    );
  }

  /** Put (or take off) the stale / changed / hidden-state marker of every cell. */
  applyMarkers(panel: NotebookPanel, view: ProvenanceView): void {
    const report = view.report;
    const stale = new Set(report?.stale ?? []);
    const changed = new Set(report?.code_changed ?? []);
    const hidden = new Set(report?.hidden_state_cells ?? []);
    const messages = new Map<string, string[]>();
    for (const finding of report?.explanations ?? []) {
      if (finding.cell_id) {
        const list = messages.get(finding.cell_id) ?? [];
        list.push(finding.message);
        messages.set(finding.cell_id, list);
      }
    }
    const counts = lastCounts(view.executions);
    panel.content.widgets.forEach((cell, i) => {
      const id = cell.model.id;
      const node = cell.node;
      node.classList.toggle(MARKER_CLASSES.stale, stale.has(id));
      node.classList.toggle(MARKER_CLASSES.changed, changed.has(id));
      node.classList.toggle(MARKER_CLASSES.hidden, hidden.has(id));
      // the marker names the cell as findings and the timeline do: "cell 7 [12]"
      const ref = cellRef(i + 1, counts.get(id));
      if (stale.has(id) || changed.has(id) || hidden.has(id)) {
        node.setAttribute('data-mlinfra-cell-ref', ref);
      } else {
        node.removeAttribute('data-mlinfra-cell-ref');
      }
      const text = messages.get(id);
      if (text) {
        node.setAttribute('data-mlinfra-provenance', text.join('\n'));
        node.title = `${ref}: ${text.join('\n')}`;
      } else if (node.hasAttribute('data-mlinfra-provenance')) {
        node.removeAttribute('data-mlinfra-provenance');
        node.removeAttribute('title');
      }
    });
  }

  /** The kernel of an open notebook restarted, changed or stopped: a new session starts.
   * Markers and findings of the session that ended go away at once. */
  private _kernelEnded(panel: NotebookPanel, reason: KernelRestart['reason']): void {
    const path = panel.context.path;
    const view = this._views.get(path);
    const ended = new Set(this._restarts.get(path)?.ended ?? []);
    if (view?.session_id) {
      ended.add(view.session_id);
    }
    this._restarts.set(path, { at: new Date(), reason, ended });
    if (view) {
      const blank = withoutSession(view);
      this._views.set(path, blank);
      this.applyMarkers(panel, blank);
    }
    this._changed.emit(path);
    this.schedule(panel, AFTER_RESTART_MS);
  }

  private _watch(panel: NotebookPanel): void {
    const onStatus = (_: ISessionContext, status: Kernel.Status) => {
      if (status === 'restarting' || status === 'autorestarting') {
        this._kernelEnded(panel, 'restarted');
      }
    };
    const onKernel = (
      _: ISessionContext,
      change: {
        oldValue: Kernel.IKernelConnection | null;
        newValue: Kernel.IKernelConnection | null;
      }
    ) => {
      if (change.oldValue && change.oldValue.id !== change.newValue?.id) {
        this._kernelEnded(panel, change.newValue ? 'changed' : 'shut down');
      }
    };
    panel.sessionContext.statusChanged.connect(onStatus);
    panel.sessionContext.kernelChanged.connect(onKernel);
    const onSave = (
      context: DocumentRegistry.IContext<INotebookModel>,
      state: DocumentRegistry.SaveState
    ) => {
      if (state !== 'started') {
        return;
      }
      // Synchronous: the context serialises the model right after emitting 'started'.
      const view = this._views.get(context.path);
      if (!view?.log) {
        return;
      }
      const current =
        (context.model.getMetadata(METADATA_KEY) as { [key: string]: unknown } | undefined) ?? {};
      // a saved log that is shown again is written back as it was (its date and machine)
      const log =
        view.source === 'saved' ? view.log : { ...view.log, saved_at: new Date().toISOString() };
      context.model.setMetadata(METADATA_KEY, {
        ...current,
        provenance: log
      } as any);
    };
    panel.context.saveState.connect(onSave);
    // An edit can make a cell "changed since run": look again once the typing pauses.
    const onContent = () => {
      if (this._views.get(panel.context.path)?.report) {
        this.schedule(panel, AFTER_EDIT_MS);
      }
    };
    void panel.context.ready.then(() => {
      panel.context.model.contentChanged.connect(onContent);
      this.schedule(panel, 300);
    });
    panel.disposed.connect(() => {
      panel.sessionContext.statusChanged.disconnect(onStatus);
      panel.sessionContext.kernelChanged.disconnect(onKernel);
      panel.context.saveState.disconnect(onSave);
      panel.context.model?.contentChanged.disconnect(onContent);
      window.clearTimeout(this._timers.get(panel.context.path));
    });
  }

  private _views = new Map<string, ProvenanceView>();
  private _errors = new Map<string, Error>();
  private _restarts = new Map<string, KernelRestart>();
  private _timers = new Map<string, number>();
  private _changed = new Signal<this, string>(this);
}

let instance: ProvenanceTracker | null = null;

/** Start the tracker once (called when the extension activates). */
export function startProvenanceTracker(
  api: MLInfraAPI,
  notebooks: INotebookTracker
): ProvenanceTracker {
  if (!instance) {
    instance = new ProvenanceTracker(api, notebooks);
  }
  return instance;
}

/** The running tracker (null when the notebook plugin is missing). */
export function getProvenanceTracker(): ProvenanceTracker | null {
  return instance;
}
