/** Turning server values into short text for the panel. */

import { JSONValue } from '../types';

/** One line for any JSON value: strings as is, numbers grouped, objects as compact JSON. */
export function formatValue(value: JSONValue | undefined): string {
  if (value === undefined || value === null) {
    return '—';
  }
  if (typeof value === 'boolean') {
    return value ? 'yes' : 'no';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? value.toLocaleString()
      : value.toLocaleString(undefined, { maximumFractionDigits: 4 });
  }
  if (typeof value === 'string') {
    return value;
  }
  if (Array.isArray(value)) {
    return value.every(v => typeof v !== 'object' || v === null)
      ? value.map(v => formatValue(v)).join(', ')
      : JSON.stringify(value);
  }
  return JSON.stringify(value);
}

/**
 * A key as the user or the server wrote it: names are shown verbatim (`train_rmse`,
 * `logisticregression__C`), never with `_` turned into spaces.
 */
export function formatKey(key: string): string {
  return key;
}

/**
 * A server timestamp (ISO 8601, UTC) in the browser's time zone, e.g. `2026-11-30 04:12:09`;
 * the full UTC value is meant for a `title` tooltip (see `formatTimestampTitle`).
 */
export function formatTimestamp(iso: string | null | undefined): string {
  if (!iso) {
    return '—';
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

export function formatTimestampTitle(iso: string | null | undefined): string {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString()} (UTC)`;
}

/** `3 s ago`, `5 min ago`, ... relative to now. */
export function formatAgo(date: Date | null, now: Date = new Date()): string {
  if (!date) {
    return 'never';
  }
  const seconds = Math.max(0, Math.round((now.getTime() - date.getTime()) / 1000));
  if (seconds < 60) {
    return `${seconds} s ago`;
  }
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ago`;
  }
  return `${Math.round(minutes / 60)} h ago`;
}

/** A duration in seconds as `850 ms`, `12.3 s`, `4 min 05 s`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) {
    return '—';
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds % 60);
  return `${minutes} min ${String(rest).padStart(2, '0')} s`;
}
