/**
 * TypeScript types mirroring the JSON of the jupyter_mlinfra REST API
 * (served under /mlinfra/api; described by /mlinfra/api/openapi.json).
 *
 * Each capability adds its own section below (types only, matching its OpenAPI schemas).
 */

// -- foundation ---------------------------------------------------------------------------

/** The four capabilities, in the order of the panel's tabs. */
export type CapabilityName = 'provenance' | 'jobs' | 'models' | 'features';

export const CAPABILITY_NAMES: readonly CapabilityName[] = [
  'provenance',
  'jobs',
  'models',
  'features'
];

/** A JSON value as returned by the server. */
export type JSONValue =
  | string
  | number
  | boolean
  | null
  | JSONValue[]
  | { [key: string]: JSONValue };

/** The body of every error response: `{"error": {"code", "message"}}`. */
export interface ErrorBody {
  error: {
    code: string;
    message: string;
    details?: { [key: string]: JSONValue };
  };
}

export interface CatalogInfo {
  /** 'sqlite' or 'postgresql'. */
  backend: string;
  /** The catalog URL with any password redacted. */
  url: string;
  schema_revisions: string[];
  catalog_id: string | null;
}

export interface ArtifactStoreInfo {
  /** 'local' or 's3'. */
  backend: string;
  /** A folder, or `s3://bucket/prefix`. */
  root: string;
  endpoint_url?: string;
}

/**
 * The live status of one capability. When `available` is false, `message` says why;
 * when true, the capability's service adds its own keys (counts, settings, ...).
 */
export interface CapabilityStatus {
  available: boolean;
  message?: string;
  [key: string]: JSONValue | undefined;
}

/** GET /mlinfra/api/health */
export interface Health {
  status: 'ok';
  version: string;
  user?: string;
  catalog: CatalogInfo;
  artifacts: ArtifactStoreInfo;
  capabilities: Record<CapabilityName, CapabilityStatus>;
}

/** GET /mlinfra/api/openapi.json (only the parts the panel reads). */
export interface OpenAPIDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths: { [path: string]: { [method: string]: JSONValue } };
  [key: string]: JSONValue | undefined;
}

// -- provenance ---------------------------------------------------------------------------

/** One recorded execution of one cell. */
export interface ProvenanceExecution {
  seq: number;
  cell_id: string;
  execution_count: number | null;
  source: string;
  session_id: string;
  notebook_path: string;
  started_at: string | null;
  ended_at: string | null;
  duration_ms: number | null;
  status: 'ok' | 'error';
  error_type: string | null;
  reads: string[];
  binds: string[];
  mutates: string[];
  deletes: string[];
}

export type ProvenanceFindingKind =
  | 'stale_direct'
  | 'stale_transitive'
  | 'out_of_order'
  | 'hidden_state'
  | 'code_changed'
  | 'unexecuted'
  | 'reads_from_below'
  | 'before_recording';

/** One hazard, with its plain-sentence explanation. */
export interface ProvenanceFinding {
  kind: ProvenanceFindingKind;
  cell_id: string | null;
  names: string[];
  message: string;
}

export interface ProvenanceReport {
  notebook_path: string;
  session_id: string;
  executions: number;
  clean: boolean;
  stale: string[];
  stale_direct: string[];
  stale_transitive: string[];
  out_of_order: boolean;
  hidden_state: string[];
  hidden_state_cells: string[];
  code_changed: string[];
  unexecuted: string[];
  reads_from_below: string[];
  /** Executions the kernel ran before recording started (0: recorded from its first cell). */
  before_recording?: number;
  explanations: ProvenanceFinding[];
}

/** The open notebook's kernel: the session it records now (one per kernel lifetime). */
export interface ProvenanceKernel {
  kernel_id: string;
  recording: boolean;
  session_id: string | null;
  started_at: string | null;
  /** The kernel had an earlier session: it was restarted. */
  restarted: boolean;
  previous_session_id: string | null;
}

/** POST /provenance/recording */
export interface RecordingStatus {
  enabled: boolean;
  scopes: { [scope: string]: { enabled: boolean; path: string } };
}

