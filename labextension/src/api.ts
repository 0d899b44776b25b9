/**
 * The REST client: one method per endpoint of /mlinfra/api.
 *
 * Every request goes through `ServerConnection.makeRequest`, so it carries the Jupyter token
 * and XSRF cookie like the rest of JupyterLab. A failed request rejects with an
 * `MLInfraAPIError` whose message is the server's `{"error": {"message"}}` text.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { ErrorBody, Health, JSONValue, OpenAPIDocument } from './tokens';
import {
  ProvenanceView,
  RecordingStatus,
  ReplaySummary,
  VerifyResult
} from './tokens';
import { FeatureTable, FeatureViewDetails, FeatureViewSummary } from './tokens';
import { ModelDetails, ModelSummary, ModelVersionInfo, ReproductionResult } from './tokens';
import {
  JobCreate,
  JobInfo,
  NotebookParameters,
  RunInfo,
  RunLogChunk,
  RunPage,
  SchedulePreview
} from './tokens';

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

export class MLInfraAPI {
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
            .map(
              ([k, v]) =>
                `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`
            )
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
      response = await ServerConnection.makeRequest(
        url,
        request,
        this.serverSettings
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new MLInfraAPIError(
        `cannot reach the Jupyter server: ${reason}`,
        'network_error',
        0
      );
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

  // -- foundation -------------------------------------------------------------------------

  /** GET /health: version, storage backends and the status of every capability. */
  health(): Promise<Health> {
    return this.request<Health>('health');
  }

  /** GET /openapi.json: the API description. */
  openapi(): Promise<OpenAPIDocument> {
    return this.request<OpenAPIDocument>('openapi.json');
  }

  // -- provenance -------------------------------------------------------------------------

  /** GET /provenance: history and hazards of a notebook (against the saved file). */
  getProvenance(
    path: string,
    kernelId?: string,
    session?: string
  ): Promise<ProvenanceView> {
    return this.request('provenance', {}, { path, kernel_id: kernelId, session });
  }

  /** POST /provenance/recording: every new kernel records from its first cell (or not). */
  setRecording(body: {
    enabled: boolean;
    scope?: 'user';
  }): Promise<RecordingStatus> {
    return this.request('provenance/recording', { method: 'POST', body });
  }

  /** POST /provenance/check: history and hazards against the cells shown now. */
  checkProvenance(body: {
    path: string;
    cells: Array<{ id: string; source: string; cell_type: string }>;
    kernel_id?: string;
  }): Promise<ProvenanceView> {
    return this.request('provenance/check', { method: 'POST', body });
  }

  /** POST /provenance/replay: write the replay notebook (default: <name>.replay.ipynb). */
  exportReplay(body: {
    path: string;
    cell_id?: string;
    kernel_id?: string;
    session_id?: string;
    out_path?: string;
    /** Replace an existing file (otherwise an existing file is a 409). */
    overwrite?: boolean;
  }): Promise<ReplaySummary> {
    return this.request('provenance/replay', { method: 'POST', body });
  }

  /** POST /provenance/verify: re-run the saved notebook in a fresh kernel; compare outputs. */
  verifyNotebook(body: {
    path: string;
    replay?: boolean;
    cell_id?: string;
  }): Promise<VerifyResult> {
    return this.request('provenance/verify', { method: 'POST', body });
  }

  // -- jobs -------------------------------------------------------------------------------

  // -- models -----------------------------------------------------------------------------

  /** GET /models: models matching a name substring, owner, tags and metric thresholds. */
  listModels(filters: {
    q?: string;
    owner?: string;
    metric?: string;
    tag?: string;
    archived?: boolean;
  } = {}): Promise<{ models: ModelSummary[] }> {
    return this.request('models', {}, filters);
  }

  /** GET /models/{name}: the model, its versions (newest first) and aliases. */
  getModel(name: string): Promise<ModelDetails> {
    return this.request(['models', name]);
  }

  /** GET /models/{name}/versions/{version}: everything captured at registration. */
  getModelVersion(name: string, version: number): Promise<ModelVersionInfo> {
    return this.request(['models', name, 'versions', String(version)]);
  }

  /** PUT /models/{name}/aliases/{alias}: move (or create) an alias atomically. */
  setModelAlias(
    name: string,
    alias: string,
    version: number,
    protectedAlias?: boolean
  ): Promise<{ alias: string; version: number; protected: boolean }> {
    return this.request(['models', name, 'aliases', alias], {
      method: 'PUT',
      body: { version, protected: protectedAlias }
    });
  }

  /** PATCH /models/{name}/versions/{version}: archive or restore a version. */
  archiveModelVersion(
    name: string,
    version: number,
    archived: boolean
  ): Promise<ModelVersionInfo> {
    return this.request(['models', name, 'versions', String(version)], {
      method: 'PATCH',
      body: { archived }
    });
  }

  /** POST /models/{name}/versions/{version}/reproduce: re-run in a fresh kernel, compare. */
  reproduceModelVersion(
    name: string,
    version: number,
    tolerance?: number
  ): Promise<ReproductionResult> {
    return this.request(['models', name, 'versions', String(version), 'reproduce'], {
      method: 'POST',
      body: tolerance === undefined ? {} : { tolerance }
    });
  }

  /** The URL of one artifact's bytes (figures are shown with it; cookies authenticate). */
  modelArtifactUrl(name: string, version: number, artifact: string): string {
    return this.url('models', name, 'versions', String(version), 'artifacts', ...artifact.split('/'));
  }

  // -- features ---------------------------------------------------------------------------

  /** GET /features: the views you may see, filtered by text, owner, tag or entity. */
  listFeatureViews(filters: {
    q?: string;
    owner?: string;
    tag?: string;
    entity?: string;
  } = {}): Promise<{ views: FeatureViewSummary[] }> {
    return this.request('features', {}, filters);
  }

  /** GET /features/views/{name}: schema, statistics, freshness, versions, used by. */
  describeFeatureView(name: string): Promise<FeatureViewDetails> {
    return this.request(['features', 'views', name]);
  }

  /** GET /features/views/{name}/sample: the most recent offline rows. */
  sampleFeatureView(name: string, n = 5): Promise<FeatureTable> {
    return this.request(['features', 'views', name, 'sample'], {}, { n });
  }

  // -- Jobs ------------------------------------------------------------------------------------

  /** GET /jobs */
  listJobs(): Promise<{ jobs: JobInfo[] }> {
    return this.request<{ jobs: JobInfo[] }>('jobs');
  }

  /** POST /jobs: 400 invalid cron/parameters, 404 unknown notebook, 409 cycle, 429 quota. */
  createJob(job: JobCreate): Promise<JobInfo> {
    return this.request<JobInfo>('jobs', { method: 'POST', body: job });
  }

  /** POST /jobs/{name}/run|pause|resume */
  jobAction(name: string, action: 'run' | 'pause' | 'resume'): Promise<JobInfo | RunInfo> {
    return this.request<JobInfo | RunInfo>(['jobs', name, action], { method: 'POST', body: {} });
  }

  /** DELETE /jobs/{name} */
  deleteJob(name: string): Promise<void> {
    return this.request<void>(['jobs', name], { method: 'DELETE' });
  }

  /** GET /jobs/schedule-preview: the next fire times of a cron expression. */
  schedulePreview(schedule: string, timezone: string): Promise<SchedulePreview> {
    return this.request<SchedulePreview>('jobs/schedule-preview', {}, { schedule, timezone });
  }

  /** GET /jobs/notebook-parameters: a notebook's parameters cell, typed. */
  notebookParameters(notebook: string): Promise<NotebookParameters> {
    return this.request<NotebookParameters>('jobs/notebook-parameters', {}, { notebook });
  }

  /** GET /runs with filters and pagination. */
  listRuns(query: { job?: string; state?: string; q?: string; limit?: number; offset?: number } = {}): Promise<RunPage> {
    return this.request<RunPage>('runs', {}, query);
  }

  /** POST /runs: run a notebook now. */
  submitRun(notebook: string, parameters: { [name: string]: unknown }): Promise<RunInfo> {
    return this.request<RunInfo>('runs', { method: 'POST', body: { notebook, parameters } });
  }

  /** GET /runs/{id} */
  getRun(id: string): Promise<RunInfo> {
    return this.request<RunInfo>(['runs', id]);
  }

  /** POST /runs/{id}/cancel|retry */
  runAction(id: string, action: 'cancel' | 'retry'): Promise<RunInfo> {
    return this.request<RunInfo>(['runs', id, action], { method: 'POST', body: {} });
  }

  /** GET /runs/{id}/log?offset= */
  runLog(id: string, offset = 0): Promise<RunLogChunk> {
    return this.request<RunLogChunk>(['runs', id, 'log'], {}, { offset });
  }

  /** GET /runs/{id}/output: the output notebook (nbformat JSON). */
  runOutput(id: string): Promise<{ [key: string]: unknown }> {
    return this.request<{ [key: string]: unknown }>(['runs', id, 'output']);
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

function errorFromResponse(
  response: Response,
  data: unknown,
  text: string
): MLInfraAPIError {
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
  const snippet = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  const reason = response.statusText || snippet.slice(0, 200);
  return new MLInfraAPIError(
    `HTTP ${response.status}${reason ? `: ${reason}` : ''}`,
    `http_${response.status}`,
    response.status
  );
}
