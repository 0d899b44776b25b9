import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import { MLInfraAPI } from '../api';
import { CommandIDs } from '../tokens';
import { CompareVersions } from './compare';
import {
  CapabilityStatusView,
  DataTable,
  DataTableColumn,
  DetailsSection,
  ErrorBanner,
  FeatureRefLink,
  KeyValueTable,
  NotebookLink,
  RunLink,
  formatTimestamp,
  formatTimestampTitle,
  formatValue,
  SearchableList,
  usePoll,
  VegaLiteChart,
  VegaLiteSpec,
  metricDomain
} from '../common';
import {
  JSONValue,
  ModelDetails,
  ModelSummary,
  ModelVersionInfo,
  ReproductionResult
} from '../types';
import { TabProps } from '../common/tabProps';
import { ArtifactPreviews, type ArtifactSource, artifactKind } from '../common/artifactPreview';

/**
 * The Models tab: search registered models (name, owner, tag, metric threshold); a model's
 * details show its aliases (and move them), its versions, a plot of a metric across versions,
 * and for one version its lineage (notebook, replay order, git, job run, data and features)
 * and artifacts (figures shown inline).
 */
export function ModelsTab(props: TabProps): JSX.Element {
  const { api, active } = props;

  // Two columns: the side panel is narrow.
  const columns: DataTableColumn<ModelSummary>[] = [
    {
      id: 'name',
      label: 'Model',
      render: m => (
        <>
          <span className="jp-mlinfra-Name">{m.name}</span>
          <span className="jp-mlinfra-Muted jp-mlinfra-Line">{shortClass(m.model_class)}</span>
          <MetricList metrics={m.metrics} />
        </>
      ),
      sortValue: m => m.name,
      title: m =>
        [
          m.name,
          m.description,
          m.model_class,
          `owner ${m.owner}`,
          `metrics of v${m.version}:`,
          ...Object.entries(m.metrics)
            .sort()
            .map(([k, v]) => `${k} ${formatNumber(v)}`)
        ]
          .filter(Boolean)
          .join('\n')
    },
    {
      id: 'version',
      label: 'Latest',
      render: m => (
        <>
          v{m.latest_version}
          {Object.entries(m.aliases)
            .sort()
            .map(([alias, v]) => (
              <span key={alias} className="jp-mlinfra-Line">
                <AliasBadge alias={alias} version={v} />
              </span>
            ))}
        </>
      ),
      sortValue: m => m.latest_version,
      title: m =>
        [
          `latest v${m.latest_version}`,
          ...Object.entries(m.aliases)
            .sort()
            .map(([alias, v]) => `@${alias} v${v}`)
        ].join('\n'),
      width: '7.5em'
    }
  ];

  return (
    <div className="jp-mlinfra-Tab-body jp-mlinfra-Models">
      <p className="jp-mlinfra-Tab-intro">
        Models registered from notebooks with what it takes to reproduce them: versions, aliases,
        search, compare.
      </p>
      <CapabilityStatusView name="models" health={props.health} />
      <SearchableList<ModelSummary>
        active={active}
        title="Models"
        fields={[
          { id: 'q', label: 'Search', ariaLabel: 'Search models', placeholder: 'model name' },
          {
            id: 'metric',
            label: 'Metric',
            ariaLabel: 'Metric threshold',
            placeholder: 'e.g. accuracy>=0.9'
          }
        ]}
        fetch={f => api.models.listModels({ q: f.q || undefined, metric: f.metric || undefined })}
        errorContext="Could not load models"
        columns={columns}
        rowKey={m => m.name}
        emptyText={f =>
          f.q || f.metric
            ? 'No model matches these filters.'
            : 'No models yet: register one with %mlinfra model register VAR --name NAME.'
        }
        initialSort={{ column: 'name' }}
        onOpen={name => void props.app.commands.execute(CommandIDs.openModel, { name })}
      />
    </div>
  );
}

function shortClass(modelClass: string): string {
  const parts = modelClass.split('.');
  return parts[parts.length - 1];
}

function AliasBadge(p: { alias: string; version?: number }): JSX.Element {
  return (
    <span className="jp-mlinfra-Badge jp-mlinfra-Badge-ok jp-mlinfra-Models-alias">
      @{p.alias}
      {p.version !== undefined ? ` v${p.version}` : ''}
    </span>
  );
}

