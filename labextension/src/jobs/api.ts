/** Notebook jobs API calls: /mlinfra/api/jobs*, /runs*. */

import { APIClient, listItems } from '../client';
import type {
  JobCreate,
  JobInfo,
  JobUpdate,
  NotebookParameters,
  RunInfo,
  RunLogChunk,
  RunPage,
  SchedulePreview
} from '../types';

export class JobsAPI {
  constructor(private readonly client: APIClient) {}

  /** GET /jobs */
  listJobs(): Promise<JobInfo[]> {
    return this.client.request<unknown>('jobs').then(data => listItems<JobInfo>(data, 'jobs'));
  }

  /** POST /jobs: 400 invalid cron/parameters, 404 unknown notebook, 409 cycle, 429 quota. */
  createJob(job: JobCreate): Promise<JobInfo> {
    return this.client.request<JobInfo>('jobs', { method: 'POST', body: job });
  }

  /** POST /jobs/{name}/run|pause|resume */
  jobAction(name: string, action: 'run' | 'pause' | 'resume'): Promise<JobInfo | RunInfo> {
    return this.client.request<JobInfo | RunInfo>(['jobs', name, action], {
      method: 'POST',
      body: {}
    });
  }

  /** GET /jobs/{name}: the definition and its next fire times. */
  getJob(name: string): Promise<JobInfo> {
    return this.client.request<JobInfo>(['jobs', name]);
  }

  /** PATCH /jobs/{name}: change fields, validated as a new job (400 naming the field, 409 a
   * dependency cycle, 403 not the owner). */
  updateJob(name: string, changes: JobUpdate): Promise<JobInfo> {
    return this.client.request<JobInfo>(['jobs', name], { method: 'PATCH', body: changes });
  }

  /** DELETE /jobs/{name} */
  deleteJob(name: string): Promise<void> {
    return this.client.request<void>(['jobs', name], { method: 'DELETE' });
  }

  /** GET /jobs/schedule-preview: the next fire times of a cron expression. */
  schedulePreview(schedule: string, timezone: string): Promise<SchedulePreview> {
    return this.client.request<SchedulePreview>(
      'jobs/schedule-preview',
      {},
      { schedule, timezone }
    );
  }

  /** GET /jobs/notebook-parameters: a notebook's parameters cell, typed. */
  notebookParameters(notebook: string): Promise<NotebookParameters> {
    return this.client.request<NotebookParameters>('jobs/notebook-parameters', {}, { notebook });
  }

  /** GET /runs with filters and pagination. */
  listRuns(
    query: { job?: string; state?: string; q?: string; limit?: number; offset?: number } = {}
  ): Promise<RunPage> {
    return this.client.request<RunPage>('runs', {}, query);
  }

  /** POST /runs: run a notebook now. */
  submitRun(notebook: string, parameters: { [name: string]: unknown }): Promise<RunInfo> {
    return this.client.request<RunInfo>('runs', { method: 'POST', body: { notebook, parameters } });
  }

  /** GET /runs/{id} */
  getRun(id: string): Promise<RunInfo> {
    return this.client.request<RunInfo>(['runs', id]);
  }

  /** POST /runs/{id}/cancel|retry */
  runAction(id: string, action: 'cancel' | 'retry'): Promise<RunInfo> {
    return this.client.request<RunInfo>(['runs', id, action], { method: 'POST', body: {} });
  }

  /** GET /runs/{id}/log?offset= */
  runLog(id: string, offset = 0): Promise<RunLogChunk> {
    return this.client.request<RunLogChunk>(['runs', id, 'log'], {}, { offset });
  }

  /** GET /runs/{id}/artifacts/{name}: its URL (`download`: as an attachment). */
  runArtifactUrl(id: string, name: string, download = false): string {
    // the name's `/` stay path separators (the route and the description expect them)
    const path = name
      .split('/')
      .map(part => encodeURIComponent(part))
      .join('/');
    return `${this.client.url('runs', id, 'artifacts')}/${path}${download ? '?download=1' : ''}`;
  }

  /** The first `limit` bytes of an artifact as text, and its whole size. */
  runArtifactText(
    id: string,
    name: string,
    limit: number
  ): Promise<{ text: string; size: number; truncated: boolean }> {
    return this.client.textPrefix(`${this.runArtifactUrl(id, name)}?limit=${limit}`);
  }

  /** GET /runs/{id}/output: the output notebook (nbformat JSON). */
  runOutput(id: string): Promise<{ [key: string]: unknown }> {
    return this.client.request<{ [key: string]: unknown }>(['runs', id, 'output']);
  }
}
