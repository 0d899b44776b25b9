"""Provenance from plain Python (and from a notebook's own kernel).

    from jupyter_mlinfra import provenance
    provenance.check("analysis.ipynb")            # Report: .stale, .out_of_order, .to_dict()
    provenance.history("analysis.ipynb")          # list of execution dicts
    provenance.replay("replay.ipynb", path="analysis.ipynb", cell_id="...")
    provenance.verify("analysis.ipynb")           # VerifyResult: .ok, .verdict, .cells
    provenance.dependencies("analysis.ipynb", name="model")   # for the model store

Inside a kernel that recorded its own cells (``%load_ext jupyter_mlinfra``), ``path`` may be
left out: the kernel's in-memory history and its live namespace are used.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .core.provenance.analysis import Report
from .core.provenance.model import ExecutionLog, NotebookCell
from .core.provenance.verify import VerifyOptions, VerifyResult
from .core.workspace import get_workspace

__all__ = ["history", "check", "replay", "verify", "dependencies", "save_log", "current_log"]


def _service():
    return get_workspace().service("provenance")


def _recorder():
    try:
        from .kernel.provenance_recorder import get_recorder
    except ImportError:  # IPython missing: plain Python only
        return None
    return get_recorder()


def _same_path(a: str, b: str) -> bool:
    return a == b or os.path.abspath(a) == os.path.abspath(b)


def current_log() -> ExecutionLog | None:
    """The in-memory log of this kernel's recorder (None outside a recording kernel)."""
    rec = _recorder()
    return rec.log() if rec is not None else None


def _context(path: str | None) -> tuple[str | None, ExecutionLog | None, set[str] | None]:
    """(path, in-kernel log, live names) when ``path`` is this kernel's notebook or omitted."""
    rec = _recorder()
    if rec is None:
        return path, None, None
    kernel_path = rec.log().notebook_path
    if path is None or _same_path(path, kernel_path):
        return kernel_path, rec.log(), rec.live_names()
    return path, None, None


def _need(path: str | None) -> str:
    if path is None:
        from .core.errors import InvalidInput

        raise InvalidInput("give the notebook path (no recording kernel here to ask)")
    return path


def history(path: str | None = None, *, session_id: str | None = None) -> list[dict]:
    """The recorded executions (latest kernel session unless ``session_id``)."""
    path, log, _live = _context(path)
    if log is None or session_id is not None:
        log = _service().history(_need(path), session_id=session_id)
    return [e.to_dict() for e in log.executions]


def _saved_cells(path: str) -> list[NotebookCell]:
    """The cells of the notebook file. A v4 notebook's JSON is read as it is: nbformat (which
    costs over a second to import) is only loaded for other files, and to explain an error."""
    from .core.provenance.model import cells_from_notebook

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if (
            isinstance(data, dict)
            and data.get("nbformat") == 4
            and isinstance(data.get("cells"), list)
            and all(isinstance(c, dict) for c in data["cells"])
        ):
            return cells_from_notebook(data)
    except (OSError, ValueError):
        pass
    from .core.provenance.service import read_notebook

    return cells_from_notebook(read_notebook(path))


def check(
    path: str | None = None, *, cells: list[dict] | None = None, session_id: str | None = None
) -> Report:
    """Stale / out-of-order / hidden-state / changed / unexecuted / reads-from-below report.
    ``cells`` ([{"id", "source"}], in notebook order) stands for the notebook's current cells
    (default: the saved notebook file, or the executed cells when there is no file)."""
    from .core.provenance.model import cells_from_json

    path, log, live = _context(path)
    current: list[NotebookCell] | None = cells_from_json(cells) if cells is not None else None
    if log is not None and session_id is None:
        if current is None and path and Path(path).is_file():
            current = _saved_cells(path)
        return _service().check(path, log=log, cells=current, live_names=live)
    return _service().check(_need(path), cells=current, session_id=session_id)


def replay(
    out_path: str | os.PathLike | None = None,
    *,
    path: str | None = None,
    cell_id: str | None = None,
    name: str | None = None,
    session_id: str | None = None,
) -> Any:
    """The replay notebook for a cell (default: the last execution) or a global ``name``.
    Written to ``out_path`` when given (returns a summary dict), else returned (NotebookNode)."""
    path, log, _live = _context(path)
    svc = _service()
    kwargs = {
        "cell_id": cell_id,
        "name": name,
        "session_id": session_id,
        "log": log if session_id is None else None,
    }
    if out_path is not None:
        return svc.export_replay(out_path, path, **kwargs)
    _slice, nb = svc.replay(path, **kwargs)
    return nb


def verify(
    path: str | os.PathLike,
    *,
    replay: bool = False,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    compare_stderr: bool = True,
    sanitizers: list[tuple[str, str]] | None = None,
    timeout: float | None = None,
    kernel_name: str | None = None,
    cell_id: str | None = None,
    lax: bool = False,
) -> VerifyResult:
    """Re-run the saved notebook (or, with ``replay``, the replay of ``cell_id`` / the last
    execution) in a fresh kernel and compare outputs. ``timeout``: seconds per cell (default:
    the ``verify_timeout_seconds`` setting); ``lax``: compare only cells marked
    ``NBVAL_CHECK_OUTPUT``, as nbval's ``--nbval-lax``."""
    opts = VerifyOptions(
        rtol=rtol,
        atol=atol,
        compare_stderr=compare_stderr,
        sanitizers=list(sanitizers or []),
        lax=lax,
    )
    return _service().verify(
        path, replay=replay, options=opts, timeout=timeout, kernel_name=kernel_name, cell_id=cell_id
    )


def dependencies(
    path: str | None = None,
    *,
    name: str | None = None,
    cell_id: str | None = None,
    session_id: str | None = None,
) -> dict:
    """Replay order, replay notebook and hazards behind a global ``name`` or a cell."""
    path, log, live = _context(path)
    if log is not None and session_id is None:
        return _service().dependencies(
            path,
            name=name,
            cell_id=cell_id,
            log=log,
            live_names=live,
            notebook=_notebook_if_file(path),
        )
    return _service().dependencies(_need(path), name=name, cell_id=cell_id, session_id=session_id)


def save_log(path: str, *, out_path: str | None = None, session_id: str | None = None) -> dict:
    """Write the recorded log into the notebook file's metadata (``jupyter_mlinfra``)."""
    rec = _recorder()
    if rec is not None and _same_path(path, rec.log().notebook_path):
        rec.flush(write=True)
    return _service().embed_log(path, out_path=out_path, session_id=session_id)


def _notebook_if_file(path: str | None):
    if path and Path(path).is_file():
        from .core.provenance.service import read_notebook

        return read_notebook(path)
    return None
