/**
 * The notebook hub: every executed notebook (job runs, reproduce runs) searchable by text in
 * cells and outputs, notebook, job and parameters; each opened read-only as rendered HTML
 * (sandboxed by the server), downloaded as .ipynb, or copied into the user's folder on request.
 */

import * as React from 'react';

import {
  DataTable,
  DataTableColumn,
  ErrorBanner,
  JobLink,
  ModelLink,
  NotebookLink,
  RunLink,
  formatTimestamp,
  formatTimestampTitle,
  formatValue,
  usePoll
} from '../common';
import { PageDefinition, PageProps } from '../shell/pages';
import { CommandIDs } from '../tokens';
import type { ExecutedNotebook } from '../types';

const FIELDS: Array<{ id: string; label: string; placeholder: string }> = [
  { id: 'q', label: 'Text in cells and outputs', placeholder: 'e.g. loss, ValueError' },
  { id: 'notebook', label: 'Notebook', placeholder: 'path contains' },
  { id: 'job', label: 'Job', placeholder: 'job name' },
  { id: 'parameter', label: 'Parameter', placeholder: 'name=value' }
];

export function NotebookHubPage(props: PageProps): JSX.Element {
  const { api, app, active } = props;
  const [values, setValues] = React.useState<{ [id: string]: string }>({});
  const [filters, setFilters] = React.useState<{ [id: string]: string }>({});
  const [shown, setShown] = React.useState<ExecutedNotebook | null>(null);
  const [error, setError] = React.useState<Error | null>(null);
  React.useEffect(() => {
    const timer = window.setTimeout(() => setFilters(values), 300);
    return () => window.clearTimeout(timer);
  }, [values]);
  const list = usePoll(
    () =>
      api.notebooks.listNotebooks({
        q: filters.q || undefined,
        notebook: filters.notebook || undefined,
        job: filters.job || undefined,
        parameter: filters.parameter || undefined,
        limit: 50
      }),
    { active, deps: [filters.q, filters.notebook, filters.job, filters.parameter] }
  );

  const openCopy = async (nb: ExecutedNotebook) => {
    setError(null);
    try {
      const content = await api.jobs.runOutput(nb.run_id);
      const contents = app.serviceManager.contents;
      const folder = 'mlinfra-runs';
      try {
        await contents.get(folder, { content: false });
      } catch {
        await contents.save(folder, { type: 'directory' });
      }
      const path = `${folder}/${nb.name.replace(/\.ipynb$/, '')}-${nb.run_id.slice(0, 8)}.ipynb`;
      await contents.save(path, { type: 'notebook', format: 'json', content });
      await app.commands.execute('docmanager:open', { path });
    } catch (e) {
      setError(e as Error);
    }
  };

  const columns: DataTableColumn<ExecutedNotebook>[] = [
    {
      id: 'notebook',
      label: 'Notebook',
      render: nb => (
        <>
          <NotebookLink path={nb.notebook}>{nb.name}</NotebookLink>
          <span className="jp-mlinfra-Muted jp-mlinfra-Line">
            {nb.kind === 'reproduce' ? 'reproduce run' : 'job run'}{' '}
            {nb.model && <ModelLink name={nb.model.name} version={Number(nb.model.version)} />}
          </span>
        </>
      ),
      sortValue: nb => nb.name
    },
    {
      id: 'run',
      label: 'Run',
      render: nb => (
        <>
          <RunLink id={nb.run_id} />
          {nb.job_name && (
            <span className="jp-mlinfra-Line">
              <JobLink name={nb.job_name} />
            </span>
          )}
        </>
      )
    },
    { id: 'state', label: 'State', render: nb => nb.state.replace(/_/g, ' ') },
    {
      id: 'parameters',
      label: 'Parameters',
      render: nb =>
        Object.entries(nb.parameters).map(([k, v]) => (
          <span key={k} className="jp-mlinfra-Line">
            <code>{k}</code> {formatValue(v)}
          </span>
        ))
    },
    {
      id: 'finished',
      label: 'Finished',
      render: nb => formatTimestamp(nb.finished_at),
      title: nb => formatTimestampTitle(nb.finished_at),
      sortValue: nb => nb.finished_at ?? ''
    },
    {
      id: 'open',
      label: '',
      render: nb => (
        <span className="jp-mlinfra-NoBreak">
          <button
            type="button"
            className="jp-mlinfra-LinkButton"
            aria-label={`View ${nb.name} ${nb.run_id.slice(0, 8)}`}
            onClick={e => {
              e.stopPropagation();
              setShown(nb);
            }}
          >
            view
          </button>{' '}
          <a
            className="jp-mlinfra-Link"
            href={api.notebooks.notebookUrl(nb.id, 'ipynb', true)}
            download
          >
            .ipynb
          </a>{' '}
          <button
            type="button"
            className="jp-mlinfra-LinkButton"
            title="Save a copy in mlinfra-runs/ and open it"
            onClick={e => {
              e.stopPropagation();
              void openCopy(nb);
            }}
          >
            open a copy
          </button>
        </span>
      )
    }
  ];

  return (
    <div className="jp-mlinfra-PageBody" aria-label="Executed notebooks">
      <header className="jp-mlinfra-PageHeader">
        <h1>Executed notebooks</h1>
        <p className="jp-mlinfra-Description">
          The output notebooks of job runs and reproduce runs, read-only. Search the text of their
          cells and outputs, their notebook, job or parameters.
        </p>
      </header>
      <div className="jp-mlinfra-Toolbar">
        {FIELDS.map(field => (
          <label key={field.id} className="jp-mlinfra-Field">
            <span>{field.label}</span>
            <input
              type="search"
              aria-label={`Search notebooks: ${field.label}`}
              placeholder={field.placeholder}
              value={values[field.id] ?? ''}
              onChange={e => {
                const value = e.target.value;
                setValues(current => ({ ...current, [field.id]: value }));
              }}
            />
          </label>
        ))}
      </div>
      <ErrorBanner error={list.error ?? error} context="Executed notebooks" />
      <section className="jp-mlinfra-Section" aria-label="Executed notebooks list">
        <h2>
          {list.data
            ? `${list.data.total}${list.data.total_exact === false ? '+' : ''} executed ${
                list.data.total === 1 ? 'notebook' : 'notebooks'
              }`
            : 'Executed notebooks'}
        </h2>
        <DataTable
          label="Executed notebooks"
          columns={columns}
          rows={list.data?.items ?? []}
          rowKey={nb => nb.id}
          emptyText={list.loading && !list.data ? 'Loading…' : 'No executed notebook matches.'}
          onRowClick={nb => setShown(nb)}
          selectedKey={shown?.id ?? null}
        />
      </section>
      {shown && (
        <section className="jp-mlinfra-Section" aria-label="Rendered notebook">
          <h2>
            {shown.name} <span className="jp-mlinfra-Muted">run {shown.run_id.slice(0, 8)}</span>{' '}
            <button
              type="button"
              className="jp-mlinfra-LinkButton"
              onClick={() => void app.commands.execute(CommandIDs.openRun, { id: shown.run_id })}
            >
              open the run
            </button>
          </h2>
          <iframe
            className="jp-mlinfra-NotebookFrame"
            title={`${shown.name} (read-only)`}
            src={api.notebooks.notebookUrl(shown.id, 'html')}
            sandbox=""
          />
        </section>
      )}
    </div>
  );
}

export const NOTEBOOK_PAGES: PageDefinition[] = [
  {
    kind: 'notebooks',
    command: CommandIDs.openNotebookHub,
    label: 'Executed notebooks',
    key: () => 'hub',
    title: () => 'Executed notebooks',
    valid: () => true,
    render: props => <NotebookHubPage {...props} />
  }
];
