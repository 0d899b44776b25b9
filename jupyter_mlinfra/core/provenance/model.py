"""The execution record and the execution log (a kernel session's history).

An :class:`Execution` is one run of one cell, as the kernel recorder saw it. Its JSON form (the
``to_dict`` / ``from_dict`` pair) is what travels in the catalog's rows, in the REST API and in a
notebook's metadata (``metadata.jupyter_mlinfra.provenance``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from ..times import epoch, from_epoch, to_iso_z, utcnow

LOG_VERSION = 1
METADATA_KEY = "jupyter_mlinfra"


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidInput(message)


def _iso(ts: float | None) -> str | None:
    return to_iso_z(from_epoch(ts))


_epoch = epoch


@dataclass
class Execution:
    """One execution of one cell in one kernel session."""

    seq: int  # 1, 2, 3... within the kernel session
    cell_id: str  # the front end's cell id (or a stable fallback)
    source: str  # the source as executed
    session_id: str = ""  # the kernel session
    notebook_path: str = ""
    execution_count: int | None = None
    started_at: float | None = None  # epoch seconds (UTC)
    ended_at: float | None = None
    status: str = "ok"  # "ok" or "error"
    error_type: str | None = None  # exception class name when status == "error"
    reads: frozenset[str] = frozenset()
    binds: frozenset[str] = frozenset()
    mutates: frozenset[str] = frozenset()
    deletes: frozenset[str] = frozenset()
    # globals a function/class bound here reads / mutates when called (see names.py)
    deferred: dict[str, list[str]] = field(default_factory=dict)
    # names in ``mutates`` only because a call the analysis does not know received them
    assumed: frozenset[str] = frozenset()
    # code whose effects the analysis could not follow (``exec()``, ``%run``...)
    unfollowed: tuple[str, ...] = ()
    # files read or written (absolute path -> [size, mtime_ns] when the recorder saw them)
    files: dict[str, list[int]] = field(default_factory=dict)

    @property
    def writes(self) -> frozenset[str]:
        return self.binds | self.mutates | self.deletes

    @property
    def duration_ms(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return round((self.ended_at - self.started_at) * 1000.0, 3)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "cell_id": self.cell_id,
            "execution_count": self.execution_count,
            "source": self.source,
            "session_id": self.session_id,
            "notebook_path": self.notebook_path,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "duration_ms": self.duration_ms,
            "status": self.status,
            "error_type": self.error_type,
            "reads": sorted(self.reads),
            "binds": sorted(self.binds),
            "mutates": sorted(self.mutates),
            "deletes": sorted(self.deletes),
            "deferred": {k: sorted(v) for k, v in sorted(self.deferred.items())},
            "assumed": sorted(self.assumed),
            "unfollowed": list(self.unfollowed),
            "files": {k: list(v) for k, v in sorted(self.files.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Execution:
        return cls(
            seq=int(data["seq"]),
            cell_id=str(data.get("cell_id") or ""),
            source=data.get("source") or "",
            session_id=data.get("session_id") or "",
            notebook_path=data.get("notebook_path") or "",
            execution_count=data.get("execution_count"),
            started_at=_epoch(data.get("started_at")),
            ended_at=_epoch(data.get("ended_at")),
            status=data.get("status") or "ok",
            error_type=data.get("error_type"),
            reads=frozenset(data.get("reads") or ()),
            binds=frozenset(data.get("binds") or ()),
            mutates=frozenset(data.get("mutates") or ()),
            deletes=frozenset(data.get("deletes") or ()),
            deferred={k: list(v) for k, v in (data.get("deferred") or {}).items()},
            assumed=frozenset(data.get("assumed") or ()),
            unfollowed=tuple(data.get("unfollowed") or ()),
            files={
                str(k): [int(x) for x in v][:2]
                for k, v in (data.get("files") or {}).items()
                if isinstance(v, list)
            },
        )


@dataclass
class NotebookCell:
    """A cell of the current notebook, as the analyses see it."""

    id: str
    source: str
    cell_type: str = "code"


def cells_from_notebook(nb: Any) -> list[NotebookCell]:
    """Cells (id, source, type) of an nbformat notebook or its JSON dict."""
    cells = []
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        cells.append(
            NotebookCell(
                id=str(cell.get("id") or f"cell-{index}"),
                source=source,
                cell_type=cell.get("cell_type", "code"),
            )
        )
    return cells


def cells_from_json(items: Iterable[dict[str, Any]]) -> list[NotebookCell]:
    """Cells sent by a front end: ``[{"id", "source", "cell_type"?}, ...]``."""
    cells = []
    for i, item in enumerate(items):
        _require(
            isinstance(item, dict) and "id" in item,
            f"cells[{i}] must be an object with an 'id' and a 'source'",
        )
        source = item.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        _require(isinstance(source, str), f"cells[{i}].source must be a string")
        cells.append(
            NotebookCell(
                id=str(item["id"]), source=source, cell_type=str(item.get("cell_type", "code"))
            )
        )
    return cells


@dataclass
class BeforeRecording:
    """What ran in a kernel before its recorder started (``%load_ext`` after other cells):
    how many executions, and the user names they left in the kernel."""

    executions: int = 0
    names: frozenset[str] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return {"executions": self.executions, "names": sorted(self.names)}

    @classmethod
    def from_dict(cls, data: Any) -> BeforeRecording | None:
        if not isinstance(data, dict) or not data.get("executions"):
            return None
        return cls(
            executions=int(data["executions"]),
            names=frozenset(str(n) for n in data.get("names") or ()),
        )


@dataclass
class KernelSession:
    """One lifetime of one kernel process, as its recorder registers it when it starts."""

    session_id: str
    notebook_path: str
    started_at: float  # epoch seconds (UTC)
    kernel_id: str | None = None  # Jupyter's kernel id: the same across restarts
    before_recording: BeforeRecording | None = None


@dataclass
class ExecutionLog:
    """The executions of one kernel session (one kernel lifetime) for one notebook, in order.
    ``before_recording``: executions of this kernel that ran before recording started."""

    executions: list[Execution]
    notebook_path: str = ""
    session_id: str = ""
    before_recording: BeforeRecording | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "version": LOG_VERSION,
            "notebook_path": self.notebook_path,
            "session_id": self.session_id,
            "executions": [e.to_dict() for e in self.executions],
        }
        if self.before_recording is not None:
            out["before_recording"] = self.before_recording.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutionLog:
        _require(
            isinstance(data, dict) and isinstance(data.get("executions"), list),
            "an execution log needs an 'executions' list",
        )
        executions = sorted(
            (Execution.from_dict(e) for e in data["executions"]), key=lambda e: e.seq
        )
        return cls(
            executions=executions,
            notebook_path=data.get("notebook_path") or "",
            session_id=data.get("session_id") or "",
            before_recording=BeforeRecording.from_dict(data.get("before_recording")),
        )


def log_from_notebook(nb: Any) -> ExecutionLog | None:
    """The execution log a notebook carries in ``metadata.jupyter_mlinfra.provenance``.
    A log that is not one (hand-edited, truncated, from a foreign tool) is an InvalidInput
    saying where it is, never a traceback."""
    where = f"the notebook's metadata {METADATA_KEY}.provenance"
    section = (nb.get("metadata") or {}).get(METADATA_KEY) or {}
    _require(isinstance(section, dict), f"the notebook's metadata {METADATA_KEY} is not an object")
    data = section.get("provenance")
    if not data:
        return None
    try:
        return ExecutionLog.from_dict(data)
    except InvalidInput as exc:
        raise InvalidInput(f"{where} is not a valid execution log: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InvalidInput(f"{where} is not a valid execution log: {detail}"[:300]) from None


def attach_log(nb: Any, log: ExecutionLog) -> None:
    """Write ``log`` into the notebook's metadata (in place)."""
    import socket

    meta = nb.setdefault("metadata", {})
    section = meta.setdefault(METADATA_KEY, {})
    section["provenance"] = {
        **log.to_dict(),
        "machine": socket.gethostname(),
        "saved_at": to_iso_z(utcnow()),
    }
