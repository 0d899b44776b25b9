/**
 * The main-area pages of notebook jobs: a run (state, progress, parameters, metrics, live log,
 * output, the error with its cell) and a job definition (schedule in words with the next fire
 * times, dependencies, run history, run now, pause/resume, delete).
 */

import * as React from 'react';

import {
  ErrorBanner,
  JobLink,
  askName,
  KeyValueTable,
  NotebookLink,
  VegaLiteChart,
  metricDomain,
  formatDuration,
  formatTimestamp,
  usePoll
} from '../common';
import { ArtifactPreviews, type ArtifactSource } from '../common/artifactPreview';
import { PageDefinition, PageProps } from '../shell/pages';
import { CommandIDs } from '../tokens';
import type { JSONValue, RunError, RunInfo, RunLogChunk } from '../types';
import { JobForm } from './jobForm';
import { JobPage } from './jobPage';
import {
  FailedCell,
  NotebookDocument,
  OutputNotebook,
  failedCellIndex,
  scrollToCell,
  useEditorLanguages,
  useRenderMime
} from './outputNotebook';
import { StateBadge, isFinal, isStartingKernel, progressText } from './runState';

const RUN_POLL_MS = 1500;

/** The page of one run: `mlinfra:open-run {id}`. */
export function RunPage(props: PageProps): JSX.Element {
  const { api, app, active } = props;
  const id = String(props.args.id);
  const run = usePoll(() => api.jobs.getRun(id), {
    active,
    intervalMs: RUN_POLL_MS,
    deps: [id],
    until: r => isFinal(r.state)
  });
  const [log, setLog] = React.useState<RunLogChunk['lines']>([]);
  const offset = React.useRef(0);
  usePoll(
    async () => {
      const chunk = await api.jobs.runLog(id, offset.current);
      if (chunk.lines.length) {
        offset.current = chunk.next_offset;
        setLog(previous => [...previous, ...chunk.lines]);
      }
      return chunk;
    },
    { active, intervalMs: RUN_POLL_MS, deps: [id], until: chunk => isFinal(chunk.state) }
  );
  const [error, setError] = React.useState<Error | null>(null);
  const artifactSource = React.useMemo<ArtifactSource>(
    () => ({
      url: (name, download) => api.jobs.runArtifactUrl(id, name, download),
      text: (name, limit) => api.jobs.runArtifactText(id, name, limit)
    }),
    [api, id]
  );
  const info = run.data && run.data.id === id ? run.data : null;
  const final = info ? isFinal(info.state) : false;

  // The output notebook: fetched again each time the run reports another executed cell
  // (and once when it ends), through the run's own poll: none once the run has finished.
  const hasOutput =
    info !== null && info.state !== 'queued' && info.state !== 'waiting' && !isStartingKernel(info);
  const output = usePoll(() => api.jobs.runOutput(id) as Promise<NotebookDocument>, {
    active: active && hasOutput,
    intervalMs: 0,
    deps: [id, info?.progress?.executed, info?.state]
  });
  const rendermime = useRenderMime(app);
  const languages = useEditorLanguages(app);
  const notebookRef = React.useRef<HTMLDivElement>(null);
  const failed = info?.error ? failedCellOf(info.error) : null;
  const failedIndex = output.data ? failedCellIndex(output.data.cells ?? [], failed) : -1;

  // The log follows its tail unless the user scrolled up.
  const logRef = React.useRef<HTMLPreElement>(null);
  const following = React.useRef(true);
  React.useEffect(() => {
    const node = logRef.current;
    if (node && following.current) {
      node.scrollTop = node.scrollHeight;
    }
  }, [log]);

  const act = async (action: 'cancel' | 'retry') => {
    setError(null);
    try {
      const result = await api.jobs.runAction(id, action);
      if (action === 'retry') {
        await app.commands.execute(CommandIDs.openRun, { id: result.id });
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
      const nb = await api.jobs.runOutput(id);
      const contents = app.serviceManager.contents;
      const folder = 'mlinfra-runs';
      try {
        await contents.get(folder, { content: false });
      } catch {
        await contents.save(folder, { type: 'directory' });
      }
      const path = `${folder}/${outputName(info, id)}`;
      await contents.save(path, { type: 'notebook', format: 'json', content: nb });
      await app.commands.execute('docmanager:open', { path });
    } catch (e) {
      setError(e as Error);
    }
  };

  const progress = info?.progress ?? {};
  return (
    <div className="jp-mlinfra-PageBody" aria-label={`Run ${id}`} data-run={id}>
      <header className="jp-mlinfra-PageHeader">
        <h1>
          Run <code>{id.slice(0, 8)}</code>
          {info?.job_name && (
            <>
              {' '}
              of <JobLink name={info.job_name} />
            </>
          )}
        </h1>
        {info && (
          <div className="jp-mlinfra-Toolbar">
            <StateBadge run={info} />
            {progress.code_cells ? (
              <progress
                className="jp-mlinfra-Jobs-progress"
                max={progress.code_cells}
                value={progress.executed ?? 0}
                aria-label="Cell progress"
              />
            ) : null}
            <span className="jp-mlinfra-Muted">
              {progressText(info) && `cell ${progressText(info)}`}
            </span>
            {!final && (
              <button
                className="jp-mlinfra-Button"
                onClick={() => void act('cancel')}
                disabled={info.cancel_requested}
              >
                {info.cancel_requested ? 'Cancelling…' : 'Cancel'}
              </button>
            )}
            {final && (
              <button
                className="jp-mlinfra-Button"
                onClick={() => void act('retry')}
                title="Run the same notebook with the same parameters again"
              >
                Run again
              </button>
            )}
            {info.state !== 'queued' && info.state !== 'waiting' && !isStartingKernel(info) && (
              <>
                <button className="jp-mlinfra-Button" onClick={() => void openOutput()}>
                  Open output notebook
                </button>
                <a
                  className="jp-mlinfra-Button"
                  href={api.client.url('runs', id, 'output') + '?format=ipynb'}
                  download={outputName(info, id)}
                >
                  Download .ipynb
                </a>
                <a
                  className="jp-mlinfra-Button"
                  href={api.client.url('runs', id, 'output') + '?format=html'}
                  download={outputName(info, id).replace(/\.ipynb$/, '.html')}
                >
                  Download HTML
                </a>
              </>
            )}
          </div>
        )}
      </header>
      <ErrorBanner error={run.error ?? error} context="Run" />
      {!info ? (
        !run.error && <p className="jp-mlinfra-Empty">Loading…</p>
      ) : (
        <>
          {info.error && info.state !== 'cancelled' && (
            <RunErrorView
              error={info.error}
              cellLabel={failedCellLabel(info.error, output.data, failedIndex)}
              onShowCell={
                failedIndex >= 0 ? () => scrollToCell(notebookRef.current, failedIndex) : null
              }
            />
          )}
          {info.state === 'cancelled' && (
            <p className="jp-mlinfra-Muted" role="status">
              Cancelled{info.finished_at ? ` ${formatTimestamp(info.finished_at)}` : ''}.
            </p>
          )}
          <div className="jp-mlinfra-PageGrid">
            <section className="jp-mlinfra-Section" aria-label="Run facts">
              <h2>Details</h2>
              <KeyValueTable
                label="Run"
                entries={[
                  ['notebook', <NotebookLink key="nb" path={info.notebook} />],
                  ['job', info.job_name ? <JobLink key="job" name={info.job_name} /> : '—'],
                  ['trigger', info.trigger],
                  ['attempt', `${info.attempt} of ${info.max_attempts ?? info.retries + 1}`],
                  ['owner', info.owner],
                  ['worker', info.worker ?? '—'],
                  ['created', formatTimestamp(info.created_at)],
                  ['started', formatTimestamp(info.started_at)],
                  ['duration', formatDuration(info.duration)],
                  ['python', String(info.environment?.python ?? '—')]
                ]}
              />
              <h2>Parameters</h2>
              {Object.keys(info.parameters).length ? (
                <KeyValueTable
                  label="Parameters"

                  entries={Object.entries(info.parameters).map(
                    ([k, v]) => [k, v] as [string, JSONValue]
                  )}
                />
              ) : (
                <p className="jp-mlinfra-Empty">No parameters.</p>
              )}
              <h2>Metrics</h2>
              <MetricCharts run={info} />
              {Object.keys(info.metrics).length ? (
                <KeyValueTable
                  label="Metrics"

                  entries={Object.entries(info.metrics).map(([k, v]) => [
                    k,
                    Number(v.toPrecision(6))
                  ])}
                />
              ) : (
                <p className="jp-mlinfra-Empty">No metrics logged (jupyter_mlinfra.log_metric).</p>
              )}
            </section>
            <section className="jp-mlinfra-Section" aria-label="Log">
              <h2>Log</h2>
              <pre
                ref={logRef}
                className="jp-mlinfra-Jobs-log jp-mlinfra-Page-log"
                aria-label="Run log"
                tabIndex={0}
                onScroll={event => {
                  const node = event.currentTarget;
                  following.current = node.scrollHeight - node.scrollTop - node.clientHeight < 24;
                }}
              >
                {log.map(l => l.text).join('\n') ||
                  (isStartingKernel(info) ? 'starting kernel…' : '…')}
              </pre>
            </section>
          </div>
          {(info.artifacts ?? []).length > 0 && (
            <section className="jp-mlinfra-Section" aria-label="Artifacts">
              <h2>Artifacts</h2>
              <ArtifactPreviews
                source={artifactSource}
                artifacts={info.artifacts ?? []}
                label="Run artifacts"
              />
            </section>
          )}
          <section className="jp-mlinfra-Section" aria-label="Output notebook">
            <h2>
              Output notebook
              {!final && hasOutput && (
                <span className="jp-mlinfra-Muted"> (updates as cells complete)</span>
              )}
            </h2>
            {!hasOutput ? (
              <p className="jp-mlinfra-Empty">The output appears once the first cell has run.</p>
            ) : output.data && rendermime ? (
              <OutputNotebook
                notebook={output.data}
                rendermime={rendermime}
                languages={languages}
                failedIndex={failedIndex}
                rootRef={notebookRef}
                label="Output notebook (read-only)"
              />
            ) : output.error && !final ? (
              <p className="jp-mlinfra-Empty">The output appears once the first cell has run.</p>
            ) : (
              <>
                <ErrorBanner error={output.error} context="Could not load the output notebook" />
                {!output.error && <p className="jp-mlinfra-Empty">Loading…</p>}
              </>
            )}
          </section>
        </>
      )}
    </div>
  );
}

/** Where the run failed, for locating the cell in the rendered output. */
function failedCellOf(error: RunError): FailedCell {
  const withCount = error as RunError & { execution_count?: number | null };
  return {
    cellId: error.cell_id,
    executionCount: withCount.execution_count ?? undefined,
    cellIndex: error.cell_index
  };
}

/** "cell 3": the failing cell's prompt number, as the rendered notebook shows it. */
function failedCellLabel(
  error: RunError,
  notebook: NotebookDocument | null,
  index: number
): string | null {
  const cell = index >= 0 ? notebook?.cells?.[index] : undefined;
  const count =
    cell?.execution_count ?? (error as RunError & { execution_count?: number }).execution_count;
  if (count !== undefined && count !== null) {
    return `cell ${count}`;
  }
  return error.cell_index !== undefined ? `cell ${error.cell_index}` : null;
}

const ANSI = new RegExp(String.fromCharCode(27) + '\\[[0-9;?]*[A-Za-z]', 'g');

/** The error: type and message, the link to its cell, the traceback (ANSI codes removed). */
function RunErrorView(p: {
  error: RunError;
  cellLabel: string | null;
  onShowCell: (() => void) | null;
}): JSX.Element {
  const { error } = p;
  const traceback = (error.traceback ?? '').replace(ANSI, '').trim();
  return (
    <div className="jp-mlinfra-Jobs-error jp-mlinfra-RunError" role="alert" aria-label="Run error">
      <div className="jp-mlinfra-RunError-head">
        <strong data-field="ename">{error.type}</strong>:{' '}
        <span data-field="evalue">{error.message}</span>
        {p.cellLabel &&
          (p.onShowCell ? (
            <>
              {' '}
              in{' '}
              <button
                type="button"
                className="jp-mlinfra-LinkButton"
                onClick={p.onShowCell}
                title="Show the cell in the output notebook below"
                data-mlinfra-link="failed-cell"
              >
                {p.cellLabel}
              </button>
            </>
          ) : (
            <span className="jp-mlinfra-Muted"> in {p.cellLabel}</span>
          ))}
      </div>
      {traceback ? (
        <pre className="jp-mlinfra-Jobs-cell" aria-label="Traceback" tabIndex={0}>
          {traceback}
        </pre>
      ) : (
        error.cell_source && <pre className="jp-mlinfra-Jobs-cell">{error.cell_source}</pre>
      )}
    </div>
  );
}

/** A chart per metric logged more than once, value over step (names verbatim). */
function MetricCharts(p: { run: RunInfo }): JSX.Element | null {
  const history = p.run.metric_history ?? [];
  const byName = new Map<string, Array<{ step: number; value: number }>>();
  for (const m of history) {
    const points = byName.get(m.name) ?? [];
    points.push({ step: m.step ?? points.length, value: m.value });
    byName.set(m.name, points);
  }
  const series = [...byName.entries()].filter(([, points]) => points.length > 1);
  if (!series.length) {
    return null;
  }
  return (
    <div className="jp-mlinfra-Run-charts">
      {series.map(([name, points]) => (
        <VegaLiteChart
          key={name}
          label={`${name} over steps`}
          height={160}
          data={{ values: points.map(pt => pt.value).join(',') }}
          spec={{
            data: { values: points },
            layer: [{ mark: 'line' }, { mark: { type: 'point', tooltip: true } }],
            encoding: {
              x: {
                field: 'step',
                type: 'quantitative',
                title: 'step',
                scale: { nice: false, zero: false, padding: 12 },
                axis: stepAxis(points.map(pt => pt.step))
              },
              y: {
                field: 'value',
                type: 'quantitative',
                title: name,
                scale: { domain: metricDomain(points.map(pt => pt.value)), zero: false }
              },
              tooltip: [
                { field: 'step', title: 'step' },
                { field: 'value', title: name, format: '.4~g' }
              ]
            }
          }}
        />
      ))}
    </div>
  );
}

/** Steps are whole numbers: ticks on whole steps only, labelled without decimals. */
export function stepAxis(steps: number[]): { [key: string]: unknown } {
  const whole = [...new Set(steps.map(Math.round))].sort((a, b) => a - b);
  if (whole.length <= 12) {
    return { values: whole, format: 'd', tickMinStep: 1, grid: true };
  }
  return { format: 'd', tickMinStep: 1, tickCount: 10 };
}

function outputName(info: RunInfo | null, id: string): string {
  const base = (
    info?.job_name ??
    info?.notebook
      .split('/')
      .pop()
      ?.replace(/\.ipynb$/, '') ??
    'run'
  ).replace(/[^A-Za-z0-9_.-]/g, '_');
  return `${base}-${id.slice(0, 8)}.ipynb`;
}

/** "Run / schedule as job": the job form for one notebook (`mlinfra:create-job {path}`). */
export function NewJobPage(props: PageProps): JSX.Element {
  const { api, app, active } = props;
  const path = String(props.args.path);
  const jobs = usePoll(() => api.jobs.listJobs(), { active, intervalMs: 0 });
  return (
    <div className="jp-mlinfra-PageBody jp-mlinfra-Jobs" aria-label={`New job from ${path}`}>
      <header className="jp-mlinfra-PageHeader">
        <h1>
          Run / schedule <NotebookLink path={path} />
        </h1>
      </header>
      <JobForm
        api={api}
        path={path}
        notebookTracker={props.notebookTracker}
        jobs={jobs.data ?? []}
        heading="Parameters and schedule"
        onChanged={() => void jobs.refresh()}
        onRun={id => void app.commands.execute(CommandIDs.openRun, { id })}
        onJob={name => void app.commands.execute(CommandIDs.openJob, { name })}
      />
    </div>
  );
}

export const JOB_PAGES: PageDefinition[] = [
  {
    kind: 'run',
    command: CommandIDs.openRun,
    label: 'Open Run',
    key: args => String(args.id),
    title: args => `Run ${String(args.id).slice(0, 8)}`,
    valid: args => typeof args.id === 'string' && /^[0-9a-f]{32}$/.test(args.id),
    prompt: async api => {
      const id = await askName('Open run (id)', async () =>
        (await api.jobs.listRuns({ limit: 50 })).items.map(r => r.id)
      );
      return id ? { id } : null;
    },
    render: props => <RunPage {...props} />
  },
  {
    kind: 'job',
    command: CommandIDs.openJob,
    label: 'Open Job',
    key: args => String(args.name),
    title: args => `Job ${String(args.name)}`,
    valid: args => typeof args.name === 'string' && args.name !== '',
    prompt: async api => {
      const name = await askName('Open job', async () =>
        (await api.jobs.listJobs()).map(j => j.name)
      );
      return name ? { name } : null;
    },
    render: props => <JobPage {...props} />
  },
  {
    kind: 'new-job',
    command: CommandIDs.createJob,
    label: 'Run / schedule as job',
    resolve: (args, context) =>
      typeof args.path === 'string'
        ? args
        : { ...args, path: context.notebookTracker?.currentWidget?.context.path ?? '' },
    key: args => String(args.path),
    title: args => `Job from ${String(args.path).split('/').pop()}`,
    valid: args => typeof args.path === 'string' && args.path.endsWith('.ipynb'),
    render: props => <NewJobPage {...props} />
  }
];
