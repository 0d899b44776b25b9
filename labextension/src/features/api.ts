/** Feature store API calls: /mlinfra/api/features*. */

import { APIClient, listItems } from '../client';
import type { FeatureTable, FeatureViewDetails, FeatureViewSummary } from '../types';

export class FeaturesAPI {
  constructor(private readonly client: APIClient) {}

  /** GET /features: the views you may see, filtered by text, owner, tag or entity. */
  listFeatureViews(
    filters: {
      q?: string;
      owner?: string;
      tag?: string;
      entity?: string;
    } = {}
  ): Promise<FeatureViewSummary[]> {
    return this.client
      .request<unknown>('features', {}, filters)
      .then(data => listItems<FeatureViewSummary>(data, 'views'));
  }

  /** GET /features/views/{name}: schema, statistics, freshness, versions, used by. */
  describeFeatureView(name: string): Promise<FeatureViewDetails> {
    return this.client.request(['features', 'views', name]);
  }

  /** GET /features/views/{name}/sample: the most recent offline rows. */
  sampleFeatureView(name: string, n = 5): Promise<FeatureTable> {
    return this.client.request(['features', 'views', name, 'sample'], {}, { n });
  }
}