/** GET /provenance?path= and POST /provenance/check */
export interface ProvenanceView {
  notebook_path: string;
  path: string;
  session_id: string | null;
  sessions: Array<{
    session_id: string;
    kernel_id?: string | null;
    executions: number;
    started_at: string | null;
    last_execution_at: string | null;
  }>;
  /** The kernel the request named (kernel_id), null when none was named. */
  kernel?: ProvenanceKernel | null;
  /** New kernels record from their first cell (jupyter mlinfra enable-recording). */
  recording_enabled?: boolean;
  executions: ProvenanceExecution[];
  report: ProvenanceReport | null;
  /** The execution log, stored in the notebook's metadata (jupyter_mlinfra.provenance). */
  log: { [key: string]: JSONValue } | null;
  /** 'saved': the kernel has recorded nothing yet; this is the log saved in the notebook. */
  source?: 'recorded' | 'saved';
  /** With source 'saved': when and on which machine (host name) the log was saved. */
  saved_at?: string | null;
  machine?: string | null;
}

/** POST /provenance/replay */
export interface ReplaySummary {
  path: string;
  cells: number;
  executions: Array<{ seq: number; cell_id: string; execution_count?: number | null }>;
}

export type VerifyCellStatus =
  | 'match'
  | 'mismatch'
  | 'error'
  | 'skipped'
  | 'not_run';

/** POST /provenance/verify */
export interface VerifyResult {
  notebook: string;
  replay: boolean;
  verdict: 'pass' | 'fail';
  ok: boolean;
  counts: { [status: string]: number };
  duration_s: number;
  run_error: string | null;
  cells: Array<{
    index: number;
    cell_id: string;
    status: VerifyCellStatus;
    reason: string;
    diff: string;
    origin?: { cell_id: string; seq: number };
  }>;
}

// -- jobs ---------------------------------------------------------------------------------

// -- models -------------------------------------------------------------------------------

// -- features -----------------------------------------------------------------------------

export type FeatureType = 'int64' | 'float64' | 'bool' | 'string' | 'datetime';
export type FeatureVisibility = 'private' | 'team' | 'public';

export interface FeatureSpec {
  name: string;
  dtype: FeatureType;
}

/** One entry of GET /features (a view the caller may see). */
export interface FeatureViewSummary {
  name: string;
  owner: string;
  team: string;
  visibility: FeatureVisibility;
  description: string;
  tags: string[];
  ttl_seconds: number | null;
  ttl: string;
  latest_version: number;
  created_at: string;
  updated_at: string;
  entities: string[];
  join_keys: string[];
  features: FeatureSpec[];
  last_updated_data?: string | null;
}

export interface FeatureStatistics {
  dtype: FeatureType;
  nulls: number;
  min?: number | null;
  max?: number | null;
  mean?: number | null;
  std?: number | null;
  distinct?: number;
}

/** GET /features/views/{name} */
export interface FeatureViewDetails extends FeatureViewSummary {
  version: number;
  versions: Array<{
    version: number;
    fingerprint: string;
    created_by: string;
    created_at: string | null;
    features: string[];
  }>;
  freshness: {
    last_materialized_at: string | null;
    materialized_until: string | null;
    last_push_at: string | null;
    latest_event_time: string | null;
    age_seconds: number | null;
    offline_files: number;
    offline_rows: number;
    online_entities: number;
  };
  used_by: Array<{
    consumer: string;
    version: number;
    features: string[];
    recorded_by: string;
    at: string;
  }>;
  statistics: {
    rows: number;
    entities: number;
    features: { [name: string]: FeatureStatistics };
  } | null;
  definition: { [key: string]: JSONValue };
}

/** GET /features/views/{name}/sample */
export interface FeatureTable {
  columns: string[];
  rows: JSONValue[][];
}

// -- models (server/openapi/models.json) ---------------------------------------------------

/** One row of GET /models: a model with the newest version matching the filters. */
export interface ModelSummary {
  name: string;
  owner: string;
  description: string;
  tags: { [key: string]: string };
  latest_version: number;
  version: number;
  matching_versions: number;
  metrics: { [name: string]: number };
  aliases: { [alias: string]: number };
  model_class: string;
  updated_at: string | null;
}

export interface ModelArtifact {
  name: string;
  kind: string;
  format: string;
  media_type: string;
  sha256: string;
  size: number;
  key: string;
  loadable: boolean;
}

/** A version as listed (GET /models/{name}); GET .../versions/{v} adds the captured details. */
export interface ModelVersionInfo {
  name: string;
  version: number;
  id: string;
  owner: string;
  status: 'ready' | 'archived' | string;
  created_at: string;
  description: string;
  tags: { [key: string]: string };
  flavor: string;
  metrics: { [name: string]: number };
  clean: boolean;
  dirty_reasons: string[];
  run_id: string | null;
  aliases: string[];
  model_class: string;
  definition?: { [key: string]: JSONValue };
  signature?: { [key: string]: JSONValue };
  dependencies?: {
    python?: string;
    platform?: string;
    packages?: { [dist: string]: string };
    lock_size?: number;
  };
  data?: Array<{ [key: string]: JSONValue }>;
  code?: { [key: string]: JSONValue };
  artifacts?: ModelArtifact[];
}

