/**
 * `SearchableList`: the list part of a tab that browses a catalog (feature views, models):
 * search fields whose values are sent a moment after the last key, an error line with
 * "Retry", a "Loading…" state, a sortable table with a count in its title, and the details
 * of the row clicked (clicking it again, or "close", hides them).
 *
 *   <SearchableList
 *     active={active}
 *     title="Models"
 *     fields={[{ id: 'q', label: 'Search', ariaLabel: 'Search models' }]}
 *     fetch={f => api.models.listModels({ q: f.q || undefined })}
 *     columns={columns}
 *     rowKey={m => m.name}
 *     emptyText={f => (f.q ? 'No model matches.' : 'No models yet.')}
 *     renderDetails={(name, { close, refresh }) => <Details name={name} onClose={close} />}
 *   />
 *
 * `DetailsSection` is the frame of those details: a title with a "close" button and the
 * error line of their own request.
 */

import * as React from 'react';

import { DataTable, DataTableColumn } from './dataTable';
import { ErrorBanner } from './errorBanner';
import { usePoll } from './poll';

/** Milliseconds between the last key in a search field and the request. */
export const SEARCH_DEBOUNCE_MS = 250;

/** One text field of the list's toolbar. */
export interface SearchField {
  /** The key of its value in the filters given to `fetch` and `emptyText`. */
  id: string;
  /** The visible label, e.g. `Search`. */
  label: string;
  /** The accessible name, e.g. `Search models` (what the browser tests find it by). */
  ariaLabel: string;
  placeholder?: string;
}

/** The fields' values by field id, trimmed; `''` for an empty field. */
export interface SearchFilters {
  [id: string]: string;
}

export interface SearchableListProps<Row> {
  /** Fetch (and poll) only while true: the tab's `active`. */
  active: boolean;
  /** The section's heading, its accessible name and the table's (`Models`). */
  title: string;
  fields: SearchField[];
  /** The rows matching the filters. */
  fetch: (filters: SearchFilters) => Promise<Row[]>;
  /** Text before the error message, e.g. `Could not load models`. */
  errorContext: string;
  columns: DataTableColumn<Row>[];
  /** A row's key: also the key given to `renderDetails`. */
  rowKey: (row: Row) => string;
  /** Shown instead of the table when nothing matches the filters (or nothing exists). */
  emptyText: (filters: SearchFilters) => string;
  initialSort?: { column: string; descending?: boolean };
  /** Open the clicked row's page (main area); the row stays selected. */
  onOpen?: (key: string) => void;
  /** The details of the selected row; `refresh` re-fetches the list (after a change). */
  renderDetails?: (
    key: string,
    actions: { close: () => void; refresh: () => void }
  ) => React.ReactNode;
}

function trimmedValues(fields: SearchField[], values?: SearchFilters): SearchFilters {
  const result: SearchFilters = {};
  for (const field of fields) {
    result[field.id] = (values?.[field.id] ?? '').trim();
  }
  return result;
}

export function SearchableList<Row>(props: SearchableListProps<Row>): JSX.Element {
  const { fields, title } = props;
  const [values, setValues] = React.useState<SearchFilters>(() => trimmedValues(fields));
  const [filters, setFilters] = React.useState<SearchFilters>(values);
  const [selected, setSelected] = React.useState<string | null>(null);

  // Search as the user types, a moment after the last key.
  React.useEffect(() => {
    const timer = window.setTimeout(
      () => setFilters(trimmedValues(fields, values)),
      SEARCH_DEBOUNCE_MS
    );
    return () => window.clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [values]);

  const list = usePoll(() => props.fetch(filters), {
    active: props.active,
    deps: fields.map(field => filters[field.id])
  });
  const rows = list.data;
  const refresh = () => void list.refresh();

  return (
    <>
      <div className="jp-mlinfra-Toolbar">
        {fields.map(field => (
          <label key={field.id} className="jp-mlinfra-Field jp-mlinfra-SearchableList-field">
            <span>{field.label}</span>
            <input
              type="search"
              placeholder={field.placeholder}
              value={values[field.id]}
              aria-label={field.ariaLabel}
              onChange={event => {
                const value = event.target.value;
                setValues(current => ({ ...current, [field.id]: value }));
              }}
            />
          </label>
        ))}
      </div>
      <ErrorBanner error={list.error} context={props.errorContext} onRetry={refresh} />
      <section className="jp-mlinfra-Section" aria-label={title}>
        <h3>
          {title}
          {rows ? ` (${rows.length})` : ''}
        </h3>
        {rows ? (
          <DataTable
            label={title}
            columns={props.columns}
            rows={rows}
            rowKey={props.rowKey}
            emptyText={props.emptyText(filters)}
            onRowClick={row => {
              const key = props.rowKey(row);
              if (props.onOpen) {
                setSelected(key);
                props.onOpen(key);
                return;
              }
              setSelected(key === selected ? null : key);
            }}
            selectedKey={selected}
            initialSort={props.initialSort}
          />
        ) : (
          // Until the first answer; after a failed first request the error line says why.
          !list.error && <p className="jp-mlinfra-Empty">Loading…</p>
        )}
      </section>
      {selected !== null && !props.onOpen && (
        // Keyed: another row's details start afresh.
        <React.Fragment key={selected}>
          {props.renderDetails?.(selected, { close: () => setSelected(null), refresh })}
        </React.Fragment>
      )}
    </>
  );
}

export interface DetailsSectionProps {
  /** The section's accessible name, e.g. `Model churn`. */
  label: string;
  /** The heading, before the "close" button. */
  title: React.ReactNode;
  onClose: () => void;
  /** `data-*` attributes of the section, e.g. `{ model: 'churn' }` for `data-model`. */
  data?: { [name: string]: string };
  /** The error of the details' own request, shown under the heading. */
  error?: Error | null;
  /** Text before that error's message, e.g. `Could not load churn`. */
  errorContext?: string;
  children?: React.ReactNode;
}

/** The details of a list's selected row: a heading with "close", then their content. */
export function DetailsSection(props: DetailsSectionProps): JSX.Element {
  const data: { [attribute: string]: string } = {};
  for (const [name, value] of Object.entries(props.data ?? {})) {
    data[`data-${name}`] = value;
  }
  return (
    <section className="jp-mlinfra-Section jp-mlinfra-Details" aria-label={props.label} {...data}>
      <h3>
        {props.title}{' '}
        <button
          type="button"
          className="jp-mlinfra-LinkButton"
          onClick={props.onClose}
          aria-label="Close details"
        >
          close
        </button>
      </h3>
      <ErrorBanner error={props.error ?? null} context={props.errorContext} />
      {props.children}
    </section>
  );
}
