/** Provenance API calls: /mlinfra/api/provenance*. */

import { APIClient } from '../client';
import type { ProvenanceView, RecordingStatus, ReplaySummary, VerifyResult } from '../types';

export class ProvenanceAPI {
  constructor(private readonly client: APIClient) {}

  /** GET /provenance: history and hazards of a notebook (against the saved file). */
  getProvenance(path: string, kernelId?: string, session?: string): Promise<ProvenanceView> {
    return this.client.request('provenance', {}, { path, kernel_id: kernelId, session });
  }

  /** POST /provenance/recording: every new kernel records from its first cell (or not). */
  setRecording(body: { enabled: boolean; scope?: 'user' }): Promise<RecordingStatus> {
    return this.client.request('provenance/recording', { method: 'POST', body });
  }

  /** POST /provenance/check: history and hazards against the cells shown now. */
  checkProvenance(body: {
    path: string;
    cells: Array<{ id: string; source: string; cell_type: string }>;
    kernel_id?: string;
  }): Promise<ProvenanceView> {
    return this.client.request('provenance/check', { method: 'POST', body });
  }

  /** POST /provenance/replay: write the replay notebook (default: <name>.replay.ipynb). */
  exportReplay(body: {
    path: string;
    cell_id?: string;
    kernel_id?: string;
    session_id?: string;
    out_path?: string;
    /** Replace an existing file (otherwise an existing file is a 409). */
    overwrite?: boolean;
  }): Promise<ReplaySummary> {
    return this.client.request('provenance/replay', { method: 'POST', body });
  }

  /** POST /provenance/verify: re-run the saved notebook in a fresh kernel; compare outputs. */
  verifyNotebook(body: {
    path: string;
    replay?: boolean;
    cell_id?: string;
  }): Promise<VerifyResult> {
    return this.client.request('provenance/verify', { method: 'POST', body });
  }
}
