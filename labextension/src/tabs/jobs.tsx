import * as React from 'react';

import {
  CapabilityStatusView,
  DataTable,
  DataTableColumn,
  ErrorBanner,
  KeyValueTable,
  formatDuration,
  formatTimestamp,
  formatTimestampTitle,
  formatValue,
  usePoll
} from '../components/common';
import {
  JSONValue,
  JobInfo,
  NotebookParameter,
  RunInfo,
  RunLogChunk,
  RunState,
  SchedulePreview
} from '../tokens';
import { TabProps } from './tabProps';

const FINAL: RunState[] = ['succeeded', 'failed', 'upstream_failed', 'cancelled', 'timed_out'];
const RUNS_POLL_MS = 3000;

function stateBadge(state: RunState): JSX.Element {
  const kind =
    state === 'succeeded'
      ? 'ok'
      : state === 'running' || state === 'queued' || state === 'waiting'
        ? 'warn'
        : state === 'cancelled'
          ? 'off'
          : 'error';
  return (
    <span className={`jp-mlinfra-Badge jp-mlinfra-Badge-${kind}`} data-state={state}>
      {state.replace('_', ' ')}
    </span>
  );
}

function progressText(run: RunInfo): string {
  const p = run.progress || {};
  return p.code_cells ? `${p.executed ?? 0}/${p.code_cells}` : '';
}

