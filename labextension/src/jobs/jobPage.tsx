/**
 * The main-area page of a job definition: its schedule in words with the next fire times,
 * its dependencies drawn as a graph, its run history, editing in place, run now,
 * pause/resume and delete.
 */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import {
  DataTable,
  DataTableColumn,
  ErrorBanner,
  JobLink,
  KeyValueTable,
  NotebookLink,
  RunLink,
  formatDuration,
  formatTimestamp,
  formatTimestampTitle,
  usePoll
} from '../common';
import { PageProps } from '../shell/pages';
import { CommandIDs } from '../tokens';
import type { RunInfo } from '../types';
import { formatFireTime } from './fireTimes';
import { cronInWords } from './jobForm';
import { StateBadge, progressText } from './runState';

const historyColumns: DataTableColumn<RunInfo>[] = [
  { id: 'state', label: 'State', render: r => <StateBadge run={r} />, sortValue: r => r.state },
  { id: 'run', label: 'Run', render: r => <RunLink id={r.id} /> },
  { id: 'trigger', label: 'Trigger', render: r => r.trigger },
  { id: 'progress', label: 'Cells', render: progressText, align: 'right' },
  {
    id: 'created',
    label: 'Created',
    render: r => formatTimestamp(r.created_at),
    title: r => formatTimestampTitle(r.created_at),
    sortValue: r => r.created_at
  },
  {
    id: 'duration',
    label: 'Took',
    render: r => formatDuration(r.duration),
    align: 'right',
    sortValue: r => r.duration
  }
];

/** The page of one job definition: `mlinfra:open-job {name}`. */
export function JobPage(props: PageProps): JSX.Element {
  const { api, app, active } = props;
  const name = String(props.args.name);
  const job = usePoll(() => api.jobs.getJob(name), { active, deps: [name] });
  const runs = usePoll(() => api.jobs.listRuns({ job: name, limit: 25 }), {
    active,
    intervalMs: 3000,
    deps: [name]
  });
  const [error, setError] = React.useState<Error | null>(null);
  const info = job.data;

  const act = async (action: 'run' | 'pause' | 'resume') => {
    setError(null);
    try {
      const result = await api.jobs.jobAction(name, action);
      if (action === 'run') {
        await app.commands.execute(CommandIDs.openRun, { id: (result as RunInfo).id });
      }
      void job.refresh();
      void runs.refresh();
    } catch (e) {
      setError(e as Error);
    }
  };
  const remove = async () => {
    const answer = await showDialog({
      title: `Delete job ${name}?`,
      body: 'Its schedule stops; its past runs stay listed.',
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await api.jobs.deleteJob(name);
      props.close();
    } catch (e) {
      setError(e as Error);
    }
  };

  return (
    <div className="jp-mlinfra-PageBody" aria-label={`Job ${name}`} data-job={name}>
      <header className="jp-mlinfra-PageHeader">
        <h1>
          Job <span className="jp-mlinfra-Name">{name}</span>
        </h1>
        {info && (
          <div className="jp-mlinfra-Toolbar">
            <span
              className={`jp-mlinfra-Badge ${info.active ? 'jp-mlinfra-Badge-ok' : 'jp-mlinfra-Badge-off'}`}
            >
              {info.active ? 'active' : 'paused'}
            </span>
            <button className="jp-mlinfra-Button jp-mod-accept" onClick={() => void act('run')}>
              Run now
            </button>
            <button
              className="jp-mlinfra-Button"
              onClick={() => void act(info.active ? 'pause' : 'resume')}
            >
              {info.active ? 'Pause' : 'Resume'}
            </button>
            <button className="jp-mlinfra-Button" onClick={() => void remove()}>
              Delete
            </button>
          </div>
        )}
      </header>
      <ErrorBanner error={job.error ?? error} context="Job" />
      {info && (
        <div className="jp-mlinfra-PageGrid">
          <section className="jp-mlinfra-Section" aria-label="Definition">
            <h2>Definition</h2>
            {info.description && <p className="jp-mlinfra-Description">{info.description}</p>}
            <KeyValueTable
              label="Job"
              entries={[
                ['notebook', <NotebookLink key="nb" path={info.notebook} />],
                ['owner', info.owner],
                ['retries', String(info.retries)],
                ['timeout', info.timeout ? `${info.timeout} s` : '—'],
                ['priority', String(info.priority)],
                ['tags', info.tags.length ? info.tags.join(', ') : '—'],
                ['created', formatTimestamp(info.created_at)]
              ]}
            />
            <h2>Parameters</h2>
            {Object.keys(info.parameters).length ? (
              <KeyValueTable label="Parameters" entries={Object.entries(info.parameters)} />
            ) : (
              <p className="jp-mlinfra-Empty">No parameters.</p>
            )}
          </section>
          <section className="jp-mlinfra-Section" aria-label="Schedule">
            <h2>Schedule</h2>
            {info.schedule ? (
              <>
                <p aria-label="Schedule in words">
                  {cronInWords(info.schedule) ?? info.schedule} ({info.timezone}){' '}
                  <code className="jp-mlinfra-Muted">{info.schedule}</code>
                </p>
                {info.active ? (
                  <ol className="jp-mlinfra-Jobs-fireTimes" aria-label="Next fire times">
                    {info.next_fire_times.map(t => (
                      <li key={t}>{formatFireTime(t, info.timezone)}</li>
                    ))}
                  </ol>
                ) : (
                  <p className="jp-mlinfra-Empty">Paused: no run is scheduled.</p>
                )}
              </>
            ) : (
              <p className="jp-mlinfra-Empty">On demand (no schedule).</p>
            )}
            <h2>Runs after</h2>
            {info.depends_on.length ? (
              <ul aria-label="Depends on">
                {info.depends_on.map(d => (
                  <li key={d}>
                    <JobLink name={d} />
                  </li>
                ))}
              </ul>
            ) : (
              <p className="jp-mlinfra-Empty">No other job.</p>
            )}
          </section>
        </div>
      )}
      <section className="jp-mlinfra-Section" aria-label="Run history">
        <h2>
          Runs
          {runs.data ? ` (${runs.data.total}${runs.data.total_exact === false ? '+' : ''})` : ''}
        </h2>
        <ErrorBanner error={runs.error} context="Could not load runs" onRetry={runs.refresh} />
        <DataTable<RunInfo>
          label="Run history"
          columns={historyColumns}
          rows={runs.data?.items ?? []}
          rowKey={r => r.id}
          emptyText={runs.loading && !runs.data ? 'Loading…' : 'No runs yet.'}
          onRowClick={r => void app.commands.execute(CommandIDs.openRun, { id: r.id })}
        />
      </section>
    </div>
  );
}

