/**
 * A model's description and tags on its page, editable in place (PATCH /models/{name}).
 * The server decides who may change them (the model's owner, or a role that may change other
 * users' things); a refusal shows the server's own message.
 */

import * as React from 'react';

// its styles (style/jobPage.css: the job graph, the job editor, the model's about box)
import '../../style/jobPage.css';

import type { MLInfraAPI } from '../api';
import { ErrorBanner } from '../common';
import type { ModelDetails } from '../types';

/** Tags as typed, one `key=value` a line: the tags, or the first line that is not one. */
export function parseTags(text: string): { tags: { [key: string]: string }; error: string | null } {
  const tags: { [key: string]: string } = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) {
      continue;
    }
    const at = line.indexOf('=');
    const key = (at < 0 ? line : line.slice(0, at)).trim();
    if (at < 0 || !key) {
      return { tags, error: `not key=value: ${line}` };
    }
    tags[key] = line.slice(at + 1).trim();
  }
  return { tags, error: null };
}

export function tagsText(tags: { [key: string]: string }): string {
  return Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

export function ModelAbout(p: {
  api: MLInfraAPI;
  info: ModelDetails;
  onSaved: () => void;
}): JSX.Element {
  const { api, info } = p;
  const [editing, setEditing] = React.useState(false);
  const [description, setDescription] = React.useState(info.description);
  const [tags, setTags] = React.useState(tagsText(info.tags));
  const [error, setError] = React.useState<Error | null>(null);
  const [saving, setSaving] = React.useState(false);
  const parsed = parseTags(tags);

  const start = () => {
    setDescription(info.description);
    setTags(tagsText(info.tags));
    setError(null);
    setEditing(true);
  };

  const save = async () => {
    setError(null);
    setSaving(true);
    try {
      await api.models.updateModel(info.name, {
        description,
        tags: parsed.tags,
        remove_tags: Object.keys(info.tags).filter(k => !(k in parsed.tags))
      });
      setEditing(false);
      p.onSaved();
    } catch (e) {
      setError(e as Error);
    } finally {
      setSaving(false);
    }
  };

  if (!editing) {
    const entries = Object.entries(info.tags);
    return (
      <div className="jp-mlinfra-ModelAbout" aria-label="About the model">
        {info.description ? (
          <p className="jp-mlinfra-Description" data-mlinfra-field="description">
            {info.description}
          </p>
        ) : (
          <p className="jp-mlinfra-Empty" data-mlinfra-field="description">
            No description.
          </p>
        )}
        <ul className="jp-mlinfra-ModelAbout-tags" aria-label="Tags">
          {entries.length === 0 && <li className="jp-mlinfra-Empty">No tags.</li>}
          {entries.map(([k, v]) => (
            <li key={k} className="jp-mlinfra-Badge" data-tag={k}>
              {v ? `${k}=${v}` : k}
            </li>
          ))}
        </ul>
        <button type="button" className="jp-mlinfra-Button" onClick={start}>
          Edit description and tags
        </button>
      </div>
    );
  }
  return (
    <form
      className="jp-mlinfra-ModelAbout jp-mlinfra-ModelAbout-edit"
      aria-label="Edit the model's description and tags"
      onSubmit={e => {
        e.preventDefault();
        if (!parsed.error && !saving) {
          void save();
        }
      }}
    >
      <label className="jp-mlinfra-Field">
        <span>Description</span>
        <textarea
          rows={3}
          value={description}
          onChange={e => setDescription(e.target.value)}
          aria-label="Description"
        />
      </label>
      <label className="jp-mlinfra-Field">
        <span>Tags (one key=value a line)</span>
        <textarea
          rows={Math.max(2, tags.split('\n').length)}
          value={tags}
          onChange={e => setTags(e.target.value)}
          aria-label="Tags"
          aria-invalid={parsed.error ? true : undefined}
        />
        {parsed.error && (
          <span className="jp-mlinfra-FieldError" role="alert">
            {parsed.error}
          </span>
        )}
      </label>
      <ErrorBanner error={error} context="Not saved" />
      <div className="jp-mlinfra-Toolbar">
        <button
          type="submit"
          className="jp-mlinfra-Button jp-mod-accept"
          disabled={!!parsed.error || saving}
        >
          {saving ? 'Saving…' : 'Save'}
        </button>
        <button type="button" className="jp-mlinfra-Button" onClick={() => setEditing(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