/** The value a form field shows for a parameter's default literal (`'a'` -> `a`). */
function defaultText(p: NotebookParameter): string {
  const raw = (p.default ?? '').trim();
  if (p.inferred_type_name === 'str' && /^(['"]).*\1$/s.test(raw)) {
    return raw.slice(1, -1);
  }
  return raw;
}

/** A form value converted to the parameter's type, as papermill would inject it. */
function typedValue(p: NotebookParameter, text: string): JSONValue {
  switch (p.inferred_type_name) {
    case 'int':
      return Number.parseInt(text, 10);
    case 'float':
      return Number.parseFloat(text);
    case 'bool':
      return text === 'True' || text === 'true';
    case 'str':
      return text;
    default:
      try {
        return JSON.parse(text) as JSONValue;
      } catch {
        return text;
      }
  }
}

function localTimezone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/**
 * The Jobs tab: make a job (or a run) from the open notebook with a form typed from its
 * parameters cell and a schedule picker showing the next fire times; the job and run lists
 * refresh by themselves; a run's detail shows its state, cell progress, metrics and log, with
 * cancel, retry and "open output".
 */
export function JobsTab(props: TabProps): JSX.Element {
  const { api, active } = props;
  const [selectedRun, setSelectedRun] = React.useState<string | null>(null);
  const [stateFilter, setStateFilter] = React.useState('');
  const jobs = usePoll(() => api.listJobs(), { active, intervalMs: 10_000 });
  const runs = usePoll(() => api.listRuns({ limit: 25, state: stateFilter || undefined }), {
    active,
    intervalMs: RUNS_POLL_MS,
    deps: [stateFilter]
  });

  const onChanged = () => {
    void jobs.refresh();
    void runs.refresh();
  };

  return (
    <div className="jp-mlinfra-Tab-body jp-mlinfra-Jobs">
      <p className="jp-mlinfra-Tab-intro">
        Notebooks with a parameters cell, run as jobs: now, on a schedule, after other jobs or
        as a sweep, by papermill.
      </p>
      <CapabilityStatusView name="jobs" health={props.health} />
      <JobForm {...props} jobs={jobs.data?.jobs ?? []} onChanged={onChanged} onRun={setSelectedRun} />
      <JobList
        jobs={jobs.data?.jobs ?? []}
        error={jobs.error}
        onAction={async (name, action) => {
          const result = await api.jobAction(name, action);
          if (action === 'run') {
            setSelectedRun((result as RunInfo).id);
          }
          onChanged();
        }}
      />
      <section className="jp-mlinfra-Section" aria-label="Runs">
        <h3>Runs</h3>
        <div className="jp-mlinfra-Toolbar">
          <label className="jp-mlinfra-Field">
            <span>State</span>
            <select value={stateFilter} onChange={e => setStateFilter(e.target.value)} aria-label="Filter runs by state">
              <option value="">all</option>
              {['queued', 'waiting', 'running', 'succeeded', 'failed', 'upstream_failed', 'cancelled', 'timed_out'].map(s => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <span className="jp-mlinfra-Jobs-muted">
            {runs.data ? `${runs.data.items.length} of ${runs.data.total}${runs.data.total_exact ? '' : '+'}` : ''}
          </span>
        </div>
        <ErrorBanner error={runs.error} context="Could not load runs" onRetry={runs.refresh} />
        <DataTable<RunInfo>
          label="Runs"
          columns={runColumns}
          rows={runs.data?.items ?? []}
          rowKey={r => r.id}
          emptyText={runs.loading && !runs.data ? 'Loading…' : 'No runs yet.'}
          onRowClick={r => setSelectedRun(r.id)}
          selectedKey={selectedRun}
        />
      </section>
      {selectedRun && (
        <RunDetail {...props} runId={selectedRun} onClose={() => setSelectedRun(null)} onChanged={onChanged} onSelect={setSelectedRun} />
      )}
    </div>
  );
}

const runColumns: DataTableColumn<RunInfo>[] = [
  { id: 'state', label: 'State', render: r => stateBadge(r.state), sortValue: r => r.state },
  {
    id: 'what',
    label: 'Job / notebook',
    render: r => (
      <span className="jp-mlinfra-Jobs-line">
        {r.job_name ?? r.notebook}
        {r.job_name && <span className="jp-mlinfra-Jobs-muted"> {r.notebook}</span>}
      </span>
    ),
    title: r => `${r.id} (${r.trigger})`
  },
  { id: 'progress', label: 'Cells', render: progressText, align: 'right' },
  {
    id: 'created',
    label: 'Created',
    render: r => formatTimestamp(r.created_at),
    title: r => formatTimestampTitle(r.created_at),
    sortValue: r => r.created_at
  },
  { id: 'duration', label: 'Took', render: r => formatDuration(r.duration), align: 'right', sortValue: r => r.duration }
];

function JobList(props: {
  jobs: JobInfo[];
  error: Error | null;
  onAction: (name: string, action: 'run' | 'pause' | 'resume') => Promise<void>;
}): JSX.Element {
  const [error, setError] = React.useState<Error | null>(null);
  const act = (name: string, action: 'run' | 'pause' | 'resume') => {
    setError(null);
    props.onAction(name, action).catch(setError);
  };
  const columns: DataTableColumn<JobInfo>[] = [
    {
      id: 'name',
      label: 'Job',
      render: j => (
        <span className="jp-mlinfra-Jobs-line">
          {j.name}
          <span className="jp-mlinfra-Jobs-muted"> {j.notebook}</span>
          {j.depends_on.length > 0 && <span className="jp-mlinfra-Jobs-muted"> after {j.depends_on.join(', ')}</span>}
        </span>
      )
    },
    {
      id: 'schedule',
      label: 'Next',
      render: j =>
        j.schedule ? (
          <span title={`${j.schedule} (${j.timezone})`}>
            {j.active ? formatTimestamp(j.next_fire_times[0]) : 'paused'}
          </span>
        ) : (
          <span className="jp-mlinfra-Jobs-muted">{j.active ? 'on demand' : 'paused'}</span>
        )
    },
    {
      id: 'actions',
      label: '',
      render: j => (
        <span className="jp-mlinfra-Jobs-actions">
          <button className="jp-mlinfra-LinkButton" onClick={e => { e.stopPropagation(); act(j.name, 'run'); }} aria-label={`Run ${j.name} now`}>
            Run
          </button>
          <button className="jp-mlinfra-LinkButton" onClick={e => { e.stopPropagation(); act(j.name, j.active ? 'pause' : 'resume'); }}>
            {j.active ? 'Pause' : 'Resume'}
          </button>
        </span>
      )
    }
  ];
  return (
    <section className="jp-mlinfra-Section" aria-label="Jobs">
      <h3>Jobs</h3>
      <ErrorBanner error={props.error ?? error} context="Jobs" />
      <DataTable<JobInfo> label="Jobs" columns={columns} rows={props.jobs} rowKey={j => j.id} emptyText="No jobs defined yet." />
    </section>
  );
}

function JobForm(
  props: TabProps & { jobs: JobInfo[]; onChanged: () => void; onRun: (id: string) => void }
): JSX.Element {
  const { api, notebookTracker } = props;
  const [path, setPath] = React.useState<string | null>(notebookTracker?.currentWidget?.context.path ?? null);
  const [params, setParams] = React.useState<NotebookParameter[] | null>(null);
  const [hasCell, setHasCell] = React.useState(true);
  const [values, setValues] = React.useState<{ [name: string]: string }>({});
  const [name, setName] = React.useState('');
  const [schedule, setSchedule] = React.useState('');
  const [timezone, setTimezone] = React.useState(localTimezone());
  const [preview, setPreview] = React.useState<SchedulePreview | null>(null);
  const [previewError, setPreviewError] = React.useState<Error | null>(null);
  const [dependsOn, setDependsOn] = React.useState<string[]>([]);
  const [retries, setRetries] = React.useState('0');
  const [timeout, setTimeoutText] = React.useState('');
  const [error, setError] = React.useState<Error | null>(null);
  const [message, setMessage] = React.useState('');

  React.useEffect(() => {
    if (!notebookTracker) {
      return;
    }
    const update = () => setPath(notebookTracker.currentWidget?.context.path ?? null);
    notebookTracker.currentChanged.connect(update);
    return () => {
      notebookTracker.currentChanged.disconnect(update);
    };
  }, [notebookTracker]);

  React.useEffect(() => {
    setParams(null);
    setError(null);
    setMessage('');
    if (!path) {
      return;
    }
    setName(path.split('/').pop()!.replace(/\.ipynb$/, ''));
    api
      .notebookParameters(path)
      .then(info => {
        setParams(info.parameters);
        setHasCell(info.has_parameters_cell);
        setValues(Object.fromEntries(info.parameters.map(p => [p.name, defaultText(p)])));
      })
      .catch(setError);
  }, [path]);

  React.useEffect(() => {
    setPreview(null);
    setPreviewError(null);
    if (!schedule.trim()) {
      return;
    }
    const timer = window.setTimeout(() => {
      api.schedulePreview(schedule.trim(), timezone).then(setPreview).catch(setPreviewError);
    }, 350);
    return () => window.clearTimeout(timer);
  }, [schedule, timezone]);

  const parameters = () =>
    Object.fromEntries((params ?? []).map(p => [p.name, typedValue(p, values[p.name] ?? '')]));

  const runNow = async () => {
    setError(null);
    setMessage('');
    try {
      const run = await api.submitRun(path!, parameters());
      setMessage(`Run ${run.id.slice(0, 8)} queued.`);
      props.onRun(run.id);
      props.onChanged();
    } catch (e) {
      setError(e as Error);
    }
  };

  const createJob = async () => {
    setError(null);
    setMessage('');
    try {
      const job = await api.createJob({
        name,
        notebook: path!,
        parameters: parameters(),
        schedule: schedule.trim() || null,
        timezone,
        depends_on: dependsOn,
        retries: Number.parseInt(retries || '0', 10),
        timeout: timeout ? Number.parseFloat(timeout) : null
      });
      setMessage(`Job ${job.name} created${job.schedule ? `; next run ${formatTimestamp(job.next_fire_times[0])}` : ''}.`);
      props.onChanged();
    } catch (e) {
      setError(e as Error);
    }
  };

  return (
    <section className="jp-mlinfra-Section jp-mlinfra-Jobs-form" aria-label="New job">
      <h3>New job from the open notebook</h3>
      {!path ? (
        <p className="jp-mlinfra-Empty">Open a notebook to make it a job.</p>
      ) : (
        <form
          onSubmit={e => {
            e.preventDefault();
            void createJob();
          }}
        >
          <p className="jp-mlinfra-Jobs-muted">{path}</p>
          <label className="jp-mlinfra-Field">
            <span>Name</span>
            <input value={name} onChange={e => setName(e.target.value)} aria-label="Job name" />
          </label>
          <fieldset className="jp-mlinfra-Jobs-params">
            <legend>Parameters</legend>
            {params === null && !error && <p className="jp-mlinfra-Empty">Reading the parameters cell…</p>}
            {params !== null && !hasCell && <p className="jp-mlinfra-Empty">This notebook has no cell tagged “parameters”.</p>}
            {(params ?? []).map(p => (
              <label className="jp-mlinfra-Field" key={p.name} data-parameter={p.name}>
                <span>
                  {p.name} <span className="jp-mlinfra-Jobs-muted">{p.inferred_type_name}</span>
                </span>
                {p.inferred_type_name === 'bool' ? (
                  <input
                    type="checkbox"
                    checked={values[p.name] === 'True' || values[p.name] === 'true'}
                    onChange={e => setValues({ ...values, [p.name]: e.target.checked ? 'True' : 'False' })}
                    aria-label={`Parameter ${p.name}`}
                  />
                ) : (
                  <input
                    type={p.inferred_type_name === 'int' || p.inferred_type_name === 'float' ? 'number' : 'text'}
                    step={p.inferred_type_name === 'float' ? 'any' : undefined}
                    value={values[p.name] ?? ''}
                    title={p.help || `default ${p.default}`}
                    onChange={e => setValues({ ...values, [p.name]: e.target.value })}
                    aria-label={`Parameter ${p.name}`}
                  />
                )}
              </label>
            ))}
          </fieldset>
          <fieldset className="jp-mlinfra-Jobs-schedule">
            <legend>Schedule</legend>
            <label className="jp-mlinfra-Field">
              <span>Cron</span>
              <input placeholder="e.g. 0 6 * * 1-5 (empty: on demand)" value={schedule} onChange={e => setSchedule(e.target.value)} aria-label="Cron schedule" />
            </label>
            <label className="jp-mlinfra-Field">
              <span>Time zone</span>
              <input value={timezone} onChange={e => setTimezone(e.target.value)} aria-label="Time zone" list="jp-mlinfra-timezones" />
            </label>
            <div className="jp-mlinfra-Jobs-presets">
              {[
                ['hourly', '0 * * * *'],
                ['daily 06:00', '0 6 * * *'],
                ['weekdays 06:00', '0 6 * * 1-5'],
                ['weekly', '0 6 * * 1']
              ].map(([label, cron]) => (
                <button type="button" key={label} className="jp-mlinfra-LinkButton" onClick={() => setSchedule(cron)}>
                  {label}
                </button>
              ))}
            </div>
            {previewError && <ErrorBanner error={previewError} context="Schedule" />}
            {preview && (
              <ol className="jp-mlinfra-Jobs-fireTimes" aria-label="Next fire times">
                {preview.next_fire_times_local.map(t => (
                  <li key={t}>{t.replace('T', ' ').slice(0, 16)}</li>
                ))}
              </ol>
            )}
          </fieldset>
          {props.jobs.length > 0 && (
            <fieldset className="jp-mlinfra-Jobs-deps">
              <legend>Runs after</legend>
              {props.jobs.map(j => (
                <label key={j.id} className="jp-mlinfra-Jobs-dep">
                  <input
                    type="checkbox"
                    checked={dependsOn.includes(j.name)}
                    onChange={e => setDependsOn(e.target.checked ? [...dependsOn, j.name] : dependsOn.filter(d => d !== j.name))}
                  />{' '}
                  {j.name}
                </label>
              ))}
            </fieldset>
          )}
          <div className="jp-mlinfra-Toolbar">
            <label className="jp-mlinfra-Field">
              <span>Retries</span>
              <input type="number" min="0" value={retries} onChange={e => setRetries(e.target.value)} aria-label="Retries" />
            </label>
            <label className="jp-mlinfra-Field">
              <span>Timeout (s)</span>
              <input type="number" min="1" value={timeout} onChange={e => setTimeoutText(e.target.value)} aria-label="Timeout" />
            </label>
          </div>
          <ErrorBanner error={error} />
          {message && <p className="jp-mlinfra-Jobs-message" role="status">{message}</p>}
          <div className="jp-mlinfra-Toolbar">
            <button type="button" className="jp-mlinfra-Button" onClick={() => void runNow()}>
              Run now
            </button>
            <button type="submit" className="jp-mlinfra-Button jp-mod-accept">
              Create job
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

function RunDetail(
  props: TabProps & { runId: string; onClose: () => void; onChanged: () => void; onSelect: (id: string) => void }
): JSX.Element {
  const { api, runId, active, app } = props;
  const run = usePoll(() => api.getRun(runId), { active, intervalMs: 1500, deps: [runId] });
  const [log, setLog] = React.useState<RunLogChunk['lines']>([]);
  const [error, setError] = React.useState<Error | null>(null);
  const offset = React.useRef(0);
  const info = run.data && run.data.id === runId ? run.data : null;
  const final = info ? FINAL.includes(info.state) : false;

  React.useEffect(() => {
    setLog([]);
    offset.current = 0;
  }, [runId]);

  // Follow the log stream while the run goes (and once more when it has ended).
  React.useEffect(() => {
    let stopped = false;
    const fetchLog = async () => {
      try {
        const chunk = await api.runLog(runId, offset.current);
        if (!stopped && chunk.lines.length) {
          offset.current = chunk.next_offset;
          setLog(prev => [...prev, ...chunk.lines]);
        }
      } catch {
        /* shown by the run request's error */
      }
    };
    void fetchLog();
    if (!active || final) {
      return () => {
        stopped = true;
      };
    }
    const timer = window.setInterval(() => void fetchLog(), 1500);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [runId, active, final]);

  const act = async (action: 'cancel' | 'retry') => {
    setError(null);
    try {
      const result = await api.runAction(runId, action);
      props.onChanged();
      if (action === 'retry') {
        props.onSelect(result.id);
      } else {
        void run.refresh();
      }
    } catch (e) {
      setError(e as Error);
    }
  };

  const openOutput = async () => {
    setError(null);
    try {
      const nb = await api.runOutput(runId);
      const contents = app.serviceManager.contents;
      const folder = 'mlinfra-runs';
      try {
        await contents.get(folder, { content: false });
      } catch {
        await contents.save(folder, { type: 'directory' });
      }
      const base = (info?.job_name ?? info?.notebook.split('/').pop()?.replace(/\.ipynb$/, '') ?? 'run').replace(/[^A-Za-z0-9_.-]/g, '_');
      const path = `${folder}/${base}-${runId.slice(0, 8)}.ipynb`;
      await contents.save(path, { type: 'notebook', format: 'json', content: nb });
      await app.commands.execute('docmanager:open', { path });
    } catch (e) {
      setError(e as Error);
    }
  };

  const progress = info?.progress ?? {};
  return (
    <section className="jp-mlinfra-Section jp-mlinfra-Jobs-detail" aria-label="Run details">
      <h3>
        Run {runId.slice(0, 8)}{' '}
        <button className="jp-mlinfra-LinkButton" onClick={props.onClose} aria-label="Close run details">
          close
        </button>
      </h3>
      <ErrorBanner error={run.error ?? error} context="Run" />
      {!info ? (
        <p className="jp-mlinfra-Empty">Loading…</p>
      ) : (
        <>
          <div className="jp-mlinfra-Toolbar">
            {stateBadge(info.state)}
            {progress.code_cells ? (
              <progress className="jp-mlinfra-Jobs-progress" max={progress.code_cells} value={progress.executed ?? 0} aria-label="Cell progress" />
            ) : null}
            <span className="jp-mlinfra-Jobs-muted">{progressText(info) && `cell ${progressText(info)}`}</span>
          </div>
          <div className="jp-mlinfra-Toolbar">
            {!final && (
              <button className="jp-mlinfra-Button" onClick={() => void act('cancel')} disabled={info.cancel_requested}>
                {info.cancel_requested ? 'Cancelling…' : 'Cancel'}
              </button>
            )}
            {final && (
              <button className="jp-mlinfra-Button" onClick={() => void act('retry')}>
                Retry
              </button>
            )}
            {info.state !== 'queued' && info.state !== 'waiting' && (
              <button className="jp-mlinfra-Button" onClick={() => void openOutput()}>
                Open output notebook
              </button>
            )}
          </div>
          {info.error && (
            <div className="jp-mlinfra-Jobs-error" role="alert">
              <strong>{info.error.type}</strong>: {info.error.message}
              {info.error.cell_index !== undefined && <span className="jp-mlinfra-Jobs-muted"> (cell {info.error.cell_index})</span>}
              {info.error.cell_source && <pre className="jp-mlinfra-Jobs-cell">{info.error.cell_source}</pre>}
            </div>
          )}
          <KeyValueTable
            label="Run"
            entries={[
              ['notebook', info.notebook],
              ['job', info.job_name ?? '—'],
              ['trigger', info.trigger],
              ['attempt', `${info.attempt} of ${info.retries + 1}`],
              ['parameters', info.parameters as JSONValue],
              ['worker', info.worker ?? '—'],
              ['created', formatTimestamp(info.created_at)],
              ['duration', formatDuration(info.duration)],
              ['python', formatValue((info.environment?.python as JSONValue) ?? null)]
            ]}
          />
          <h4 className="jp-mlinfra-Jobs-subtitle">Metrics</h4>
          {Object.keys(info.metrics).length ? (
            <KeyValueTable label="Metrics" entries={Object.entries(info.metrics).map(([k, v]) => [k, Number(v.toPrecision(6))])} />
          ) : (
            <p className="jp-mlinfra-Empty">No metrics logged (jupyter_mlinfra.log_metric).</p>
          )}
          <h4 className="jp-mlinfra-Jobs-subtitle">Log</h4>
          <pre className="jp-mlinfra-Jobs-log" aria-label="Run log">
            {log.map(l => l.text).join('\n') || '…'}
          </pre>
        </>
      )}
    </section>
  );
}
