"""The execution log a notebook carries in its metadata (``jupyter_mlinfra.provenance``),
bounded: the current kernel session in full; earlier sessions compacted to the executions the
replay slices of the notebook's current cells need; then the oldest of them dropped until the
log fits ``max_bytes``. What was left out is counted in ``dropped``.

Readers (``jupyter mlinfra check NB.ipynb``, the panel's saved-log view) read the current
session's fields as before; ``earlier_sessions`` is extra.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable
from typing import Any

from .model import Execution, ExecutionLog, NotebookCell
from .replay import replay_slice

DEFAULT_MAX_BYTES = 1_000_000


def machine_name() -> str:
    return socket.gethostname()


def _size(data: Any) -> int:
    return len(json.dumps(data, separators=(",", ":")).encode())


def _needed(executions: list[Execution], cell_ids: set[str]) -> list[Execution]:
    """The executions of one session that the replay slices of ``cell_ids``' last runs use."""
    ordered = sorted(executions, key=lambda e: e.seq)
    last: dict[str, Execution] = {}
    for e in ordered:
        if e.cell_id in cell_ids:
            last[e.cell_id] = e
    keep: set[int] = set()
    for target in last.values():
        keep.update(e.seq for e in replay_slice(ordered, target))
    return [e for e in ordered if e.seq in keep]


def compact_log(
    current: ExecutionLog,
    earlier: Iterable[ExecutionLog] = (),
    cells: Iterable[NotebookCell] | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    machine: str | None = None,
    saved_at: str | None = None,
) -> dict[str, Any]:
    """The log to store in the notebook: ``current`` in full, plus ``earlier_sessions`` (most
    recent first) reduced to what the current cells' replays need, the oldest dropped while
    the whole is over ``max_bytes``; ``dropped: {executions, sessions}`` counts what was left
    out. ``cells``: the notebook's current cells (None: every cell any session ran)."""
    out = current.to_dict()
    out["machine"] = machine or machine_name()
    if saved_at:
        out["saved_at"] = saved_at
    dropped_exec = 0
    dropped_sessions = 0
    earlier = [log for log in earlier if log.session_id != current.session_id]
    earlier.sort(
        key=lambda log: (
            max((e.ended_at or e.started_at or 0.0) for e in log.executions)
            if log.executions
            else 0.0
        ),
        reverse=True,
    )
    ids = None if cells is None else {c.id for c in cells}
    kept: list[dict[str, Any]] = []
    for log in earlier:
        wanted = ids if ids is not None else {e.cell_id for e in log.executions}
        needed = _needed(log.executions, wanted)
        dropped_exec += len(log.executions) - len(needed)
        if not needed:
            dropped_sessions += 1
            continue
        kept.append(
            ExecutionLog(
                executions=needed,
                notebook_path=log.notebook_path,
                session_id=log.session_id,
                before_recording=log.before_recording,
            ).to_dict()
        )
    out["earlier_sessions"] = kept
    out["dropped"] = {"executions": dropped_exec, "sessions": dropped_sessions}
    while kept and _size(out) > max_bytes:
        oldest = kept.pop()
        out["dropped"]["executions"] += len(oldest["executions"])
        out["dropped"]["sessions"] += 1
    if not kept:
        del out["earlier_sessions"]
    return out
