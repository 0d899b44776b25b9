/**
 * One numbering for findings, the timeline and the markers on cells, made of what the user
 * sees in JupyterLab: the cell's position in the notebook (1-based) and the execution count
 * its prompt shows, e.g. "cell 7 [12]".
 */

import type { NotebookPanel } from '@jupyterlab/notebook';

import type { ProvenanceExecution } from '../types';

/** "cell 7 [12]"; "cell 7" when the count is unknown; "deleted cell [12]" when it is gone. */
export function cellRef(
  position: number | null | undefined,
  executionCount?: number | null
): string {
  const where = position === null || position === undefined ? 'deleted cell' : `cell ${position}`;
  return executionCount === null || executionCount === undefined
    ? where
    : `${where} [${executionCount}]`;
}

/** The 1-based position of every cell id in the notebook as shown now. */
export function cellPositions(panel: NotebookPanel): Map<string, number> {
  const positions = new Map<string, number>();
  panel.content.widgets.forEach((cell, i) => positions.set(cell.model.id, i + 1));
  return positions;
}

/** The execution count of each cell's last recorded execution. */
export function lastCounts(executions: ProvenanceExecution[]): Map<string, number | null> {
  const counts = new Map<string, number | null>();
  for (const e of [...executions].sort((a, b) => a.seq - b.seq)) {
    counts.set(e.cell_id, e.execution_count);
  }
  return counts;
}

/** The reference of a cell id: its position now and the count of its last execution. */
export function refOf(
  cellId: string,
  positions: Map<string, number>,
  counts: Map<string, number | null>
): string {
  return cellRef(positions.get(cellId), counts.get(cellId));
}
