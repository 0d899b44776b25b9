/** The launcher tour's example notebooks: the JSON of /mlinfra/api/examples* (core/examples.py). */

export interface ExampleNotebook {
  name: string;
  /** where its copy goes, relative to the server root */
  path: string;
  /** a file is at that path already */
  in_root: boolean;
}

export interface ExampleNotebookPage {
  items: ExampleNotebook[];
  total: number;
  total_exact: boolean;
  limit: number;
  offset: number;
  next_cursor: string | null;
}

/** POST /examples/copy: what was copied, and what was there already (never overwritten). */
export interface ExampleCopy {
  folder: string;
  copied: string[];
  kept: string[];
}
