/**
 * The launcher card's page: a short tour of what ML Infra does, one step per capability,
 * each with the example notebook that shows it (opened from the user's folder, copied there
 * first when missing: "Copy the examples" never overwrites) and a button to where it lives.
 */

import * as React from 'react';

import { ErrorBanner } from '../common';
import { CommandIDs } from '../tokens';
import type { ExampleCopy, ExampleNotebookPage } from '../types';
import { PageDefinition, PageProps } from './pages';
import { mlinfraIcon } from './icons';

const STEPS: Array<{
  id: string;
  title: string;
  text: string;
  example: string;
  action: { label: string; command: string; args: { [key: string]: string } };
}> = [
  {
    id: 'provenance',
    title: '1. Provenance: is this notebook telling the truth?',
    text:
      'Every cell you run is recorded. Stale, changed or hidden-state cells get a marker, the ' +
      'status bar says "2 stale", and the Provenance tab explains why, exports the cells in ' +
      'the order they ran, or re-runs the notebook in a fresh kernel to verify it.',
    example: 'example_notebooks/provenance_demo.ipynb',
    action: {
      label: 'Open the Provenance tab',
      command: CommandIDs.openPanel,
      args: { tab: 'provenance' }
    }
  },
  {
    id: 'jobs',
    title: '2. Jobs: run and schedule a notebook',
    text:
      'Tag a cell "parameters", then press "Run / schedule as job" in the notebook toolbar: ' +
      'run it now or on a cron schedule, after other jobs, and watch the run on its page.',
    example: 'example_notebooks/jobs_train.ipynb',
    action: { label: 'Open the Jobs tab', command: CommandIDs.openPanel, args: { tab: 'jobs' } }
  },
  {
    id: 'models',
    title: '3. Models: register, compare, reproduce',
    text:
      'Register a model from a notebook with its metrics, data and code lineage; move aliases ' +
      'such as production; compare versions; re-run what produced a version.',
    example: 'example_notebooks/models_demo.ipynb',
    action: { label: 'Open the Models tab', command: CommandIDs.openPanel, args: { tab: 'models' } }
  },
  {
    id: 'features',
    title: '4. Features: define once, use for training and serving',
    text:
      'Define a feature view in a cell, materialize it, join it point-in-time into a training ' +
      'frame; the models that use it are listed on its page.',
    example: 'example_notebooks/features_demo.ipynb',
    action: {
      label: 'Open the Features tab',
      command: CommandIDs.openPanel,
      args: { tab: 'features' }
    }
  }
];

export function TourPage(props: PageProps): JSX.Element {
  const { app, api } = props;
  const [examples, setExamples] = React.useState<ExampleNotebookPage | null>(null);
  const [error, setError] = React.useState<Error | null>(null);
  const [message, setMessage] = React.useState('');
  const [busy, setBusy] = React.useState(false);

  const load = React.useCallback(async () => {
    try {
      setExamples(await api.client.request<ExampleNotebookPage>('examples', {}, { limit: 200 }));
    } catch (e) {
      setError(e as Error);
    }
  }, [api]);
  React.useEffect(() => {
    void load();
  }, [load]);

  const inRoot = (path: string) => !!examples?.items.find(e => e.path === path && e.in_root);
  const missing = examples ? examples.items.filter(e => !e.in_root).length : 0;

  /** Copy what is missing (never over a file the user has), then say what happened. */
  const copy = async (): Promise<boolean> => {
    setError(null);
    setBusy(true);
    try {
      const result = await api.client.request<ExampleCopy>('examples/copy', {
        method: 'POST',
        body: {}
      });
      const kept = result.kept.length
        ? ` ${result.kept.length} already there ${result.kept.length === 1 ? 'was' : 'were'} kept as ${result.kept.length === 1 ? 'it is' : 'they are'}.`
        : '';
      setMessage(
        `Copied ${result.copied.length} example notebook${result.copied.length === 1 ? '' : 's'} into ${result.folder}/.${kept}`
      );
      await load();
      return true;
    } catch (e) {
      setError(e as Error);
      return false;
    } finally {
      setBusy(false);
    }
  };

  const open = async (path: string) => {
    if (!inRoot(path) && !(await copy())) {
      return;
    }
    await app.commands.execute('docmanager:open', { path });
  };

  return (
    <div className="jp-mlinfra-PageBody jp-mlinfra-Tour" aria-label="ML Infra tour">
      <header className="jp-mlinfra-PageHeader">
        <h1>ML Infra: a short tour</h1>
        <p className="jp-mlinfra-Description">
          Four tools for notebooks, in the left sidebar (<mlinfraIcon.react tag="span" /> ML Infra)
          and in the main area. Each step opens an example notebook; they are copied into the folder{' '}
          <code>example_notebooks/</code> of your file browser first (a notebook of yours with the
          same name is never overwritten).
        </p>
        <div className="jp-mlinfra-Toolbar">
          {examples && missing === 0 ? (
            <span className="jp-mlinfra-Badge jp-mlinfra-Badge-ok">
              every example is in example_notebooks/
            </span>
          ) : (
            <button
              type="button"
              className="jp-mlinfra-Button jp-mod-accept"
              onClick={() => void copy()}
              disabled={busy || !examples}
            >
              Copy the examples
            </button>
          )}
          {message && (
            <span className="jp-mlinfra-Muted" role="status">
              {message}
            </span>
          )}
        </div>
        <ErrorBanner error={error} context="Example notebooks" />
      </header>
      <ol className="jp-mlinfra-Tour-steps">
        {STEPS.map(step => (
          <li key={step.id} data-step={step.id}>
            <h2>{step.title}</h2>
            <p>{step.text}</p>
            <p className="jp-mlinfra-Muted">
              Example: <code>{step.example}</code>
              {examples && !inRoot(step.example) && ' (not in your folder yet)'}
            </p>
            <div className="jp-mlinfra-Toolbar">
              <a
                href="#"
                role="link"
                className="jp-mlinfra-Button"
                data-mlinfra-example={step.example}
                aria-disabled={busy || undefined}
                onClick={event => {
                  event.preventDefault();
                  if (!busy) {
                    void open(step.example);
                  }
                }}
              >
                {examples && !inRoot(step.example)
                  ? 'Copy and open the example'
                  : 'Open the example'}
              </a>
              <button
                type="button"
                className="jp-mlinfra-Button"
                onClick={() => void app.commands.execute(step.action.command, step.action.args)}
              >
                {step.action.label}
              </button>
            </div>
          </li>
        ))}
      </ol>
    </div>
  );
}

export const TOUR_PAGE: PageDefinition = {
  kind: 'tour',
  command: CommandIDs.openTour,
  label: 'ML Infra tour',
  key: () => 'tour',
  title: () => 'ML Infra tour',
  valid: () => true,
  render: props => <TourPage {...props} />
};
