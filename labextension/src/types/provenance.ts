/** Provenance: the JSON of /mlinfra/api/provenance*. */

import type { JSONValue } from './core';

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

export type VerifyCellStatus = 'match' | 'mismatch' | 'error' | 'skipped' | 'not_run';

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
