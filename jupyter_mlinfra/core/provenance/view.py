"""The provenance view of one notebook, as the side panel shows it.

``notebook_view`` assembles history and hazards: a given session; else the notebook
kernel's current session (after a restart only the new one); else the latest recorded one;
and when the kernel has recorded nothing yet, the execution log saved in the notebook
(``source: "saved"``). The REST door maps paths and calls it in a worker thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound
from .model import METADATA_KEY, cells_from_notebook, log_from_notebook
from .service import read_notebook


def kernel_state(svc, path: str, kernel_id: str | None) -> dict | None:
    """What the notebook's kernel records now: its current session (the latest its recorder
    registered; each restart registers a new one), or ``recording: False``."""
    if not kernel_id:
        return None
    sessions = svc.kernel_sessions(kernel_id)
    state = {
        "kernel_id": kernel_id,
        "recording": bool(sessions),
        "session_id": None,
        "started_at": None,
        "restarted": len(sessions) > 1,
        "previous_session_id": sessions[1]["session_id"] if len(sessions) > 1 else None,
    }
    if sessions:
        state.update(session_id=sessions[0]["session_id"], started_at=sessions[0]["started_at"])
    elif kernel_id in {s["session_id"] for s in svc.sessions(path)}:
        state.update(recording=True, session_id=kernel_id)  # recorded before sessions
    return state


def notebook_view(
    svc,
    path: str,
    *,
    display_path: str,
    session_id: str | None,
    kernel_id: str | None = None,
    cells: Any = None,
    recording_enabled: bool = False,
) -> dict:
    """The view of the notebook at ``path`` (``display_path``: as the caller names it)."""
    kernel = None if session_id else kernel_state(svc, path, kernel_id)
    if kernel is not None:
        session_id = kernel["session_id"]
    empty = {
        "notebook_path": path,
        "path": display_path,
        "session_id": session_id,
        "sessions": svc.sessions(path),
        "executions": [],
        "report": None,
        "log": None,
        "kernel": kernel,
        "recording_enabled": recording_enabled,
        "source": "recorded",
    }
    if kernel is not None and session_id is None:
        # the kernel records nothing (yet): the log the notebook carries, if any
        return saved_view(svc, path, empty, kernel_id, cells) or empty
    try:
        log, current, _nb = svc.resolve(path, session_id=session_id, cells=cells)
    except NotFound:
        if kernel is None and cells is None and not Path(path).is_file():
            raise
        return (
            saved_view(svc, path, empty, kernel_id, cells) if kernel is not None else None
        ) or empty
    report = svc.check(path, log=log, cells=current)
    return {
        **empty,
        "notebook_path": log.notebook_path or path,
        "session_id": log.session_id,
        "executions": [e.to_dict() for e in log.executions],
        "report": report.to_dict(),
        "log": svc.saved_log(log, current, path),
    }


def saved_view(svc, path: str, empty: dict, kernel_id: str | None, cells) -> dict | None:
    """The view of the execution log saved in the notebook (``source: "saved"``, its date and
    machine), for a kernel that has recorded nothing yet; None when the notebook carries no
    log, or carries one of this kernel's own sessions (after a restart the panel shows the
    new session only)."""
    if not Path(path).is_file():
        return None
    try:
        nb = read_notebook(path)
        saved = log_from_notebook(nb)
    except (InvalidInput, NotFound):
        return None
    if saved is None or not saved.executions:
        return None
    own = {s["session_id"] for s in svc.kernel_sessions(kernel_id)} if kernel_id else set()
    if saved.session_id in own:
        return None
    data = ((nb.get("metadata") or {}).get(METADATA_KEY) or {}).get("provenance") or {}
    current = cells if cells is not None else cells_from_notebook(nb)
    report = svc.check(path, log=saved, cells=current)
    return {
        **empty,
        "notebook_path": saved.notebook_path or path,
        "session_id": saved.session_id,
        "executions": [e.to_dict() for e in saved.executions],
        "report": report.to_dict(),
        "log": dict(data),
        "source": "saved",
        "saved_at": data.get("saved_at") if isinstance(data.get("saved_at"), str) else None,
        "machine": data.get("machine") if isinstance(data.get("machine"), str) else None,
    }


__all__ = ["kernel_state", "notebook_view", "saved_view"]
