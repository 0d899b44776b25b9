import * as React from 'react';

import { NotebookPanel } from '@jupyterlab/notebook';

import {
  CapabilityStatusView,
  DataTable,
  ErrorBanner,
  formatTimestamp,
  formatTimestampTitle
} from '../common';
import { cellPositions, cellRef, lastCounts, refOf } from './numbering';
import { getProvenanceTracker, KernelRestart } from './tracker';
import { MLInfraAPIError } from '../api';
import {
  ProvenanceExecution,
  ProvenanceFinding,
  ProvenanceView,
  ReplaySummary,
  VerifyResult
} from '../types';
import { TabProps } from '../common/tabProps';

const KIND_LABELS: { [kind: string]: string } = {
  stale_direct: 'stale',
  stale_transitive: 'stale (transitive)',
  out_of_order: 'out of order',
  hidden_state: 'hidden state',
  code_changed: 'changed',
  unexecuted: 'not run',
  reads_from_below: 'reads from below',
  before_recording: 'before recording'
};

/** The notebook the user is looking at (follows the notebook tracker). */
function useCurrentNotebook(props: TabProps): NotebookPanel | null {
  const tracker = props.notebookTracker;
  const [panel, setPanel] = React.useState<NotebookPanel | null>(tracker?.currentWidget ?? null);
  React.useEffect(() => {
    if (!tracker) {
      return;
    }
    const onChange = () => setPanel(tracker.currentWidget);
    tracker.currentChanged.connect(onChange);
    onChange();
    return () => {
      tracker.currentChanged.disconnect(onChange);
    };
  }, [tracker]);
  return panel;
}

/** The Provenance tab: timeline, hazards, replay export and verify for the current notebook. */
export function ProvenanceTab(props: TabProps): JSX.Element {
  const panel = useCurrentNotebook(props);
  const tracker = getProvenanceTracker();
  const path = panel?.context.path ?? null;
  const [, setTick] = React.useState(0);
  const [loading, setLoading] = React.useState(false);

  // Re-render whenever the tracker has news about this notebook.
  React.useEffect(() => {
    if (!tracker) {
      return;
    }
    const onChanged = (_: unknown, changed: string) => {
      if (changed === path) {
        setTick(t => t + 1);
      }
    };
    tracker.changed.connect(onChanged);
    return () => {
      tracker.changed.disconnect(onChanged);
    };
  }, [tracker, path]);

  const refresh = React.useCallback(async () => {
    if (!tracker || !panel) {
      return;
    }
    setLoading(true);
    try {
      await tracker.refresh(panel);
    } catch {
      // shown from tracker.error(path)
    } finally {
      setLoading(false);
    }
  }, [tracker, panel]);

  // Fetch when shown or when the notebook changes; then every 10 s while visible.
  React.useEffect(() => {
    if (!props.active || !panel) {
      return;
    }
    void refresh();
    const timer = window.setInterval(() => {
      if (!document.hidden) {
        void refresh();
      }
    }, 10_000);
    return () => window.clearInterval(timer);
  }, [props.active, panel, refresh]);

  const view = path && tracker ? tracker.view(path) : undefined;
  const error = path && tracker ? (tracker.error(path) ?? null) : null;

  return (
    <div className="jp-mlinfra-Tab-body jp-mlinfra-Provenance">
      <p className="jp-mlinfra-Tab-intro">
        Every cell execution, recorded: stale cells, out-of-order runs, hidden kernel state and the
        order that reproduces a result.
      </p>
      {!panel ? (
        <p className="jp-mlinfra-Empty" data-provenance-empty="no-notebook">
          Open a notebook to see its execution history and hazards. Recording starts in a kernel
          with <code>%load_ext jupyter_mlinfra</code>.
        </p>
      ) : (
        <NotebookProvenance
          {...props}
          panel={panel}
          view={view ?? null}
          restart={path && tracker ? (tracker.restart(path) ?? null) : null}
          error={error}
          loading={loading}
          onRefresh={refresh}
        />
      )}
      <details className="jp-mlinfra-Section">
        <summary>Capability status</summary>
        <CapabilityStatusView name="provenance" health={props.health} />
      </details>
    </div>
  );
}

