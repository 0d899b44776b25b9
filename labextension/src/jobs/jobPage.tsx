/**
 * The main-area page of a job definition: its schedule in words with the next fire times,
 * its dependencies drawn as a graph, its run history, editing in place, run now,
 * pause/resume and delete.
 */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

// its styles (style/jobPage.css: the job graph, the job editor, the model's about box)
import '../../style/jobPage.css';

import {
  DataTable,
  DataTableColumn,
  ErrorBanner,
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
import type { JobInfo, RunInfo } from '../types';
import { formatFireTime } from './fireTimes';
import { JobEditForm } from './jobEdit';
import { JobGraph, dependencyGraph } from './jobGraph';
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
  const jobs = usePoll(() => api.jobs.listJobs(), { active, intervalMs: 15000, deps: [name] });
  const [error, setError] = React.useState<Error | null>(null);
  const [editing, setEditing] = React.useState(false);
  const [saved, setSaved] = React.useState<JobInfo | null>(null);
  // the answer of a save wins over a poll started before it
  const info = saved && saved.name === name ? saved : job.data;
  const graph = React.useMemo(
    () => dependencyGraph(name, jobs.data ?? [], info ?? undefined),
    [name, jobs.data, info]
  );
  const graphKey = graph.nodes.join('\n');
  const lastRuns = usePoll(
    async () => {
      const found = await Promise.all(
        graph.nodes.map(n =>
          api.jobs
            .listRuns({ job: n, limit: 1 })
            .then(page => [n, page.items[0] ?? null] as const)
            .catch(() => [n, null] as const)
        )
      );
      return Object.fromEntries(found) as { [name: string]: RunInfo | null };
    },
    { active, intervalMs: 5000, deps: [graphKey] }
  );

  const confirm = async (title: string, body: string, label: string, warn = false) => {
    const answer = await showDialog({
      title,
      body,
      buttons: [
        Dialog.cancelButton(),
        warn ? Dialog.warnButton({ label }) : Dialog.okButton({ label })
      ]
    });
    return answer.button.accept;
  };

  const act = async (action: 'run' | 'pause' | 'resume') => {
    setError(null);
    if (action === 'pause') {
      if (
        !(await confirm(
          `Pause job ${name}?`,
          'Its schedule stops firing until you resume it; runs already started go on.',
          'Pause'
        ))
      ) {
        return;
      }
    } else if (action === 'resume') {
      if (
        !(await confirm(
          `Resume job ${name}?`,
          'Its schedule fires again from now on (ticks missed while paused are not caught up).',
          'Resume'
        ))
      ) {
        return;
      }
    }
    try {
      const result = await api.jobs.jobAction(name, action);
      if (action === 'run') {
        await app.commands.execute(CommandIDs.openRun, { id: (result as RunInfo).id });
      } else {
        setSaved(result as JobInfo);
      }
      void job.refresh();
      void runs.refresh();
    } catch (e) {
      setError(e as Error);
    }
  };
  const remove = async () => {
    if (
      !(await confirm(
        `Delete job ${name}?`,
        'Its schedule stops; its past runs stay listed.',
        'Delete',
        true
      ))
    ) {
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
            <button
              className="jp-mlinfra-Button"
              onClick={() => setEditing(!editing)}
              aria-expanded={editing}
            >
              {editing ? 'Close editor' : 'Edit'}
            </button>
            <button className="jp-mlinfra-Button" onClick={() => void remove()}>
              Delete
            </button>
          </div>
        )}
      </header>
      <ErrorBanner error={job.error ?? error} context="Job" />
      {info && editing && (
        <JobEditForm
          key={info.name}
          api={api}
          job={info}
          jobs={jobs.data ?? []}
          onSaved={changed => {
            setSaved(changed);
            setEditing(false);
            void job.refresh();
            void jobs.refresh();
          }}
          onCancel={() => setEditing(false)}
        />
      )}
      {info && !editing && (
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
                ['timeout', info.timeout_seconds ? `${info.timeout_seconds} s` : '—'],
                ['priority', String(info.priority)],
                ['visibility', info.visibility],
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
          </section>
        </div>
      )}
      {info && (
        <section className="jp-mlinfra-Section" aria-label="Dependencies">
          <h2>Dependencies</h2>
          <p className="jp-mlinfra-Muted">
            Upstream jobs on the left run before this one; jobs on the right run after it. Each
            shows its last run.
          </p>
          <div className="jp-mlinfra-JobGraph-scroll">
            <JobGraph name={name} graph={graph} lastRuns={lastRuns.data ?? {}} />
          </div>
        </section>
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
