import * as React from 'react';

import {
  CapabilityStatusView,
  DataTable,
  DataTableColumn,
  ErrorBanner,
  JobLink,
  formatDuration,
  formatTimestamp,
  formatTimestampTitle,
  usePoll
} from '../common';
import { CommandIDs } from '../tokens';
import { JobInfo, RunInfo } from '../types';
import { TabProps } from '../common/tabProps';
import { JobForm } from './jobForm';
import { StateBadge, progressText } from './runState';

const RUNS_POLL_MS = 3000;

/**
 * The Jobs tab: make a job (or a run) from the open notebook with a form typed from its
 * parameters cell and a schedule picker showing the next fire times; the job and run lists
 * refresh by themselves; a run or a job opens its own page in the main area.
 */
export function JobsTab(props: TabProps): JSX.Element {
  const { api, active } = props;
  const [selectedRun, setSelectedRun] = React.useState<string | null>(null);
  const openRun = (id: string) => {
    setSelectedRun(id);
    void props.app.commands.execute(CommandIDs.openRun, { id });
  };
  const [stateFilter, setStateFilter] = React.useState('');
  const jobs = usePoll(() => api.jobs.listJobs(), { active, intervalMs: 10_000 });
  const runs = usePoll(() => api.jobs.listRuns({ limit: 25, state: stateFilter || undefined }), {
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
        Notebooks with a parameters cell, run as jobs: now, on a schedule, after other jobs or as a
        sweep, by papermill.
      </p>
      <CapabilityStatusView name="jobs" health={props.health} />
      <JobForm
        {...props}
        jobs={jobs.data ?? []}
        onChanged={onChanged}
        onRun={openRun}
        onJob={name => void props.app.commands.execute(CommandIDs.openJob, { name })}
      />
      <JobList
        jobs={jobs.data ?? []}
        error={jobs.error}
        onAction={async (name, action) => {
          const result = await api.jobs.jobAction(name, action);
          if (action === 'run') {
            openRun((result as RunInfo).id);
          }
          onChanged();
        }}
      />
      <section className="jp-mlinfra-Section" aria-label="Runs">
        <h3>Runs</h3>
        <div className="jp-mlinfra-Toolbar">
          <label className="jp-mlinfra-Field">
            <span>State</span>
            <select
              value={stateFilter}
              onChange={e => setStateFilter(e.target.value)}
              aria-label="Filter runs by state"
            >
              <option value="">all</option>
              {[
                'queued',
                'waiting',
                'running',
                'succeeded',
                'failed',
                'upstream_failed',
                'cancelled',
                'timed_out'
              ].map(s => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <span className="jp-mlinfra-Jobs-muted">
            {runs.data
              ? `${runs.data.items.length} of ${runs.data.total}${runs.data.total_exact ? '' : '+'}`
              : ''}
          </span>
        </div>
        <ErrorBanner error={runs.error} context="Could not load runs" onRetry={runs.refresh} />
        <DataTable<RunInfo>
          label="Runs"
          columns={runColumns}
          rows={runs.data?.items ?? []}
          rowKey={r => r.id}
          emptyText={runs.loading && !runs.data ? 'Loading…' : 'No runs yet.'}
          onRowClick={r => openRun(r.id)}
          selectedKey={selectedRun}
        />
      </section>
    </div>
  );
}

const runColumns: DataTableColumn<RunInfo>[] = [
  {
    id: 'state',
    label: 'State',
    render: r => <StateBadge run={r} />,
    sortValue: r => r.state,
    width: '6.5em'
  },
  {
    id: 'what',
    label: 'Job / notebook',
    render: r => (
      <>
        <span className="jp-mlinfra-Line">{r.job_name ?? r.notebook}</span>
        {r.job_name && <span className="jp-mlinfra-Line jp-mlinfra-Jobs-muted">{r.notebook}</span>}
      </>
    ),
    title: r => [r.job_name, r.notebook, `${r.id} (${r.trigger})`].filter(Boolean).join('\n')
  },
  { id: 'progress', label: 'Cells', render: progressText, align: 'right', secondary: true },
  {
    id: 'created',
    label: 'Created',
    render: r => formatTimestamp(r.created_at),
    title: r => formatTimestampTitle(r.created_at),
    sortValue: r => r.created_at,
    width: '6.5em'
  },
  {
    id: 'duration',
    label: 'Took',
    render: r => formatDuration(r.duration),
    align: 'right',
    sortValue: r => r.duration,
    secondary: true
  }
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
        <>
          <span className="jp-mlinfra-Line">
            <JobLink name={j.name} />
          </span>
          <span className="jp-mlinfra-Line jp-mlinfra-Jobs-muted">{j.notebook}</span>
          {j.depends_on.length > 0 && (
            <span className="jp-mlinfra-Line jp-mlinfra-Jobs-muted">
              after{' '}
              {j.depends_on.map((d, i) => (
                <React.Fragment key={d}>
                  {i > 0 && ', '}
                  <JobLink name={d} />
                </React.Fragment>
              ))}
            </span>
          )}
        </>
      ),
      title: j =>
        [j.name, j.notebook, j.depends_on.length ? `after ${j.depends_on.join(', ')}` : '']
          .filter(Boolean)
          .join('\n')
    },
    {
      id: 'schedule',
      label: 'Next',
      width: '6.5em',
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
      width: '7.5em',
      render: j => (
        <span className="jp-mlinfra-Jobs-actions">
          <button
            className="jp-mlinfra-LinkButton"
            onClick={e => {
              e.stopPropagation();
              act(j.name, 'run');
            }}
            aria-label={`Run ${j.name} now`}
          >
            Run
          </button>
          <button
            className="jp-mlinfra-LinkButton"
            onClick={e => {
              e.stopPropagation();
              act(j.name, j.active ? 'pause' : 'resume');
            }}
          >
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
      <DataTable<JobInfo>
        label="Jobs"
        columns={columns}
        rows={props.jobs}
        rowKey={j => j.id}
        emptyText="No jobs defined yet."
      />
    </section>
  );
}
