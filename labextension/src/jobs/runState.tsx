/** How a run's state is shown everywhere (lists, pages): one badge, words, not codes. */

import * as React from 'react';

import type { RunInfo, RunState } from '../types';

/** States a run does not leave: such a run is not polled any more. */
export const FINAL_STATES: readonly RunState[] = [
  'succeeded',
  'failed',
  'upstream_failed',
  'cancelled',
  'timed_out'
];

export function isFinal(state: RunState): boolean {
  return FINAL_STATES.includes(state);
}

/** A running run whose kernel has not run a cell yet is starting its kernel. */
export function isStartingKernel(run: RunInfo): boolean {
  return run.state === 'running' && !(run.progress?.executed ?? 0);
}

export function stateLabel(run: Pick<RunInfo, 'state'> & Partial<RunInfo>): string {
  if (run.phase && !isFinal(run.state)) {
    return run.phase;
  }
  if (run.progress !== undefined && isStartingKernel(run as RunInfo)) {
    return 'starting kernel';
  }
  return run.state.replace(/_/g, ' ');
}

export function StateBadge(p: { run: Pick<RunInfo, 'state'> & Partial<RunInfo> }): JSX.Element {
  const { state } = p.run;
  const kind =
    state === 'succeeded'
      ? 'ok'
      : state === 'running' || state === 'queued' || state === 'waiting'
        ? 'warn'
        : state === 'cancelled'
          ? 'off'
          : 'error';
  return (
    <span className={`jp-mlinfra-Badge jp-mlinfra-Badge-${kind}`} data-state={state}>
      {stateLabel(p.run)}
    </span>
  );
}

export function progressText(run: RunInfo): string {
  const p = run.progress || {};
  return p.code_cells ? `${p.executed ?? 0}/${p.code_cells}` : '';
}
