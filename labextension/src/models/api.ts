/** Model store API calls: /mlinfra/api/models*. */

import { APIClient, listItems } from '../client';
import type {
  ModelComparison,
  ModelDetails,
  ModelSummary,
  ModelVersionInfo,
  ReproductionResult
} from '../types';

export class ModelsAPI {
  constructor(private readonly client: APIClient) {}

  /** GET /models: models matching a name substring, owner, tags and metric thresholds. */
  listModels(
    filters: {
      q?: string;
      owner?: string;
      metric?: string;
      tag?: string;
      archived?: boolean;
    } = {}
  ): Promise<ModelSummary[]> {
    return this.client
      .request<unknown>('models', {}, filters)
      .then(data => listItems<ModelSummary>(data, 'models'));
  }

  /** GET /models/{name}: the model, its versions (newest first) and aliases. */
  getModel(name: string): Promise<ModelDetails> {
    return this.client.request(['models', name]);
  }

  /** PATCH /models/{name}: set the description, add or change tags, remove tags (its owner or
   * a role that may change others' things; 403 otherwise). */
  updateModel(
    name: string,
    changes: { description?: string; tags?: { [key: string]: string }; remove_tags?: string[] }
  ): Promise<{ name: string; description: string; tags: { [key: string]: string } }> {
    return this.client.request(['models', name], { method: 'PATCH', body: changes });
  }

  /** GET /models/{name}/versions/{version}: everything captured at registration. */
  getModelVersion(name: string, version: number): Promise<ModelVersionInfo> {
    return this.client.request(['models', name, 'versions', String(version)]);
  }

  /** PUT /models/{name}/aliases/{alias}: move (or create) an alias atomically. */
  setModelAlias(
    name: string,
    alias: string,
    version: number,
    protectedAlias?: boolean
  ): Promise<{ alias: string; version: number; protected: boolean }> {
    return this.client.request(['models', name, 'aliases', alias], {
      method: 'PUT',
      body: { version, protected: protectedAlias }
    });
  }

  /** PATCH /models/{name}/versions/{version}: archive or restore a version. */
  archiveModelVersion(name: string, version: number, archived: boolean): Promise<ModelVersionInfo> {
    return this.client.request(['models', name, 'versions', String(version)], {
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
    return this.client.request(['models', name, 'versions', String(version), 'reproduce'], {
      method: 'POST',
      body: tolerance === undefined ? {} : { tolerance }
    });
  }

  /** GET /models/{name}/compare?a=&b=: what differs from version a to version b. */
  compareVersions(name: string, a: number, b: number): Promise<ModelComparison> {
    return this.client.request(['models', name, 'compare'], {}, { a, b });
  }

  /**
   * The URL of one artifact's bytes (figures are shown with it; cookies authenticate;
   * `download`: as an attachment).
   */
  modelArtifactUrl(name: string, version: number, artifact: string, download = false): string {
    const url = this.client.url(
      'models',
      name,
      'versions',
      String(version),
      'artifacts',
      ...artifact.split('/')
    );
    return download ? `${url}?download=1` : url;
  }

  /** The first `limit` bytes of a version's artifact as text, and its whole size. */
  modelArtifactText(
    name: string,
    version: number,
    artifact: string,
    limit: number
  ): Promise<{ text: string; size: number; truncated: boolean }> {
    return this.client.textPrefix(
      `${this.modelArtifactUrl(name, version, artifact)}?limit=${limit}`
    );
  }
}
