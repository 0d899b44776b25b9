/**
 * Artifacts with a preview each, for a run's page and a model version's: images (png, jpg,
 * gif, webp, svg) as `<img>` (an SVG in an `<img>` runs no script), CSV/TSV as a table of
 * their first rows, JSON, Python and text as their first kilobyte in monospace; anything
 * else: its size and a download link. The bytes come from the owner's artifact endpoint
 * (GET /runs/{id}/artifacts/{name}, GET /models/{name}/versions/{v}/artifacts/{name}), with
 * `?limit=` for previews.
 */

import * as React from 'react';

import { ErrorBanner } from './errorBanner';

/** One artifact as listed by its run or model version. */
export interface PreviewedArtifact {
  name: string;
  size: number;
  key?: string;
}

/** Where the artifacts' bytes come from (a run, a model version). */
export interface ArtifactSource {
  /** Its URL (`download`: as an attachment). */
  url(name: string, download?: boolean): string;
  /** Its first `limit` bytes as text, and its whole size. */
  text(name: string, limit: number): Promise<{ text: string; truncated: boolean }>;
}

type Kind = 'image' | 'table' | 'text' | 'other';

const TEXT_PREVIEW_BYTES = 1024;
const TABLE_PREVIEW_BYTES = 16 * 1024;
const TABLE_PREVIEW_ROWS = 8;

export function artifactKind(name: string): Kind {
  const ext = name.toLowerCase().split('.').pop() ?? '';
  if (['png', 'jpg', 'jpeg', 'gif', 'webp', 'svg'].includes(ext)) {
    return 'image';
  }
  if (ext === 'csv' || ext === 'tsv') {
    return 'table';
  }
  if (['json', 'txt', 'log', 'md', 'yaml', 'yml', 'py', 'toml', 'cfg'].includes(ext)) {
    return 'text';
  }
  return 'other';
}

export function formatBytes(size: number): string {
  if (size < 1024) {
    return `${size} B`;
  }
  if (size < 1024 * 1024) {
    return `${(size / 1024).toFixed(1)} KB`;
  }
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

/** The first rows of a CSV/TSV text (a last line cut by the byte limit is left out). */
async function parseTable(
  text: string,
  tsv: boolean,
  truncated: boolean
): Promise<{ columns: string[]; rows: string[][] }> {
  const { dsvFormat } = await import('d3-dsv');
  let body = text;
  if (truncated) {
    body = body.slice(0, Math.max(0, body.lastIndexOf('\n')));
  }
  const [header = [], ...rows] = dsvFormat(tsv ? '\t' : ',').parseRows(body);
  return { columns: header, rows: rows.slice(0, TABLE_PREVIEW_ROWS) };
}

function TablePreview(p: { source: ArtifactSource; artifact: PreviewedArtifact }): JSX.Element {
  const { source, artifact } = p;
  const [table, setTable] = React.useState<{ columns: string[]; rows: string[][] } | null>(null);
  const [error, setError] = React.useState<Error | null>(null);
  React.useEffect(() => {
    let gone = false;
    source
      .text(artifact.name, TABLE_PREVIEW_BYTES)
      .then(r => parseTable(r.text, artifact.name.toLowerCase().endsWith('.tsv'), r.truncated))
      .then(t => !gone && setTable(t))
      .catch(e => !gone && setError(e as Error));
    return () => {
      gone = true;
    };
  }, [source, artifact.name, artifact.size]);
  if (error) {
    return <ErrorBanner error={error} context="Could not preview" />;
  }
  if (!table) {
    return <p className="jp-mlinfra-Empty">Loading…</p>;
  }
  return (
    <div className="jp-mlinfra-ArtifactTable">
      <table aria-label={`First rows of ${artifact.name}`}>
        <thead>
          <tr>
            {table.columns.map((c, i) => (
              <th key={i} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {table.rows.map((row, r) => (
            <tr key={r}>
              {table.columns.map((_, i) => (
                <td key={i}>{row[i] ?? ''}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      <p className="jp-mlinfra-Muted">
        first {table.rows.length} {table.rows.length === 1 ? 'row' : 'rows'}
      </p>
    </div>
  );
}

function TextPreview(p: { source: ArtifactSource; artifact: PreviewedArtifact }): JSX.Element {
  const { source, artifact } = p;
  const [text, setText] = React.useState<{ text: string; truncated: boolean } | null>(null);
  const [error, setError] = React.useState<Error | null>(null);
  React.useEffect(() => {
    let gone = false;
    source
      .text(artifact.name, TEXT_PREVIEW_BYTES)
      .then(r => !gone && setText(r))
      .catch(e => !gone && setError(e as Error));
    return () => {
      gone = true;
    };
  }, [source, artifact.name, artifact.size]);
  if (error) {
    return <ErrorBanner error={error} context="Could not preview" />;
  }
  if (!text) {
    return <p className="jp-mlinfra-Empty">Loading…</p>;
  }
  return (
    <pre className="jp-mlinfra-ArtifactText" aria-label={`Start of ${artifact.name}`} tabIndex={0}>
      {text.text}
      {text.truncated ? '\n…' : ''}
    </pre>
  );
}

function ArtifactCard(p: { source: ArtifactSource; artifact: PreviewedArtifact }): JSX.Element {
  const { source, artifact } = p;
  const kind = artifactKind(artifact.name);
  const download = source.url(artifact.name, true);
  const fileName = artifact.name.split('/').pop() ?? artifact.name;
  return (
    <figure
      className="jp-mlinfra-ArtifactCard"
      data-artifact={artifact.name}
      data-preview={kind}
      aria-label={`Artifact ${artifact.name}`}
    >
      <figcaption>
        <span className="jp-mlinfra-ArtifactCard-name" title={artifact.name}>
          {artifact.name}
        </span>
        <span className="jp-mlinfra-Muted">{formatBytes(artifact.size)}</span>
        <a
          className="jp-mlinfra-LinkButton"
          href={download}
          download={fileName}
          aria-label={`Download ${artifact.name}`}
        >
          Download
        </a>
      </figcaption>
      {kind === 'image' && (
        <img
          className="jp-mlinfra-ArtifactImage"
          src={source.url(artifact.name)}
          alt={artifact.name}
        />
      )}
      {kind === 'table' && <TablePreview source={source} artifact={artifact} />}
      {kind === 'text' && <TextPreview source={source} artifact={artifact} />}
      {kind === 'other' && <p className="jp-mlinfra-Empty">No preview for this type of file.</p>}
    </figure>
  );
}

/** The artifacts' cards (`label` names the group, e.g. "Run artifacts"). */
export function ArtifactPreviews(p: {
  source: ArtifactSource;
  artifacts: PreviewedArtifact[];
  label: string;
}): JSX.Element {
  return (
    <div className="jp-mlinfra-Artifacts" aria-label={p.label}>
      {p.artifacts.map(a => (
        <ArtifactCard key={a.key ?? a.name} source={p.source} artifact={a} />
      ))}
    </div>
  );
}