interface NotebookProvenanceProps extends TabProps {
  panel: NotebookPanel;
  view: ProvenanceView | null;
  restart: KernelRestart | null;
  error: Error | null;
  loading: boolean;
  onRefresh: () => Promise<void>;
}

function NotebookProvenance(props: NotebookProvenanceProps): JSX.Element {
  const { panel, view, error, loading } = props;
  const path = panel.context.path;
  const report = view?.report ?? null;
  const positions = React.useMemo(() => cellPositions(panel), [panel, view]);
  const counts = React.useMemo(() => lastCounts(view?.executions ?? []), [view]);

  const goTo = (cellId: string | null) => {
    if (!cellId) {
      return;
    }
    const index = panel.content.widgets.findIndex(c => c.model.id === cellId);
    if (index >= 0) {
      panel.content.activeCellIndex = index;
      void panel.content.scrollToItem(index);
      props.app.shell.activateById(panel.id);
    }
  };

  return (
    <>
      <div className="jp-mlinfra-Toolbar">
        <strong className="jp-mlinfra-Provenance-path" title={path}>
          {panel.title.label}
        </strong>
        <button
          type="button"
          className="jp-mlinfra-LinkButton"
          onClick={() => void props.onRefresh()}
          disabled={loading}
        >
          {loading ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>
      <ErrorBanner
        error={error}
        context="Could not load the history"
        onRetry={() => void props.onRefresh()}
      />
      <KernelNotice view={view} restart={props.restart} />
      {view?.source === 'saved' && <SavedLogNotice view={view} />}
      {view && !report && <NotRecording {...props} view={view} />}
      {report && (
        <>
          <HazardSummary report={report} />
          <section className="jp-mlinfra-Section" data-provenance-section="hazards">
            <h3>Hazards</h3>
            {report.explanations.length === 0 ? (
              <p className="jp-mlinfra-Empty">
                None: the kernel state matches the notebook run top to bottom.
              </p>
            ) : (
              <ul className="jp-mlinfra-Provenance-findings">
                {report.explanations.map((f, i) => (
                  <Finding
                    key={i}
                    finding={f}
                    cellRef={f.cell_id ? refOf(f.cell_id, positions, counts) : null}
                    onClick={() => goTo(f.cell_id)}
                  />
                ))}
              </ul>
            )}
          </section>
          <Actions {...props} />
        </>
      )}
      {view && (view.executions.length > 0 || view.sessions.length > 0) && (
        <SessionTimeline
          {...props}
          view={view}
          positions={positions}
          onSelect={e => goTo(e.cell_id)}
        />
      )}
    </>
  );
}

/** "Kernel restarted": the panel shows the new kernel session only, from the moment the
 * kernel restarts (the session that ended stays browsable in the timeline). */
function KernelNotice(props: {
  view: ProvenanceView | null;
  restart: KernelRestart | null;
}): JSX.Element | null {
  const { view, restart } = props;
  if (!restart && !view?.kernel?.restarted) {
    return null;
  }
  const reason = restart?.reason ?? 'restarted';
  const when = restart
    ? restart.at.toLocaleTimeString()
    : formatTimestamp(view?.kernel?.started_at ?? null);
  const n = view?.executions.length ?? 0;
  return (
    <p className="jp-mlinfra-Provenance-restart" data-provenance-restarted={reason}>
      <strong>Kernel {reason}</strong> at {when}: showing{' '}
      {view?.session_id
        ? `its new session only (${n} execution${n === 1 ? '' : 's'})`
        : 'nothing of the session that ended'}
      .{(view?.sessions.length ?? 0) > 1 ? ' Earlier sessions are in the timeline.' : ''}
    </p>
  );
}

/** The kernel has recorded nothing (yet): why, and the switch to record from the first cell. */
function NotRecording(props: NotebookProvenanceProps & { view: ProvenanceView }): JSX.Element {
  const { view, api } = props;
  const [busy, setBusy] = React.useState(false);
  const [enabled, setEnabled] = React.useState<string | null>(null);
  const [error, setError] = React.useState<Error | null>(null);
  if (view.kernel?.recording) {
    return (
      <p className="jp-mlinfra-Empty" data-provenance-empty="new-session">
        This kernel session has recorded nothing yet: run cells.
      </p>
    );
  }
  const enable = async () => {
    setBusy(true);
    setError(null);
    try {
      const status = await api.provenance.setRecording({ enabled: true, scope: 'user' });
      setEnabled(status.scopes['user']?.path ?? '');
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="jp-mlinfra-Empty" data-provenance-empty="not-recording">
      <p>
        This notebook&apos;s kernel is not recording. Run <code>%load_ext jupyter_mlinfra</code> in
        it, then run cells
        {view.recording_enabled ? ' (new kernels record from their first cell)' : ''}.
      </p>
      {!view.recording_enabled && !enabled && (
        <button
          type="button"
          className="jp-mlinfra-Button"
          disabled={busy}
          onClick={() => void enable()}
          title="Writes the IPython kernel configuration that loads jupyter_mlinfra in every new kernel (jupyter mlinfra enable-recording --user)"
        >
          {busy ? 'Enabling…' : 'Record every kernel from its first cell'}
        </button>
      )}
      {enabled !== null && (
        <p data-provenance-result="recording-enabled">
          Enabled in <code>{enabled}</code>: new kernels record from their first cell. Restart this
          kernel to record it from the start.
        </p>
      )}
      <ErrorBanner error={error} />
    </div>
  );
}

/** The timeline of the kernel's current session, or of an earlier session picked from the
 * list (every kernel lifetime is its own session). */
function SessionTimeline(
  props: NotebookProvenanceProps & {
    view: ProvenanceView;
    positions: Map<string, number>;
    onSelect: (e: ProvenanceExecution) => void;
  }
): JSX.Element {
  const { view, api, panel } = props;
  const path = panel.context.path;
  const [picked, setPicked] = React.useState<string>('');
  const [other, setOther] = React.useState<ProvenanceView | null>(null);
  const [error, setError] = React.useState<Error | null>(null);
  React.useEffect(() => {
    setPicked('');
    setOther(null);
  }, [path, view.session_id]);
  React.useEffect(() => {
    if (!picked) {
      setOther(null);
      return;
    }
    let live = true;
    setError(null);
    api.provenance.getProvenance(path, undefined, picked).then(
      v => live && setOther(v),
      e => live && setError(e as Error)
    );
    return () => {
      live = false;
    };
  }, [api, path, picked]);
  const shown = picked ? other : view;
  const executions = shown?.executions ?? [];
  const sessions = view.sessions.filter(s => s.session_id !== view.session_id);
  return (
    <section className="jp-mlinfra-Section" data-provenance-section="timeline">
      <h3>
        Timeline{' '}
        <span className="jp-mlinfra-Provenance-sub">
          {executions.length} executions · kernel session{' '}
          {((picked || view.session_id) ?? '').slice(0, 8)}
        </span>
      </h3>
      {sessions.length > 0 && (
        <label className="jp-mlinfra-Provenance-sessions">
          Session{' '}
          <select
            value={picked}
            onChange={e => setPicked(e.target.value)}
            data-provenance-sessions=""
          >
            <option value="">
              {view.session_id ? 'this kernel (current)' : 'this kernel (nothing yet)'}
            </option>
            {sessions.map(s => (
              <option key={s.session_id} value={s.session_id}>
                {formatTimestamp(s.started_at ?? s.last_execution_at)} · {s.executions} executions ·{' '}
                {s.session_id.slice(0, 8)}
              </option>
            ))}
          </select>
        </label>
      )}
      <ErrorBanner error={error} />
      <Timeline executions={executions} positions={props.positions} onSelect={props.onSelect} />
    </section>
  );
}

function HazardSummary(props: { report: NonNullable<ProvenanceView['report']> }): JSX.Element {
  const r = props.report;
  const items: Array<[string, number | string, boolean]> = [
    ['stale', r.stale.length, r.stale.length > 0],
    ['changed', r.code_changed.length, r.code_changed.length > 0],
    ['out of order', r.out_of_order ? 'yes' : 'no', r.out_of_order],
    ['hidden', r.hidden_state.length, r.hidden_state.length > 0],
    ['not run', r.unexecuted.length, r.unexecuted.length > 0],
    ['from below', r.reads_from_below.length, r.reads_from_below.length > 0]
  ];
  if (r.before_recording) {
    items.push(['before recording', r.before_recording, true]);
  }
  return (
    <div className="jp-mlinfra-Provenance-summary" data-provenance-clean={r.clean}>
      {r.clean ? (
        <span className="jp-mlinfra-Badge jp-mlinfra-Badge-ok">no hazards</span>
      ) : (
        items.map(([label, value, bad]) => (
          <span
            key={label}
            className={`jp-mlinfra-Badge ${bad ? 'jp-mlinfra-Badge-warn' : 'jp-mlinfra-Badge-off'}`}
            data-hazard={label}
          >
            {label}: {value}
          </span>
        ))
      )}
    </div>
  );
}

function Finding(props: {
  finding: ProvenanceFinding;
  cellRef: string | null;
  onClick: () => void;
}): JSX.Element {
  const f = props.finding;
  return (
    <li className={`jp-mlinfra-Provenance-finding jp-mod-${f.kind}`} data-kind={f.kind}>
      {props.cellRef && (
        <span className="jp-mlinfra-Provenance-cellref" data-cell-ref={props.cellRef}>
          {props.cellRef}
        </span>
      )}
      <span className="jp-mlinfra-Provenance-kind">{KIND_LABELS[f.kind] ?? f.kind}</span>{' '}
      {f.cell_id ? (
        <button type="button" className="jp-mlinfra-Provenance-message" onClick={props.onClick}>
          {f.message}
        </button>
      ) : (
        <span className="jp-mlinfra-Provenance-message">{f.message}</span>
      )}
    </li>
  );
}

function Actions(props: NotebookProvenanceProps): JSX.Element {
  const { panel, api, app } = props;
  const path = panel.context.path;
  const [busy, setBusy] = React.useState<'replay' | 'verify' | null>(null);
  const [replay, setReplay] = React.useState<ReplaySummary | null>(null);
  const [verify, setVerify] = React.useState<VerifyResult | null>(null);
  const [error, setError] = React.useState<Error | null>(null);

  React.useEffect(() => {
    setReplay(null);
    setVerify(null);
    setError(null);
  }, [path]);

  const active = useActiveCell(panel);
  const positions = React.useMemo(() => cellPositions(panel), [panel, replay]);
  const executed = new Set((props.view?.executions ?? []).map(e => e.cell_id));
  const target = active.id && executed.has(active.id) ? active.id : undefined;
  const position = target ? active.index + 1 : null;
  const saved = props.view?.source === 'saved';

  const exportReplay = async () => {
    setBusy('replay');
    setError(null);
    // never over a file: <notebook>-replay-cell7.ipynb, then -1, -2... (the server answers
    // 409 for a name that exists)
    const slash = path.lastIndexOf('/');
    const dir = slash >= 0 ? path.slice(0, slash + 1) : '';
    const stem = path.slice(slash + 1).replace(/\.ipynb$/, '');
    const base = `${dir}${stem}-replay${position ? `-cell${position}` : ''}`;
    try {
      for (let i = 0; ; i++) {
        try {
          const summary = await api.provenance.exportReplay({
            path,
            cell_id: target,
            out_path: `${base}${i ? `-${i}` : ''}.ipynb`,
            kernel_id: saved ? undefined : panel.sessionContext.session?.kernel?.id,
            session_id: saved ? (props.view?.session_id ?? undefined) : undefined
          });
          setReplay(summary);
          await reloadOpenTabs(app, summary.path);
          break;
        } catch (e) {
          if (!(e instanceof MLInfraAPIError && e.status === 409) || i >= 99) {
            throw e;
          }
        }
      }
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(null);
    }
  };

  const runVerify = async () => {
    setBusy('verify');
    setError(null);
    setVerify(null);
    try {
      if (panel.context.model.dirty) {
        await panel.context.save();
      }
      setVerify(await api.provenance.verifyNotebook({ path }));
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(null);
    }
  };

  return (
    <section className="jp-mlinfra-Section" data-provenance-section="actions">
      <h3>Reproduce</h3>
      <div className="jp-mlinfra-Toolbar">
        <button
          type="button"
          className="jp-mlinfra-Button"
          disabled={busy !== null}
          onClick={() => void exportReplay()}
          data-provenance-export={position ?? 'last'}
          title={
            target
              ? 'The executions that reproduce the active cell, in a new notebook (never over an existing file)'
              : 'The active cell has not run: the executions that reproduce the last result, in a new notebook'
          }
        >
          {busy === 'replay'
            ? 'Exporting…'
            : position
              ? `Export replay for cell ${position}`
              : 'Export replay for the last result'}
        </button>
        <button
          type="button"
          className="jp-mlinfra-Button jp-mod-accept"
          disabled={busy !== null}
          onClick={() => void runVerify()}
          title="Save, re-run the notebook top to bottom in a fresh kernel and compare every output"
        >
          {busy === 'verify' ? 'Verifying…' : 'Run verify'}
        </button>
      </div>
      <ErrorBanner error={error} />
      {replay && (
        <p className="jp-mlinfra-Provenance-result" data-provenance-result="replay">
          Wrote <code>{replay.path}</code>: {replay.cells} cells (
          {replay.executions
            .map(e => cellRef(positions.get(e.cell_id), e.execution_count))
            .join(', ')}
          ).{' '}
          <button
            type="button"
            className="jp-mlinfra-LinkButton"
            onClick={() => void app.commands.execute('docmanager:open', { path: replay.path })}
          >
            Open
          </button>
        </p>
      )}
      {verify && <VerifyView result={verify} />}
    </section>
  );
}

function VerifyView(props: { result: VerifyResult }): JSX.Element {
  const r = props.result;
  const notable = r.cells.filter(c => c.status !== 'match');
  return (
    <div className="jp-mlinfra-Provenance-result" data-provenance-result="verify">
      <span
        className={`jp-mlinfra-Badge ${r.ok ? 'jp-mlinfra-Badge-ok' : 'jp-mlinfra-Badge-error'}`}
        data-verdict={r.verdict}
      >
        verify: {r.verdict}
      </span>{' '}
      {Object.entries(r.counts)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k.replace('_', ' ')} ${n}`)
        .join(' · ')}{' '}
      ({r.duration_s.toFixed(1)} s)
      {r.run_error && <p className="jp-mlinfra-Provenance-sub">run stopped: {r.run_error}</p>}
      <ul className="jp-mlinfra-Provenance-verify">
        {notable.map(c => (
          <li key={c.cell_id} data-status={c.status}>
            cell {c.index + 1}: <strong>{c.status.replace('_', ' ')}</strong>
            {c.reason ? ` (${c.reason})` : ''}
            {c.diff && <pre className="jp-mlinfra-Provenance-diff">{c.diff}</pre>}
          </li>
        ))}
      </ul>
    </div>
  );
}

function Timeline(props: {
  executions: ProvenanceExecution[];
  positions: Map<string, number>;
  onSelect: (e: ProvenanceExecution) => void;
}): JSX.Element {
  const rows = [...props.executions].reverse().slice(0, 200);
  return (
    <DataTable<ProvenanceExecution>
      label="Execution timeline"
      rows={rows}
      rowKey={e => String(e.seq)}
      emptyText="No executions recorded yet."
      onRowClick={props.onSelect}
      columns={[
        {
          id: 'cell',
          label: 'cell [run]',
          width: '5.5em',
          render: e => cellRef(props.positions.get(e.cell_id), e.execution_count),
          title: e => `cell id ${e.cell_id} · recorded execution #${e.seq}\n\n${e.source}`
        },
        {
          id: 'status',
          label: 'status',
          width: '4em',
          render: e =>
            e.status === 'ok' ? (
              'ok'
            ) : (
              <span className="jp-mlinfra-Provenance-error">{e.error_type ?? 'error'}</span>
            )
        },
        {
          id: 'ms',
          label: 'ms',
          align: 'right',
          width: '3.5em',
          secondary: true,
          render: e => (e.duration_ms === null ? '—' : e.duration_ms.toFixed(1)),
          title: e => `${formatTimestamp(e.started_at)} · ${formatTimestampTitle(e.started_at)}`
        },
        {
          id: 'names',
          label: 'binds / reads / del',
          title: e =>
            [
              e.binds.join(', '),
              e.reads.length ? `← ${e.reads.join(', ')}` : '',
              (e.deletes ?? []).length ? `del ${e.deletes.join(', ')}` : ''
            ]
              .filter(Boolean)
              .join(' '),
          render: e => (
            <>
              {[e.binds.join(', '), e.reads.length ? `← ${e.reads.join(', ')}` : '']
                .filter(Boolean)
                .join(' ')}
              {(e.deletes ?? []).length > 0 && (
                <span className="jp-mlinfra-Provenance-del" data-provenance-del="">
                  {' '}
                  del {e.deletes.join(', ')}
                </span>
              )}
            </>
          )
        }
      ]}
    />
  );
}

