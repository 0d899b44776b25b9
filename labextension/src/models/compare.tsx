/**
 * Compare two versions of a model (GET /models/{name}/compare, the store's compare):
 * metrics with deltas, hyper-parameters, class, data and dependencies that differ, and the
 * diff of their replay code. Names are shown as written.
 */

import * as React from 'react';

import type { MLInfraAPI } from '../api';
import { DataTable, ErrorBanner, formatValue } from '../common';
import type { JSONValue, ModelComparison, ModelVersionInfo, ValuePair } from '../types';

function show(value: JSONValue | undefined): string {
  return value === undefined ? '—' : formatValue(value);
}

function formatNumber(v: number | null): string {
  if (v === null) {
    return '—';
  }
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

function PairTable(p: { label: string; pairs: { [name: string]: ValuePair } }): JSX.Element {
  const rows = Object.entries(p.pairs).map(([name, pair]) => ({ name, ...pair }));
  if (!rows.length) {
    return <p className="jp-mlinfra-Empty">Same in both.</p>;
  }
  return (
    <DataTable
      label={p.label}
      columns={[
        { id: 'name', label: 'Name', render: r => <code>{r.name}</code> },
        { id: 'a', label: 'A', render: r => show(r.a) },
        { id: 'b', label: 'B', render: r => show(r.b) }
      ]}
      rows={rows}
      rowKey={r => r.name}
      emptyText="Same in both."
    />
  );
}

export function CompareVersions(p: {
  api: MLInfraAPI;
  name: string;
  versions: ModelVersionInfo[];
}): JSX.Element {
  const numbers = p.versions.map(v => v.version).sort((x, y) => x - y);
  const [a, setA] = React.useState<number>(numbers[Math.max(0, numbers.length - 2)] ?? 1);
  const [b, setB] = React.useState<number>(numbers[numbers.length - 1] ?? 1);
  const [result, setResult] = React.useState<ModelComparison | null>(null);
  const [error, setError] = React.useState<Error | null>(null);
  const [busy, setBusy] = React.useState(false);
  if (numbers.length < 2) {
    return <p className="jp-mlinfra-Empty">One version only: nothing to compare.</p>;
  }
  const compare = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await p.api.models.compareVersions(p.name, a, b));
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  const select = (label: string, value: number, set: (v: number) => void) => (
    <label className="jp-mlinfra-Field">
      <span>{label}</span>
      <select
        value={value}
        aria-label={`Compare version ${label}`}
        onChange={e => set(Number(e.target.value))}
      >
        {numbers.map(n => (
          <option key={n} value={n}>
            v{n}
          </option>
        ))}
      </select>
    </label>
  );
  const metrics = result ? Object.entries(result.metrics).map(([name, m]) => ({ name, ...m })) : [];
  return (
    <div className="jp-mlinfra-Models-compare" aria-label="Compare versions">
      <form
        className="jp-mlinfra-Toolbar"
        onSubmit={e => {
          e.preventDefault();
          void compare();
        }}
      >
        {select('A', a, setA)}
        {select('B', b, setB)}
        <button type="submit" className="jp-mlinfra-Button" disabled={busy || a === b}>
          {busy ? 'Comparing…' : 'Compare'}
        </button>
      </form>
      <ErrorBanner error={error} context="Could not compare" />
      {result && (
        <div aria-label="Comparison" data-a={result.a} data-b={result.b}>
          <h4 className="jp-mlinfra-Subtitle">
            {result.a} → {result.b}
          </h4>
          <DataTable
            label="Compared metrics"
            columns={[
              { id: 'metric', label: 'Metric', render: r => <code>{r.name}</code> },
              { id: 'a', label: result.a, render: r => formatNumber(r.a), align: 'right' },
              { id: 'b', label: result.b, render: r => formatNumber(r.b), align: 'right' },
              {
                id: 'delta',
                label: 'Δ',
                align: 'right',
                render: r =>
                  r.delta === null ? '—' : `${r.delta > 0 ? '+' : ''}${formatNumber(r.delta)}`
              }
            ]}
            rows={metrics}
            rowKey={r => r.name}
            emptyText="No metrics."
          />
          <h4 className="jp-mlinfra-Subtitle">Hyper-parameters that differ</h4>
          <PairTable label="Compared hyper-parameters" pairs={result.hyperparameters} />
          {result.model_class.a !== result.model_class.b && (
            <p>
              Class: <code>{result.model_class.a}</code> → <code>{result.model_class.b}</code>
            </p>
          )}
          <h4 className="jp-mlinfra-Subtitle">Data</h4>
          <ul aria-label="Compared data">
            {Object.entries(result.data).map(([role, d]) => (
              <li key={role}>
                {role}: {d.same ? 'same' : `differs in ${Object.keys(d.differences).join(', ')}`}
              </li>
            ))}
          </ul>
          <h4 className="jp-mlinfra-Subtitle">Dependencies that differ</h4>
          <PairTable label="Compared dependencies" pairs={result.dependencies} />
          <h4 className="jp-mlinfra-Subtitle">Code</h4>
          {result.code.diff ? (
            <pre className="jp-mlinfra-Models-diff" aria-label="Code diff">
              {result.code.diff}
            </pre>
          ) : (
            <p className="jp-mlinfra-Empty">Same replay code.</p>
          )}
        </div>
      )}
    </div>
  );
}
