/** Notebook jobs: the JSON of /mlinfra/api/jobs* and /runs* (mirrors core/jobs/states.py). */

import type { JSONValue } from './core';
import type { FeatureVisibility } from './features';

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
  /** deprecated alias of retry_backoff_seconds */
  retry_backoff: number;
  retry_backoff_seconds: number | null;
  /** deprecated alias of timeout_seconds */
  timeout: number | null;
  timeout_seconds: number | null;
  tags: string[];
  active: boolean;
  /** who may make their jobs run after this one */
  visibility: FeatureVisibility;
  team: string;
  next_fire_times: string[];
  created_at: string;
}

/** PATCH /jobs/{ref}: the fields to change (a job's name does not change). */
export interface JobUpdate {
  notebook?: string;
  parameters?: { [name: string]: JSONValue };
  schedule?: string | null;
  timezone?: string;
  depends_on?: string[];
  active?: boolean;
  visibility?: FeatureVisibility;
  description?: string;
  priority?: number;
  retries?: number;
  retry_backoff_seconds?: number;
  timeout_seconds?: number | null;
  tags?: string[];
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
  /** what the run is doing: queued, retry pending, waiting for upstream, starting kernel,
   * executing, cancelling, or its final state */
  phase?: string;
  /** attempts it may make in all (1 + retries) */
  max_attempts?: number;
  /** GET /runs/{id} only: every logged value, oldest first */
  metric_history?: Array<{ name: string; value: number; step: number | null; logged_at: string }>;
  /** GET /runs/{id} only: files the run saved */
  artifacts?: Array<{ name: string; key: string; size: number }>;
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
