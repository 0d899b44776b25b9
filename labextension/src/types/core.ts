/** Types shared by every capability: health, errors, JSON values (GET /mlinfra/api/health, /openapi.json). */

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
  string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue };

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
