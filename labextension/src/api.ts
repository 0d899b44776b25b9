/**
 * The REST client of /mlinfra/api: one sub-client per capability (src/<capability>/api.ts)
 * over one HTTP client (src/client.ts). Provided to other extensions as `IMLInfraAPI`
 * (src/tokens.ts).
 */

import { ServerConnection } from '@jupyterlab/services';

import { APIClient } from './client';
import { FeaturesAPI } from './features/api';
import { JobsAPI } from './jobs/api';
import { ModelsAPI } from './models/api';
import { NotebooksAPI } from './notebooks/api';
import { ProvenanceAPI } from './provenance/api';
import type { Health, OpenAPIDocument } from './types';

export { MLInfraAPIError } from './client';

export class MLInfraAPI {
  constructor(settings?: ServerConnection.ISettings) {
    this.client = new APIClient(settings);
    this.provenance = new ProvenanceAPI(this.client);
    this.jobs = new JobsAPI(this.client);
    this.models = new ModelsAPI(this.client);
    this.features = new FeaturesAPI(this.client);
    this.notebooks = new NotebooksAPI(this.client);
  }

  /** The HTTP client (base URL, token, error mapping) every sub-client uses. */
  readonly client: APIClient;
  readonly provenance: ProvenanceAPI;
  readonly jobs: JobsAPI;
  readonly models: ModelsAPI;
  readonly features: FeaturesAPI;
  readonly notebooks: NotebooksAPI;

  get serverSettings(): ServerConnection.ISettings {
    return this.client.serverSettings;
  }

  /** GET /health: version, storage backends and the status of every capability. */
  health(): Promise<Health> {
    return this.client.request<Health>('health');
  }

  /** GET /openapi.json: the API description. */
  openapi(): Promise<OpenAPIDocument> {
    return this.client.request<OpenAPIDocument>('openapi.json');
  }
}
