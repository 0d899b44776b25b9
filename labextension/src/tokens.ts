/**
 * The extension's Lumino tokens and command ids: what other JupyterLab extensions can use.
 *
 *   const plugin = { requires: [IMLInfraAPI], activate: (app, api: IMLInfraAPI) =>
 *     api.models.listModels({ q: 'churn' }) };
 *   app.commands.execute(CommandIDs.openModel, { name: 'churn', version: 3 });
 */

import { Token } from '@lumino/coreutils';

import type { MLInfraAPI } from './api';

/** The REST client of /mlinfra/api (health, provenance, jobs, models, features). */
export type IMLInfraAPI = MLInfraAPI;

export const IMLInfraAPI = new Token<IMLInfraAPI>(
  'jupyter-mlinfra:IMLInfraAPI',
  'The REST client of jupyter_mlinfra: provenance, notebook jobs, models and features.'
);

/** Every command of the extension (the palette lists them under "ML Infra"). */
export namespace CommandIDs {
  export const openPanel = 'mlinfra:open-panel';
  /** args: {id} (a run id) */
  export const openRun = 'mlinfra:open-run';
  /** args: {name} (a job name) */
  export const openJob = 'mlinfra:open-job';
  /** args: {name, version?} */
  export const openModel = 'mlinfra:open-model';
  /** args: {path} (a notebook; default: the current one): the job form in the main area */
  export const createJob = 'mlinfra:create-job';
  /** args: {path} (a notebook; default: the current one) */
  export const verifyNotebook = 'mlinfra:verify-notebook';
  /** args: {path} (a notebook; default: the current one) */
  export const exportReplay = 'mlinfra:export-replay';
  /** The executed-notebook hub page. */
  export const openNotebookHub = 'mlinfra:open-notebook-hub';
  /** The example notebooks' tour (launcher card). */
  export const openTour = 'mlinfra:open-tour';
  /** args: {name} (a feature view) */
  export const openFeatureView = 'mlinfra:open-feature-view';
}
