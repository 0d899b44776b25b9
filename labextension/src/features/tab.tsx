import { Clipboard } from '@jupyterlab/apputils';
import * as React from 'react';

import {
  CapabilityStatusView,
  DataTable,
  DataTableColumn,
  DetailsSection,
  ErrorBanner,
  KeyValueTable,
  formatDuration,
  formatTimestamp,
  formatTimestampTitle,
  formatValue,
  SearchableList,
  usePoll,
  ModelLink
} from '../common';
import { MLInfraAPI } from '../api';
import { CommandIDs } from '../tokens';
import { FeatureViewDetails, FeatureViewSummary, JSONValue } from '../types';
import { TabProps } from '../common/tabProps';

/**
 * The Features tab: search the feature views you may see; a view's details show its schema
 * with statistics, freshness, owner and visibility, versions, the models that use it and the
 * most recent rows of the offline store.
 */
export function FeaturesTab(props: TabProps): JSX.Element {
  const { api, active } = props;

  const columns: DataTableColumn<FeatureViewSummary>[] = [
    {
      id: 'name',
      label: 'View',
      render: v => (
        <>
          <span className="jp-mlinfra-Name">{v.name}</span>
          <span className="jp-mlinfra-Muted jp-mlinfra-Line">
            {v.features.map(f => f.name).join(', ')}
          </span>
        </>
      ),
      sortValue: v => v.name,
      title: v =>
        [
          v.name,
          v.description,
          v.features.map(f => f.name).join(', '),
          ...v.features.map(f => `${f.name}: ${f.dtype}`)
        ]
          .filter(Boolean)
          .join('\n')
    },
    {
      id: 'owner',
      label: 'Owner',
      render: v => (
        <>
          {v.owner}
          <span className="jp-mlinfra-Line">
            <span className={`jp-mlinfra-Badge ${visibilityBadge(v.visibility)}`}>
              {v.visibility}
            </span>
          </span>
        </>
      ),
      sortValue: v => v.owner,
      title: v =>
        [
          v.owner,
          v.visibility,
          v.last_updated_data
            ? `data updated ${formatTimestampTitle(v.last_updated_data)}`
            : 'no data yet'
        ].join('\n'),
      width: '6.5em'
    }
  ];

  return (
    <div className="jp-mlinfra-Tab-body jp-mlinfra-Features">
      <p className="jp-mlinfra-Tab-intro">
        Feature definitions computed once, materialized offline and online, joined point-in-time for
        training.
      </p>
      <CapabilityStatusView name="features" health={props.health} />
      <SearchableList<FeatureViewSummary>
        active={active}
        title="Feature views"
        fields={[
          {
            id: 'q',
            label: 'Search',
            ariaLabel: 'Search feature views',
            placeholder: 'name, feature, tag, entity, description'
          }
        ]}
        fetch={f => api.features.listFeatureViews({ q: f.q || undefined })}
        errorContext="Could not load feature views"
        columns={columns}
        rowKey={v => v.name}
        emptyText={f =>
          f.q
            ? `No feature view matches “${f.q}”.`
            : 'No feature views yet: define one with %%mlinfra feature NAME --entity E in a notebook.'
        }
        initialSort={{ column: 'name' }}
        onOpen={name => void props.app.commands.execute(CommandIDs.openFeatureView, { name })}
      />
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

/** A feature view: definition, schema and statistics, freshness, used by, sample rows. */
export function FeatureViewDetailsView(p: {
  name: string;
  props: { api: MLInfraAPI; active: boolean };
  onClose: () => void;
}): JSX.Element {
  const { api, active } = p.props;
  const details = usePoll(() => api.features.describeFeatureView(p.name), {
    active,
    deps: [p.name]
  });
  const sample = usePoll(() => api.features.sampleFeatureView(p.name, 5), {
    active,
    deps: [p.name]
  });
  const info = details.data;

  return (
    <DetailsSection
      label={`Feature view ${p.name}`}
      title={`${p.name}${info ? ` v${info.version}` : ''}`}
      onClose={p.onClose}
      data={{ view: p.name }}
      error={details.error}
      errorContext={`Could not load ${p.name}`}
    >
      {info ? (
        <DetailsBody info={info} />
      ) : (
        !details.error && <p className="jp-mlinfra-Empty">Loading…</p>
      )}
      <h4 className="jp-mlinfra-Subtitle">Sample rows (most recent)</h4>
      <ErrorBanner error={sample.error} context="Could not load sample rows" />
      {sample.data && (
        <DataTable
          label="Sample rows"
          columns={sampleColumnOrder(sample.data.columns, info).map(index => {
            const column = sample.data!.columns[index];
            return {
              id: column,
              label: column,
              render: (row: JSONValue[]) => formatCell(row[index]),
              title: (row: JSONValue[]) => String(row[index] ?? '')
            };
          })}
          rows={sample.data.rows}
          rowKey={row => JSON.stringify(row)}
          emptyText="No rows yet: materialize the view or push rows to it."
        />
      )}
    </DetailsSection>
  );
}

/** Sample columns: the entity keys first (pinned), then the features, then the rest. */
function sampleColumnOrder(columns: string[], info: FeatureViewDetails | null): number[] {
  const keys = new Set(info?.join_keys ?? []);
  const features = new Set((info?.features ?? []).map(f => f.name));
  const rank = (c: string) => (keys.has(c) ? 0 : features.has(c) ? 1 : 2);
  return columns.map((c, i) => i).sort((a, b) => rank(columns[a]) - rank(columns[b]) || a - b);
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
      {info.description && <p className="jp-mlinfra-Description">{info.description}</p>}
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
      <h4 className="jp-mlinfra-Subtitle">Schema</h4>
      <DataTable
        label="Schema"
        columns={[
          {
            id: 'feature',
            label: 'Feature',
            render: f => (
              <>
                {f.name}{' '}
                <button
                  type="button"
                  className="jp-mlinfra-LinkButton"
                  aria-label={`Copy reference ${info.name}:${f.name}`}
                  title={`Copy ${info.name}:${f.name} (for get_training_frame / get_online_features)`}
                  onClick={() => Clipboard.copyToSystem(`${info.name}:${f.name}`)}
                >
                  copy
                </button>
                <span className="jp-mlinfra-Muted jp-mlinfra-Line">{f.dtype}</span>
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
                  <span className="jp-mlinfra-Line">min {number(s.min)}</span>
                  <span className="jp-mlinfra-Line">mean {number(s.mean)}</span>
                  <span className="jp-mlinfra-Line">max {number(s.max)}</span>
                </>
              );
            }
          }
        ]}
        rows={info.features}
        rowKey={f => f.name}
        emptyText="No features."
      />
      <h4 className="jp-mlinfra-Subtitle">Freshness</h4>
      <KeyValueTable
        label="Freshness"
        entries={[
          ['latest event', formatTimestamp(fresh.latest_event_time)],
          ['age', formatAge(fresh.age_seconds)],
          ['materialized', formatTimestamp(fresh.last_materialized_at)],
          ['last push', formatTimestamp(fresh.last_push_at)],
          [
            'offline',
            `${formatValue(fresh.offline_rows)} rows in ${formatValue(fresh.offline_files)} files`
          ],
          ['online', `${formatValue(fresh.online_entities)} entities`]
        ]}
      />
      <h4 className="jp-mlinfra-Subtitle">Used by</h4>
      {info.used_by.length ? (
        <ul className="jp-mlinfra-Features-usedBy" aria-label="Used by">
          {info.used_by.map(u => (
            <li key={`${u.consumer}-${u.version}`} title={u.features.join(', ')}>
              <ConsumerLink consumer={u.consumer} />{' '}
              <span className="jp-mlinfra-Muted">
                (view v{u.version}: {u.features.join(', ')})
              </span>
            </li>
          ))}
        </ul>
      ) : (
        <p className="jp-mlinfra-Empty">No model uses this view yet.</p>
      )}
    </>
  );
}

/** `model:churn/3` → a link to churn v3; other consumers as written. */
function ConsumerLink(p: { consumer: string }): JSX.Element {
  const match = /^model:(.+)\/(\d+)$/.exec(p.consumer);
  if (match) {
    return <ModelLink name={match[1]} version={Number(match[2])} />;
  }
  return <>{p.consumer}</>;
}
