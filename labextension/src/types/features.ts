/** Feature store: the JSON of /mlinfra/api/features*. */

import type { JSONValue } from './core';

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
