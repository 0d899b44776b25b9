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
import { FeatureViewDetails, FeatureViewSummary, JSONValue } from '../tokens';
import { TabProps } from './tabProps';

/**
 * The Features tab: search the feature views you may see; a view's details show its schema
 * with statistics, freshness, owner and visibility, versions, the models that use it and the
 * most recent rows of the offline store.
 */
export function FeaturesTab(props: TabProps): JSX.Element {
  const { api, active } = props;
  const [query, setQuery] = React.useState('');
  const [search, setSearch] = React.useState('');
  const [selected, setSelected] = React.useState<string | null>(null);

  // Search as the user types, a moment after the last key.
  React.useEffect(() => {
    const timer = window.setTimeout(() => setSearch(query.trim()), 250);
    return () => window.clearTimeout(timer);
  }, [query]);

  const views = usePoll(() => api.listFeatureViews({ q: search || undefined }), {
    active,
    deps: [search]
  });
  const rows = views.data?.views ?? [];

  const columns: DataTableColumn<FeatureViewSummary>[] = [
    {
      id: 'name',
      label: 'View',
      render: v => (
        <>
          <span className="jp-mlinfra-Features-name">{v.name}</span>
          <span className="jp-mlinfra-Features-muted jp-mlinfra-Features-line">
            {v.features.map(f => f.name).join(', ')}
          </span>
        </>
      ),
      sortValue: v => v.name,
      title: v =>
        [v.description, ...v.features.map(f => `${f.name}: ${f.dtype}`)]
          .filter(Boolean)
          .join('\n')
    },
    {
      id: 'owner',
      label: 'Owner',
      render: v => (
        <>
          {v.owner}
          <span className="jp-mlinfra-Features-line">
            <span className={`jp-mlinfra-Badge ${visibilityBadge(v.visibility)}`}>
              {v.visibility}
            </span>
          </span>
        </>
      ),
      sortValue: v => v.owner,
      title: v =>
        v.last_updated_data
          ? `data updated ${formatTimestampTitle(v.last_updated_data)}`
          : 'no data yet'
    }
  ];

  return (
    <div className="jp-mlinfra-Tab-body jp-mlinfra-Features">
      <p className="jp-mlinfra-Tab-intro">
        Feature definitions computed once, materialized offline and online, joined point-in-time for training.
      </p>
      <CapabilityStatusView name="features" health={props.health} />
      <div className="jp-mlinfra-Toolbar">
        <label className="jp-mlinfra-Field jp-mlinfra-Features-search">
          <span>Search</span>
          <input
            type="search"
            placeholder="name, feature, tag, entity, description"
            value={query}
            aria-label="Search feature views"
            onChange={event => setQuery(event.target.value)}
          />
        </label>
      </div>
      <ErrorBanner
        error={views.error}
        context="Could not load feature views"
        onRetry={() => void views.refresh()}
      />
      <section className="jp-mlinfra-Section" aria-label="Feature views">
        <h3>
          Feature views{views.data ? ` (${rows.length})` : ''}
        </h3>
        {views.data || views.error ? (
          <DataTable
            label="Feature views"
            columns={columns}
            rows={rows}
            rowKey={v => v.name}
            emptyText={
              search
                ? `No feature view matches “${search}”.`
                : 'No feature views yet: define one with %%mlinfra feature NAME --entity E in a notebook.'
            }
            onRowClick={v => setSelected(v.name === selected ? null : v.name)}
            selectedKey={selected}
            initialSort={{ column: 'name' }}
          />
        ) : (
          <p className="jp-mlinfra-Empty">Loading…</p>
        )}
      </section>
      {selected && (
        <FeatureViewDetailsView
          key={selected}
          name={selected}
          props={props}
          onClose={() => setSelected(null)}
        />
      )}
    </div>
  );
}

function visibilityBadge(visibility: string): string {
  return visibility === 'public'
    ? 'jp-mlinfra-Badge-ok'
    : visibility === 'team'
      ? 'jp-mlinfra-Badge-warn'
      : 'jp-mlinfra-Badge-off';
}

