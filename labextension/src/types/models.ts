/** Model store: the JSON of /mlinfra/api/models* (server/openapi/models.json). */

import type { JSONValue } from './core';

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

/** A difference: the value in version a and in version b. */
export interface ValuePair {
  a: JSONValue | undefined;
  b: JSONValue | undefined;
}

/** GET /models/{name}/compare?a=&b= (core/models/compare.py compare_versions) */
export interface ModelComparison {
  a: string;
  b: string;
  model_class: { a: string; b: string };
  hyperparameters: { [name: string]: ValuePair };
  metrics: { [name: string]: { a: number | null; b: number | null; delta: number | null } };
  dependencies: { [name: string]: ValuePair };
  data: { [role: string]: { same: boolean; differences: { [field: string]: ValuePair } } };
  code: {
    diff: string;
    functions_diff: string;
    notebook: { a: string | null; b: string | null; same_snapshot: boolean };
    [key: string]: unknown;
  };
  [key: string]: unknown;
}