function MetricList(p: { metrics: { [name: string]: number } }): JSX.Element {
  const entries = Object.entries(p.metrics).sort();
  if (!entries.length) {
    return <span className="jp-mlinfra-Muted">—</span>;
  }
  return (
    <>
      {entries.map(([k, v]) => (
        <span key={k} className="jp-mlinfra-Line jp-mlinfra-Models-metric">
          <span className="jp-mlinfra-Muted">{k}</span> <b>{formatNumber(v)}</b>
        </span>
      ))}
    </>
  );
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

/** What a model's views need: the REST client, and whether they are shown (poll only then). */
export interface ModelViewProps {
  api: MLInfraAPI;
  active: boolean;
}

/** A model: description, aliases, versions, the metric chart, one version's details. */
export function ModelDetailsView(p: {
  name: string;
  props: ModelViewProps;
  /** The version shown first (default: the newest). */
  version?: number;
  onClose: () => void;
  onChanged: () => void;
  /** Shown instead of the description and tags (the model page edits them in place). */
  renderAbout?: (info: ModelDetails, refresh: () => void) => React.ReactNode;
  /** Each artifact previewed (images, first rows, first KB), as on a run's page. */
  previewArtifacts?: boolean;
}): JSX.Element {
  const { api, active } = p.props;
  const details = usePoll(() => api.models.getModel(p.name), { active, deps: [p.name] });
  const [version, setVersion] = React.useState<number | null>(p.version ?? null);
  React.useEffect(() => {
    if (p.version !== undefined) {
      setVersion(p.version);
    }
  }, [p.version]);
  const info = details.data;
  const shown = version ?? info?.versions[0]?.version ?? null;

  const refresh = () => {
    void details.refresh();
    p.onChanged();
  };

  return (
    <DetailsSection
      label={`Model ${p.name}`}
      title={p.name}
      onClose={p.onClose}
      data={{ model: p.name }}
      error={details.error}
      errorContext={`Could not load ${p.name}`}
    >
      {!info ? (
        !details.error && <p className="jp-mlinfra-Empty">Loading…</p>
      ) : (
        <>
          {p.renderAbout
            ? p.renderAbout(info, refresh)
            : info.description && <p className="jp-mlinfra-Description">{info.description}</p>}
          <KeyValueTable
            label="Model"
            entries={[
              ['owner', info.owner],
              ['versions', `${info.versions.length} (latest v${info.latest_version})`],
              ...(p.renderAbout
                ? []
                : [
                    [
                      'tags',
                      Object.keys(info.tags).length
                        ? Object.entries(info.tags)
                            .map(([k, v]) => `${k}=${v}`)
                            .join(', ')
                        : '—'
                    ] as [string, string]
                  ]),
              ['updated', formatTimestamp(info.updated_at)]
            ]}
          />
          <h4 className="jp-mlinfra-Subtitle">Aliases</h4>
          <AliasesView info={info} api={api} onChanged={refresh} />
          <h4 className="jp-mlinfra-Subtitle">Versions</h4>
          <VersionsTable info={info} selected={shown} onSelect={setVersion} />
          <h4 className="jp-mlinfra-Subtitle">Compare two versions</h4>
          <CompareVersions api={api} name={p.name} versions={info.versions} />
          <h4 className="jp-mlinfra-Subtitle">Metric across versions</h4>
          <MetricPlot versions={info.versions} />
          {shown !== null && (
            <VersionDetails
              key={`${p.name}:${shown}`}
              name={p.name}
              version={shown}
              props={p.props}
              onChanged={refresh}
              previewArtifacts={p.previewArtifacts}
            />
          )}
        </>
      )}
    </DetailsSection>
  );
}

function AliasesView(p: {
  info: ModelDetails;
  api: MLInfraAPI;
  onChanged: () => void;
}): JSX.Element {
  const { info, api } = p;
  const ready = info.versions.filter(v => v.status === 'ready');
  const [alias, setAlias] = React.useState(info.aliases[0]?.alias ?? 'production');
  const [target, setTarget] = React.useState<number>(ready[0]?.version ?? 1);
  const [protect, setProtect] = React.useState(false);
  const [error, setError] = React.useState<Error | null>(null);
  const [busy, setBusy] = React.useState(false);
  const move = async () => {
    const current = info.aliases.find(a => a.alias === alias.trim());
    if (current && current.version !== target && current.protected) {
      const answer = await showDialog({
        title: `Move protected alias @${current.alias}?`,
        body: `@${current.alias} points to v${current.version}, protected by ${current.owner}. Move it to v${target}?`,
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Move' })]
      });
      if (!answer.button.accept) {
        return;
      }
    }
    setBusy(true);
    setError(null);
    try {
      await api.models.setModelAlias(info.name, alias.trim(), target, protect || undefined);
      p.onChanged();
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      {info.aliases.length ? (
        <DataTable
          label="Aliases"
          columns={[
            { id: 'alias', label: 'Alias', render: a => <AliasBadge alias={a.alias} /> },
            { id: 'version', label: 'Version', render: a => `v${a.version}` },
            {
              id: 'by',
              label: 'Moved',
              render: a => (
                <>
                  {a.updated_by}
                  {a.protected && (
                    <span
                      className="jp-mlinfra-Badge jp-mlinfra-Badge-warn"
                      title={`protected: only ${a.owner} can move it`}
                    >
                      protected
                    </span>
                  )}
                </>
              ),
              title: a => formatTimestampTitle(a.updated_at)
            }
          ]}
          rows={info.aliases}
          rowKey={a => a.alias}
          emptyText="No aliases."
        />
      ) : (
        <p className="jp-mlinfra-Empty">No aliases yet.</p>
      )}
      <form
        className="jp-mlinfra-Toolbar jp-mlinfra-Models-aliasForm"
        aria-label="Move an alias"
        onSubmit={event => {
          event.preventDefault();
          void move();
        }}
      >
        <label className="jp-mlinfra-Field">
          <span>Alias</span>
          <input
            value={alias}
            aria-label="Alias name"
            size={10}
            onChange={e => setAlias(e.target.value)}
          />
        </label>
        <label className="jp-mlinfra-Field">
          <span>Version</span>
          <select
            value={target}
            aria-label="Alias target version"
            onChange={e => setTarget(Number(e.target.value))}
          >
            {ready.map(v => (
              <option key={v.version} value={v.version}>
                v{v.version}
              </option>
            ))}
          </select>
        </label>
        <label className="jp-mlinfra-Models-check">
          <input type="checkbox" checked={protect} onChange={e => setProtect(e.target.checked)} />
          protect
        </label>
        <button type="submit" className="jp-mlinfra-Button" disabled={busy || !alias.trim()}>
          Move alias
        </button>
      </form>
      <ErrorBanner error={error} context="Could not move the alias" />
    </>
  );
}

function VersionsTable(p: {
  info: ModelDetails;
  selected: number | null;
  onSelect: (v: number) => void;
}): JSX.Element {
  return (
    <DataTable
      label="Versions"
      columns={[
        {
          id: 'version',
          label: 'Version',
          render: v => (
            <>
              v{v.version}
              <span className="jp-mlinfra-Muted jp-mlinfra-Line">
                {formatTimestamp(v.created_at)}
              </span>
              {v.aliases.map(a => (
                <span key={a} className="jp-mlinfra-Line">
                  <AliasBadge alias={a} />
                </span>
              ))}
            </>
          ),
          sortValue: v => v.version,
          title: v => `${formatTimestampTitle(v.created_at)} by ${v.owner}`
        },
        {
          id: 'status',
          label: 'Status',
          render: v => (
            <>
              <span
                className={`jp-mlinfra-Badge ${v.status === 'ready' ? 'jp-mlinfra-Badge-ok' : 'jp-mlinfra-Badge-off'}`}
              >
                {v.status}
              </span>
              {!v.clean && (
                <span className="jp-mlinfra-Line">
                  <span
                    className="jp-mlinfra-Badge jp-mlinfra-Badge-error"
                    title={v.dirty_reasons.join('\n')}
                  >
                    dirty
                  </span>
                </span>
              )}
            </>
          )
        },
        { id: 'metrics', label: 'Metrics', render: v => <MetricList metrics={v.metrics} /> }
      ]}
      rows={p.info.versions}
      rowKey={v => String(v.version)}
      emptyText="No versions."
      onRowClick={v => p.onSelect(v.version)}
      selectedKey={p.selected === null ? null : String(p.selected)}
      initialSort={{ column: 'version', descending: true }}
    />
  );
}

/** One metric across the versions: a Vega-Lite line chart with axes and hover values. */
export function MetricPlot(p: { versions: ModelVersionInfo[] }): JSX.Element {
  const names = Array.from(new Set(p.versions.flatMap(v => Object.keys(v.metrics)))).sort();
  const [metric, setMetric] = React.useState(names[0] ?? '');
  const current = names.includes(metric) ? metric : names[0];
  if (!current) {
    return <p className="jp-mlinfra-Empty">No metrics recorded.</p>;
  }
  const points = p.versions
    .filter(v => typeof v.metrics[current] === 'number')
    .map(v => ({
      version: v.version,
      label: `v${v.version}`,
      value: v.metrics[current],
      status: v.status
    }))
    .sort((a, b) => a.version - b.version);
  const spec: VegaLiteSpec = {
    data: { values: points },
    layer: [{ mark: { type: 'line' } }, { mark: { type: 'point', tooltip: true } }],
    encoding: {
      x: {
        field: 'label',
        type: 'ordinal',
        sort: points.map(pt => pt.label),
        title: 'version',
        axis: { labelAngle: 0 }
      },
      y: {
        field: 'value',
        type: 'quantitative',
        title: current,
        scale: { domain: metricDomain(points.map(pt => pt.value)), nice: false, zero: false }
      },
      tooltip: [
        { field: 'label', title: 'version' },
        { field: 'value', title: current, format: '.4~g' },
        { field: 'status', title: 'status' }
      ]
    }
  };
  return (
    <div className="jp-mlinfra-Models-plot">
      <label className="jp-mlinfra-Field">
        <span>Metric</span>
        <select
          value={current}
          aria-label="Plotted metric"
          onChange={e => setMetric(e.target.value)}
        >
          {names.map(n => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </label>
      <VegaLiteChart
        label={`${current} across versions`}
        spec={spec}
        data={{
          versions: points.map(pt => pt.version).join(','),
          values: points.map(pt => pt.value).join(',')
        }}
      />
    </div>
  );
}

function VersionDetails(p: {
  name: string;
  version: number;
  props: ModelViewProps;
  onChanged: () => void;
  previewArtifacts?: boolean;
}): JSX.Element {
  const { api, active } = p.props;
  const info = usePoll(() => api.models.getModelVersion(p.name, p.version), {
    active,
    deps: [p.name, p.version],
    intervalMs: 0
  });
  const [error, setError] = React.useState<Error | null>(null);
  const [reproduction, setReproduction] = React.useState<ReproductionResult | null>(null);
  const [reproducing, setReproducing] = React.useState(false);
  const v = info.data;
  const reproduce = async () => {
    setError(null);
    setReproduction(null);
    setReproducing(true);
    try {
      setReproduction(await api.models.reproduceModelVersion(p.name, p.version));
    } catch (e) {
      setError(e as Error);
    } finally {
      setReproducing(false);
    }
  };
  const archive = async (archived: boolean) => {
    setError(null);
    try {
      await api.models.archiveModelVersion(p.name, p.version, archived);
      await info.refresh();
      p.onChanged();
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <div className="jp-mlinfra-Models-version" data-version={p.version}>
      <h4 className="jp-mlinfra-Subtitle">
        Version {p.version}{' '}
        {v && (
          <button
            type="button"
            className="jp-mlinfra-LinkButton"
            onClick={() => void archive(v.status === 'ready')}
          >
            {v.status === 'ready' ? 'archive' : 'restore'}
          </button>
        )}{' '}
        {v && (
          <button
            type="button"
            className="jp-mlinfra-LinkButton"
            disabled={reproducing}
            title="Re-run what generated this version in a fresh kernel and compare its metrics; every write to shared state (features, models, aliases, jobs) is captured, not applied"
            onClick={() => void reproduce()}
          >
            {reproducing ? 'reproducing…' : 'reproduce'}
          </button>
        )}
      </h4>
      <ErrorBanner error={info.error ?? error} context={`Version ${p.version}`} />
      {reproduction && <ReproductionView result={reproduction} />}
      {v && <VersionBody v={v} api={api} previewArtifacts={p.previewArtifacts} />}
    </div>
  );
}

function ReproductionView(p: { result: ReproductionResult }): JSX.Element {
  const { result } = p;
  const rows = Object.entries(result.metrics).map(([name, m]) => ({ name, ...m }));
  return (
    <div className="jp-mlinfra-Models-reproduction" aria-label="Reproduction">
      <p>
        <span
          className={`jp-mlinfra-Badge ${result.reproduced ? 'jp-mlinfra-Badge-ok' : 'jp-mlinfra-Badge-error'}`}
        >
          {result.reproduced ? 'reproduced' : 'not reproduced'}
        </span>{' '}
        <span className="jp-mlinfra-Muted">
          {[
            result.source,
            result.executed_by,
            result.duration !== undefined ? `${result.duration} s` : ''
          ]
            .filter(Boolean)
            .join(' · ')}
        </span>
      </p>
      {result.error && <p className="jp-mlinfra-Models-dirty">{result.error}</p>}
      {rows.length > 0 && (
        <DataTable
          label="Reproduced metrics"
          columns={[
            { id: 'metric', label: 'Metric', render: r => r.name },
            {
              id: 'values',
              label: 'Recorded → now',
              render: r =>
                `${r.recorded === null ? '—' : formatNumber(r.recorded)} → ${r.reproduced === null ? '—' : formatNumber(r.reproduced)}`
            },
            {
              id: 'ok',
              label: 'OK',
              render: r => (r.within_tolerance ? 'yes' : 'no')
            }
          ]}
          rows={rows}
          rowKey={r => r.name}
          emptyText="No metrics."
        />
      )}
      {result.captured_writes && (
        <div className="jp-mlinfra-Models-capturedWrites" aria-label="Captured writes">
          <p className="jp-mlinfra-Muted">
            {result.captured_writes.length === 0
              ? 'The re-run tried no write to shared state.'
              : `The re-run tried ${result.captured_writes.length} write(s) to shared state; none was applied:`}
          </p>
          {result.captured_writes.length > 0 && (
            <ul>
              {result.captured_writes.map((w, i) => (
                <li key={i} data-kind={w.kind}>
                  <code>{w.kind}</code> {w.summary}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}

function asRecord(value: JSONValue | undefined): { [key: string]: JSONValue } {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as { [key: string]: JSONValue })
    : {};
}

function VersionBody(p: {
  v: ModelVersionInfo;
  api: MLInfraAPI;
  previewArtifacts?: boolean;
}): JSX.Element {
  const { v, api } = p;
  const artifactSource = React.useMemo<ArtifactSource>(
    () => ({
      url: (name, download) => api.models.modelArtifactUrl(v.name, v.version, name, download),
      text: (name, limit) => api.models.modelArtifactText(v.name, v.version, name, limit)
    }),
    [api, v.name, v.version]
  );
  const code = v.code ?? {};
  const git = asRecord(code.git);
  const replay = Array.isArray(code.replay) ? code.replay : [];
  const definition = v.definition ?? {};
  const params = asRecord(definition.hyperparameters);
  const artifacts = v.artifacts ?? [];
  const figures = artifacts.filter(a => a.kind === 'figure');
  const lineage: Array<[string, JSONValue | React.ReactElement]> = [
    [
      'notebook',
      code.notebook_path ? <NotebookLink key="nb" path={String(code.notebook_path)} /> : '—'
    ],
    [
      'replay order',
      replay.length ? `${replay.length} cell(s) (${String(code.replay_origin ?? '')})` : '—'
    ],
    [
      'git',
      git.commit
        ? `${String(git.commit).slice(0, 10)}${git.dirty ? ' (uncommitted changes)' : ''}`
        : '—'
    ],
    ['job run', v.run_id ? <RunLink key="run" id={v.run_id} /> : '—'],
    ['parameters', Object.keys(asRecord(code.parameters)).length ? asRecord(code.parameters) : '—']
  ];
  for (const d of v.data ?? []) {
    const lin = asRecord(d.lineage);
    const features = Array.isArray(lin.features) ? (lin.features as string[]) : [];
    const where = d.uri
      ? String(d.uri)
      : `${formatValue(d.rows ?? null)} rows, sha256 ${String(d.content_sha256 ?? '').slice(0, 12)}`;
    lineage.push([
      `${String(d.role)} data`,
      <span key={`data-${String(d.role)}`} className="jp-mlinfra-Lineage-data">
        {where}
        {features.length > 0 && (
          <>
            {' · features '}
            {features.map((f, i) => (
              <React.Fragment key={f}>
                {i > 0 && ', '}
                <FeatureRefLink reference={f} />
              </React.Fragment>
            ))}
          </>
        )}
      </span>
    ]);
  }
  lineage.push([
    'model',
    `${String(definition.module ?? '')}.${String(definition.class ?? '')} (${String(definition.distribution ?? '')} ${String(definition.library_version ?? '')})`
  ]);
  return (
    <>
      {!v.clean && (
        <p className="jp-mlinfra-Models-dirty" role="note">
          Registered from a notebook state that may not reproduce it: {v.dirty_reasons.join('; ')}
        </p>
      )}
      <KeyValueTable label="Lineage" entries={lineage} />
      {Object.keys(params).length > 0 && <HyperParameters params={params} />}
      <KeyValueTable
        label="Dependencies"
        entries={[
          ['python', v.dependencies?.python ?? '—'],
          [
            'packages',
            Object.entries(v.dependencies?.packages ?? {})
              .map(([d, ver]) => `${d}==${ver}`)
              .join(', ') || '—'
          ],
          ['environment lock', `${v.dependencies?.lock_size ?? 0} packages`]
        ]}
      />
      {!p.previewArtifacts &&
        figures.map(f => (
          <figure key={f.name} className="jp-mlinfra-Models-figure">
            <img src={api.models.modelArtifactUrl(v.name, v.version, f.name)} alt={f.name} />
            <figcaption>{f.name}</figcaption>
          </figure>
        ))}
      <DataTable
        label="Artifacts"
        columns={[
          {
            id: 'name',
            label: 'Artifact',
            render: a => (
              <a
                href={api.models.modelArtifactUrl(v.name, v.version, a.name)}
                target="_blank"
                rel="noreferrer"
              >
                {a.name}
              </a>
            )
          },
          { id: 'kind', label: 'Kind', render: a => a.kind },
          {
            id: 'size',
            label: 'Size',
            align: 'right',
            render: a => formatBytes(a.size),
            title: a => `sha256 ${a.sha256}`
          }
        ]}
        rows={artifacts}
        rowKey={a => a.name}
        emptyText="No artifacts."
      />
      {p.previewArtifacts && artifacts.some(a => artifactKind(a.name) !== 'other') && (
        <section className="jp-mlinfra-Section" aria-label="Artifact previews">
          <h4 className="jp-mlinfra-Subtitle">Artifact previews</h4>
          <ArtifactPreviews
            source={artifactSource}
            artifacts={artifacts.filter(a => artifactKind(a.name) !== 'other')}
            label={`Artifacts of ${v.name} v${v.version}`}
          />
        </section>
      )}
    </>
  );
}

/** Hyper-parameters, names verbatim; a long dump folds behind "all parameters". */
const SHOWN_PARAMETERS = 8;

function HyperParameters(p: { params: { [name: string]: JSONValue } }): JSX.Element {
  const entries = Object.entries(p.params);
  if (entries.length <= SHOWN_PARAMETERS) {
    return <KeyValueTable label="Hyper-parameters" entries={entries} />;
  }
  // the parameters set to something else than null/false first
  const ranked = [...entries].sort(
    ([, a], [, b]) => Number(a === null || a === false) - Number(b === null || b === false)
  );
  return (
    <>
      <KeyValueTable label="Hyper-parameters" entries={ranked.slice(0, SHOWN_PARAMETERS)} />
      <details className="jp-mlinfra-AllParameters">
        <summary>all parameters ({entries.length})</summary>
        <KeyValueTable label="All hyper-parameters" entries={entries} />
      </details>
    </>
  );
}

function formatBytes(n: number): string {
  if (n < 1024) {
    return `${n} B`;
  }
  if (n < 1024 * 1024) {
    return `${(n / 1024).toFixed(1)} KB`;
  }
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