export interface ModelAliasInfo {
  alias: string;
  version: number;
  protected: boolean;
  owner: string;
  updated_by: string;
  updated_at: string;
}

/** POST /models/{name}/versions/{version}/reproduce */
export interface ReproductionResult {
  ref: string;
  reproduced: boolean;
  error: string | null;
  executed_by?: string;
  source?: string;
  duration?: number;
  run_id?: string;
  tolerance: number;
  parameters?: { [name: string]: JSONValue };
  metrics: {
    [name: string]: {
      recorded: number | null;
      reproduced: number | null;
      difference: number | null;
      within_tolerance: boolean;
    };
  };
  /** Writes to shared state the re-run attempted: captured, not applied. */
  captured_writes?: CapturedWrite[];
}

/** One write to shared state a reproduce re-run attempted (and did not apply). */
export interface CapturedWrite {
  kind: string;
  target: string;
  summary: string;
  details?: { [key: string]: JSONValue };
}

/** GET /models/{name} */
export interface ModelDetails {
  name: string;
  owner: string;
  description: string;
  tags: { [key: string]: string };
  created_at: string;
  updated_at: string;
  latest_version: number;
  aliases: ModelAliasInfo[];
  versions: ModelVersionInfo[];
}

// -- Jobs (mirrors jupyter_mlinfra/core/jobs/states.py) ----------------------------------------

export type RunState =
  | 'queued'
  | 'waiting'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'upstream_failed'
  | 'cancelled'
  | 'timed_out';

export type RunTrigger = 'manual' | 'schedule' | 'dependency' | 'sweep' | 'retry';

export interface JobInfo {
  id: string;
  name: string;
  owner: string;
  description: string;
  notebook: string;
  parameters: { [name: string]: JSONValue };
  kernel_name: string | null;
  schedule: string | null;
  timezone: string;
  catchup: 'none' | 'latest' | 'all';
  depends_on: string[];
  priority: number;
  resources: { cpus: number; memory_mb: number };
  retries: number;
  retry_backoff: number;
  timeout: number | null;
  tags: string[];
  active: boolean;
  next_fire_times: string[];
  created_at: string;
}

export interface JobCreate {
  name: string;
  notebook: string;
  parameters?: { [name: string]: JSONValue };
  schedule?: string | null;
  timezone?: string;
  depends_on?: string[];
  priority?: number;
  retries?: number;
  timeout?: number | null;
  tags?: string[];
}

export interface RunError {
  type: string;
  message: string;
  cell_index?: number;
  cell_id?: string;
  cell_source?: string;
  traceback?: string;
}

export interface RunInfo {
  id: string;
  job_id: string | null;
  job_name: string | null;
  owner: string;
  notebook: string;
  parameters: { [name: string]: JSONValue };
  state: RunState;
  trigger: RunTrigger;
  attempt: number;
  retries: number;
  priority: number;
  worker: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration: number | null;
  cancel_requested: boolean;
  progress: { executed?: number; code_cells?: number; cell_id?: string };
  error: RunError | null;
  metrics: { [name: string]: number };
  tags: string[];
  sweep_id: string | null;
  pipeline_id: string | null;
  environment: { python?: string; kernel_name?: string; [key: string]: JSONValue | undefined };
  /** who may read it (its job's, for a run of a job); team: its owner's team */
  visibility: FeatureVisibility;
  team: string;
}

/** A page of GET /runs: run summaries (no environment nor attempt history). */
export interface RunPage {
  items: RunInfo[];
  total: number;
  total_exact: boolean;
  limit: number;
  offset: number;
  next_cursor: string | null;
}

export interface RunLogChunk {
  run_id: string;
  state: RunState;
  next_offset: number;
  lines: Array<{ offset: number; at: string; stream: string; text: string }>;
}

export interface NotebookParameter {
  name: string;
  inferred_type_name: string;
  default: string;
  help: string;
}

export interface NotebookParameters {
  notebook: string;
  has_parameters_cell: boolean;
  parameters: NotebookParameter[];
}

export interface SchedulePreview {
  schedule: string;
  timezone: string;
  next_fire_times: string[];
  next_fire_times_local: string[];
}
