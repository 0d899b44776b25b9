/**
 * The HTTP client under every capability's API (src/<capability>/api.ts).
 *
 * Every request goes through `ServerConnection.makeRequest`, so it carries the Jupyter token
 * and XSRF cookie like the rest of JupyterLab. A failed request rejects with an
 * `MLInfraAPIError` whose message is the server's `{"error": {"message"}}` text.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { ErrorBody, JSONValue } from './types';

/** Query-string values; `undefined` entries are left out. */
export type QueryParams = {
  [name: string]: string | number | boolean | undefined | null;
};

/** An error from the server (or from reaching it). */
export class MLInfraAPIError extends Error {
  constructor(
    message: string,
    /** The server's error code (`not_found`, `invalid_input`, ...), or `network_error`. */
    readonly code: string,
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    readonly details?: { [key: string]: JSONValue }
  ) {
    super(message);
    this.name = 'MLInfraAPIError';
  }
}
/**
 * The rows of a list answer: the envelope `{items, total, ...}` of the API contract, or
 * the older `{<legacyKey>: [...]}` shape.
 */
export function listItems<T>(data: unknown, legacyKey: string): T[] {
  if (data && typeof data === 'object') {
    const record = data as { [key: string]: unknown };
    if (Array.isArray(record.items)) {
      return record.items as T[];
    }
    if (Array.isArray(record[legacyKey])) {
      return record[legacyKey] as T[];
    }
  }
  if (Array.isArray(data)) {
    return data as T[];
  }
  return [];
}

export class APIClient {
  constructor(settings?: ServerConnection.ISettings) {
    this.serverSettings = settings ?? ServerConnection.makeSettings();
  }

  readonly serverSettings: ServerConnection.ISettings;

  /**
   * The full URL of an API path: each argument is one URL-encoded path segment, e.g.
   * `url('models', name, 'versions')` → `<base>/mlinfra/api/models/<name>/versions`.
   */
  url(...segments: string[]): string {
    return URLExt.join(
      this.serverSettings.baseUrl,
      'mlinfra/api',
      ...segments.map(s => encodeURIComponent(s))
    );
  }

  /**
   * Send a request and parse its JSON answer.
   *
   * @param path - below /mlinfra/api: a string such as `'jobs/runs'` (split on `/`), or an
   *   array of segments (each encoded whole, so an id may contain `/`)
   * @param init - method, body (a plain object is sent as JSON), headers
   * @param query - query-string parameters
   */
  async request<T>(
    path: string | string[],
    init: Omit<RequestInit, 'body'> & { body?: unknown } = {},
    query?: QueryParams
  ): Promise<T> {
    const segments = Array.isArray(path) ? path : path.split('/');
    let url = this.url(...segments.filter(s => s !== ''));
    if (query) {
      const entries = Object.entries(query).filter(
        ([, value]) => value !== undefined && value !== null
      );
      if (entries.length) {
        url +=
          '?' +
          entries
            .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
            .join('&');
      }
    }
    const { body, ...rest } = init;
    const request: RequestInit = { ...rest };
    if (body !== undefined) {
      request.body = typeof body === 'string' ? body : JSON.stringify(body);
      request.headers = { 'Content-Type': 'application/json', ...rest.headers };
    }

    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, request, this.serverSettings);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new MLInfraAPIError(`cannot reach the Jupyter server: ${reason}`, 'network_error', 0);
    }

    const text = await response.text();
    let data: unknown = undefined;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
    }
    if (!response.ok) {
      throw errorFromResponse(response, data, text);
    }
    if (data === undefined && text) {
      throw new MLInfraAPIError(
        `the server answered ${url} with a body that is not JSON`,
        'invalid_response',
        response.status
      );
    }
    return data as T;
  }

  /**
   * The first bytes of a file the API serves (an artifact preview: `url` carries the
   * `?limit=`), as UTF-8 text, with the whole size from its `X-Artifact-Size` header.
   */
  async textPrefix(url: string): Promise<{ text: string; size: number; truncated: boolean }> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, {}, this.serverSettings);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new MLInfraAPIError(`cannot reach the Jupyter server: ${reason}`, 'network_error', 0);
    }
    if (!response.ok) {
      const text = await response.text();
      let data: unknown = undefined;
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
      throw errorFromResponse(response, data, text);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    const size = Number(response.headers.get('X-Artifact-Size') ?? bytes.length);
    // a cut in the middle of a UTF-8 sequence is not an error (stream: true keeps it back)
    const text = new TextDecoder('utf-8').decode(bytes, { stream: bytes.length < size });
    return { text, size, truncated: bytes.length < size };
  }
}

function isErrorBody(data: unknown): data is ErrorBody {
  if (typeof data !== 'object' || data === null || !('error' in data)) {
    return false;
  }
  const error = (data as { error: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}

function errorFromResponse(response: Response, data: unknown, text: string): MLInfraAPIError {
  if (isErrorBody(data)) {
    const { code, message, details } = data.error;
    return new MLInfraAPIError(
      message,
      code || `http_${response.status}`,
      response.status,
      details
    );
  }
  // Not one of ours (a proxy, or jupyter_server before our handler): keep it short.
  const snippet = text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const reason = response.statusText || snippet.slice(0, 200);
  return new MLInfraAPIError(
    `HTTP ${response.status}${reason ? `: ${reason}` : ''}`,
    `http_${response.status}`,
    response.status
  );
}