function FeatureViewDetailsView(p: {
  name: string;
  props: TabProps;
  onClose: () => void;
}): JSX.Element {
  const { api, active } = p.props;
  const details = usePoll(() => api.describeFeatureView(p.name), {
    active,
    deps: [p.name]
  });
  const sample = usePoll(() => api.sampleFeatureView(p.name, 5), {
    active,
    deps: [p.name]
  });
  const info = details.data;

  return (
    <section
      className="jp-mlinfra-Section jp-mlinfra-Features-details"
      aria-label={`Feature view ${p.name}`}
      data-view={p.name}
    >
      <h3>
        {p.name}
        {info ? ` v${info.version}` : ''}{' '}
        <button
          type="button"
          className="jp-mlinfra-LinkButton"
          onClick={p.onClose}
          aria-label="Close details"
        >
          close
        </button>
      </h3>
      <ErrorBanner error={details.error} context={`Could not load ${p.name}`} />
      {info ? <DetailsBody info={info} /> : !details.error && <p className="jp-mlinfra-Empty">Loading…</p>}
      <h4 className="jp-mlinfra-Features-subtitle">Sample rows (most recent)</h4>
      <ErrorBanner error={sample.error} context="Could not load sample rows" />
      {sample.data && (
        <DataTable
          label="Sample rows"
          columns={sample.data.columns.map((column, index) => ({
            id: column,
            label: column,
            render: (row: JSONValue[]) => formatCell(row[index]),
            title: (row: JSONValue[]) => String(row[index] ?? '')
          }))}
          rows={sample.data.rows}
          rowKey={row => JSON.stringify(row)}
          emptyText="No rows yet: materialize the view or push rows to it."
        />
      )}
    </section>
  );
}

/** How old the newest data is: `40 s`, `12 min`, `5 h`, `3 d 4 h`. */
function formatAge(seconds: number | null): string {
  if (seconds === null) {
    return '—';
  }
  if (seconds < 3600) {
    return formatDuration(seconds);
  }
  const hours = Math.floor(seconds / 3600);
  return hours < 48 ? `${hours} h` : `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

function formatCell(value: JSONValue): string {
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) {
    return formatTimestamp(value);
  }
  return formatValue(value);
}

function DetailsBody(p: { info: FeatureViewDetails }): JSX.Element {
  const { info } = p;
  const fresh = info.freshness;
  const stats = info.statistics?.features ?? {};
  const number = (v: number | null | undefined) =>
    v === null || v === undefined ? '—' : formatValue(Number(v.toPrecision(4)));
  return (
    <>
      {info.description && <p className="jp-mlinfra-Features-description">{info.description}</p>}
      <KeyValueTable
        label="Definition"
        entries={[
          ['owner', `${info.owner} (${info.visibility}${info.team ? `, team ${info.team}` : ''})`],
          ['entities', `${info.entities.join(', ')} (join keys: ${info.join_keys.join(', ')})`],
          ['TTL', info.ttl],
          ['tags', info.tags.length ? info.tags.join(', ') : '—'],
          ['versions', info.versions.map(v => `v${v.version}`).join(', ')],
          [
            'source',
            formatValue((info.definition.source as { [k: string]: JSONValue })?.kind ?? null)
          ]
        ]}
      />
      <h4 className="jp-mlinfra-Features-subtitle">Schema</h4>
      <DataTable
        label="Schema"
        columns={[
          {
            id: 'feature',
            label: 'Feature',
            render: f => (
              <>
                {f.name}
                <span className="jp-mlinfra-Features-muted jp-mlinfra-Features-line">
                  {f.dtype}
                </span>
              </>
            )
          },
          {
            id: 'nulls',
            label: 'Nulls',
            align: 'right',
            render: f => formatValue(stats[f.name]?.nulls ?? null)
          },
          {
            id: 'stats',
            label: 'Values',
            render: f => {
              const s = stats[f.name];
              if (!s) {
                return '—';
              }
              if (s.distinct !== undefined) {
                return `${s.distinct} distinct`;
              }
              return (
                <>
                  <span className="jp-mlinfra-Features-line">min {number(s.min)}</span>
                  <span className="jp-mlinfra-Features-line">mean {number(s.mean)}</span>
                  <span className="jp-mlinfra-Features-line">max {number(s.max)}</span>
                </>
              );
            }
          }
        ]}
        rows={info.features}
        rowKey={f => f.name}
        emptyText="No features."
      />
      <h4 className="jp-mlinfra-Features-subtitle">Freshness</h4>
      <KeyValueTable
        label="Freshness"
        entries={[
          ['latest event', formatTimestamp(fresh.latest_event_time)],
          [
            'age',
            formatAge(fresh.age_seconds)
          ],
          ['materialized', formatTimestamp(fresh.last_materialized_at)],
          ['last push', formatTimestamp(fresh.last_push_at)],
          [
            'offline',
            `${formatValue(fresh.offline_rows)} rows in ${formatValue(fresh.offline_files)} files`
          ],
          ['online', `${formatValue(fresh.online_entities)} entities`]
        ]}
      />
      <h4 className="jp-mlinfra-Features-subtitle">Used by</h4>
      {info.used_by.length ? (
        <ul className="jp-mlinfra-Features-usedBy" aria-label="Used by">
          {info.used_by.map(u => (
            <li key={`${u.consumer}-${u.version}`} title={u.features.join(', ')}>
              {u.consumer} <span className="jp-mlinfra-Features-muted">(v{u.version})</span>
            </li>
          ))}
        </ul>
      ) : (
        <p className="jp-mlinfra-Empty">No model uses this view yet.</p>
      )}
    </>
  );
}
