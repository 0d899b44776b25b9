/** The executed-notebook hub: the JSON of /mlinfra/api/notebooks* (core/executed_notebooks.py). */

import type { JSONValue } from './core';

export interface ExecutedNotebook {
  id: string;
  run_id: string;
  kind: 'job_run' | 'reproduce';
  notebook: string;
  name: string;
  job_id: string | null;
  job_name: string | null;
  owner: string;
  state: string;
  trigger: string | null;
  parameters: { [name: string]: JSONValue };
  tags: string[];
  model: { name: string; version: number | string } | null;
  metrics: { [name: string]: number };
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  duration_seconds: number | null;
  error: string | null;
  /** paths under /mlinfra/api: the notebook, its HTML and .ipynb renderings, its run */
  links: { self: string; html: string; ipynb: string; run?: string };
}

export interface ExecutedNotebookPage {
  items: ExecutedNotebook[];
  total: number;
  total_exact?: boolean;
  limit: number;
  offset: number;
  next_cursor: string | null;
}
