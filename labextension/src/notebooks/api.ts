/** Executed-notebook hub API calls: /mlinfra/api/notebooks*. */

import { APIClient } from '../client';
import type { ExecutedNotebookPage } from '../types';

export class NotebooksAPI {
  constructor(private readonly client: APIClient) {}

  /** GET /notebooks: executed notebooks (job runs, reproduce runs), newest first. */
  listNotebooks(
    filters: {
      q?: string;
      notebook?: string;
      job?: string;
      tag?: string;
      parameter?: string;
      limit?: number;
    } = {}
  ): Promise<ExecutedNotebookPage> {
    return this.client.request<ExecutedNotebookPage>('notebooks', {}, filters);
  }

  /** The URL of an executed notebook as rendered HTML (sandboxed) or as .ipynb. */
  notebookUrl(id: string, format: 'html' | 'ipynb', download = false): string {
    return (
      this.client.url('notebooks', id) + `?format=${format}${download ? '&download=true' : ''}`
    );
  }
}
