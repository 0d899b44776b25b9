import { JupyterFrontEnd } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';

import { MLInfraAPI } from '../api';
import { Health } from '../types';

/** What the panel gives every tab (the same props for all four). */
export interface TabProps {
  /** The REST client for /mlinfra/api. */
  api: MLInfraAPI;
  /** The last GET /mlinfra/api/health answer; null until the first one arrives. */
  health: Health | null;
  /** Why the last health request failed; null when it succeeded. */
  healthError: Error | null;
  /** Re-fetch health now (e.g. after an action that changes a capability's status). */
  refreshHealth: () => void;
  /**
   * True while this tab is selected and the panel is visible. Poll only then
   * (`usePoll(fetch, { active })` from src/common).
   */
  active: boolean;
  /** The JupyterLab application (commands, shell, document manager via commands). */
  app: JupyterFrontEnd;
  /** The notebook tracker, when the notebook plugin is loaded. */
  notebookTracker: INotebookTracker | null;
}