/** The kernel has recorded nothing yet: the panel shows the log saved in the notebook. */
function SavedLogNotice(props: { view: ProvenanceView }): JSX.Element {
  const { view } = props;
  const dropped = (view.log?.dropped ?? null) as {
    executions?: number;
    sessions?: number;
  } | null;
  return (
    <p className="jp-mlinfra-Provenance-saved" data-provenance-source="saved">
      <strong>
        Saved log from {view.saved_at ? formatTimestamp(view.saved_at) : 'an unknown date'} on{' '}
        {view.machine ?? 'an unknown machine'}
      </strong>
      : this kernel has recorded nothing yet, so the findings below come from the execution log
      saved in the notebook.
      {dropped && (dropped.executions ?? 0) > 0
        ? ` Earlier sessions were compacted when saving: ${dropped.executions} execution${
            dropped.executions === 1 ? '' : 's'
          } not kept (${dropped.sessions ?? 0} whole session${dropped.sessions === 1 ? '' : 's'}).`
        : ''}
    </p>
  );
}

/** The active cell of a notebook, followed as the user moves. */
function useActiveCell(panel: NotebookPanel): { id: string | null; index: number } {
  const read = () => ({
    id: panel.content.activeCell?.model.id ?? null,
    index: panel.content.activeCellIndex
  });
  const [active, setActive] = React.useState(read);
  React.useEffect(() => {
    const onChange = () => setActive(read());
    panel.content.activeCellChanged.connect(onChange);
    onChange();
    return () => {
      panel.content.activeCellChanged.disconnect(onChange);
    };
  }, [panel]);
  return active;
}

/** Reload every open tab of a file that was just written. */
async function reloadOpenTabs(app: TabProps['app'], path: string): Promise<void> {
  for (const widget of app.shell.widgets('main')) {
    const context = (widget as { context?: { path?: string; revert?: () => Promise<void> } })
      .context;
    if (context?.path === path && context.revert) {
      await context.revert();
    }
  }
}
