"""The provenance service: stored execution logs, and the analyses run on them.

Every door (magics, Python API, CLI, REST, the Model store) goes through this class::

    svc = ws.service("provenance")
    svc.record(executions)                      # the kernel recorder's background writer
    svc.history("/path/nb.ipynb")               # ExecutionLog of the latest kernel session
    svc.check("/path/nb.ipynb")                 # Report (stale, out of order, hidden state...)
    svc.replay("/path/nb.ipynb", cell_id=...)   # (slice, replay notebook)
    svc.verify("/path/nb.ipynb", replay=False)  # VerifyResult
    svc.dependencies("/path/nb.ipynb", name="model")  # for the Model store

Where the log comes from: an explicit ``log``; else the catalog's latest session for the path
and the log the notebook carries in its metadata, whichever is more recent (so a notebook
checked on another machine, without the catalog, is analysed from its own log).

Length (over ~500 lines): the facade: one method per public operation of provenance over the small modules (names/, analysis, replay, verify, view).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from ..errors import InvalidInput, NotFound
from ..times import epoch, to_iso_z
from .analysis import DIRTY_KINDS, Report, affecting, analyze
from .model import (
    BeforeRecording,
    Execution,
    ExecutionLog,
    KernelSession,
    NotebookCell,
    attach_log,
    cells_from_notebook,
    log_from_notebook,
)
from .tables import ExecutionRow, SessionRow
from .writer import effects_json

if TYPE_CHECKING:
    import nbformat

    from .verify import VerifyOptions, VerifyResult

# nbformat (and replay/verify, which use it) are imported where they are used: the recorder
# in every kernel writes through this service, and importing nbformat costs over a second of
# CPU (jsonschema's format checkers build their grammars at import).


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc)


def _row(e: Execution, owner: str) -> ExecutionRow:
    return ExecutionRow(
        notebook_path=e.notebook_path,
        session_id=e.session_id,
        seq=e.seq,
        cell_id=e.cell_id,
        execution_count=e.execution_count,
        source=e.source,
        started_at=_dt(e.started_at),
        ended_at=_dt(e.ended_at),
        duration_ms=e.duration_ms,
        status=e.status,
        error_type=e.error_type,
        owner=owner,
        effects=effects_json(e),
    )


def _execution(row: ExecutionRow) -> Execution:
    effects = json.loads(row.effects or "{}")
    return Execution(
        seq=row.seq,
        cell_id=row.cell_id,
        source=row.source,
        session_id=row.session_id,
        notebook_path=row.notebook_path,
        execution_count=row.execution_count,
        started_at=row.started_at.timestamp() if row.started_at else None,
        ended_at=row.ended_at.timestamp() if row.ended_at else None,
        status=row.status,
        error_type=row.error_type,
        reads=frozenset(effects.get("reads", ())),
        binds=frozenset(effects.get("binds", ())),
        mutates=frozenset(effects.get("mutates", ())),
        deletes=frozenset(effects.get("deletes", ())),
        deferred=effects.get("deferred", {}),
        assumed=frozenset(effects.get("assumed", ())),
        unfollowed=tuple(effects.get("unfollowed", ())),
        files=effects.get("files", {}),
    )


def path_candidates(path: str) -> list[str]:
    """The spellings a notebook path may be stored under (as given, absolute, normalised)."""
    out = [path]
    for variant in (os.path.normpath(path), os.path.abspath(os.path.expanduser(path))):
        if variant not in out:
            out.append(variant)
    return out


def read_notebook(path: str | os.PathLike) -> nbformat.NotebookNode:
    import nbformat

    p = Path(path).expanduser()
    if not p.is_file():
        raise NotFound(f"no notebook at {p}")
    try:
        return nbformat.read(p, as_version=4)
    except Exception as exc:
        # not the parser's message: it quotes the file's first bytes
        raise InvalidInput(f"{p.name} is not a valid notebook ({type(exc).__name__})") from None


class ProvenanceService:
    def __init__(self, workspace) -> None:
        self.ws = workspace

    # -- storage ------------------------------------------------------------------------------
    def status(self) -> dict:
        with self.ws.catalog.read_session() as s:
            executions = s.scalar(select(func.count()).select_from(ExecutionRow)) or 0
            notebooks = s.scalar(select(func.count(func.distinct(ExecutionRow.notebook_path))))
            sessions = s.scalar(select(func.count(func.distinct(ExecutionRow.session_id))))
        return {"executions": executions, "notebooks": notebooks or 0, "sessions": sessions or 0}

    def record(self, executions: Iterable[Execution], owner: str | None = None) -> int:
        """Store executions (one transaction); returns how many were written. Executions
        already stored (same session and sequence number) are skipped."""
        items = list(executions)
        if not items:
            return 0
        owner = owner or self.ws.user
        with self.ws.catalog.session() as s:
            keys = {(e.session_id, e.seq) for e in items}
            sessions = {k[0] for k in keys}
            existing = set(
                s.execute(
                    select(ExecutionRow.session_id, ExecutionRow.seq).where(
                        ExecutionRow.session_id.in_(sessions),
                        ExecutionRow.seq.in_({k[1] for k in keys}),
                    )
                ).all()
            )
            fresh = [e for e in items if (e.session_id, e.seq) not in existing]
            s.add_all(_row(e, owner) for e in fresh)
        return len(fresh)

    def register_session(self, session: KernelSession, owner: str | None = None) -> bool:
        """Store a kernel session when its recorder starts (before any execution); True when
        it was new. The same session registered twice is stored once."""
        before = session.before_recording or BeforeRecording()
        with self.ws.catalog.session() as s:
            if s.get(SessionRow, session.session_id) is not None:
                return False
            s.add(
                SessionRow(
                    session_id=session.session_id,
                    kernel_id=session.kernel_id,
                    notebook_path=session.notebook_path,
                    started_at=_dt(session.started_at),
                    executions_before=before.executions,
                    names_before=json.dumps(sorted(before.names)),
                    owner=owner or self.ws.user,
                )
            )
        return True

    def kernel_sessions(self, kernel_id: str) -> list[dict]:
        """The sessions a Jupyter kernel id has had (one per restart), most recent first."""
        with self.ws.catalog.read_session() as s:
            rows = s.scalars(
                select(SessionRow)
                .where(SessionRow.kernel_id == kernel_id)
                .order_by(SessionRow.started_at.desc())
            ).all()
        return [_session_dict(r) for r in rows]

    def notebooks(self) -> list[dict]:
        """Notebook paths with recorded executions, most recent first."""
        with self.ws.catalog.read_session() as s:
            rows = s.execute(
                select(
                    ExecutionRow.notebook_path,
                    func.count(),
                    func.count(func.distinct(ExecutionRow.session_id)),
                    func.max(ExecutionRow.ended_at),
                )
                .group_by(ExecutionRow.notebook_path)
                .order_by(func.max(ExecutionRow.ended_at).desc())
            ).all()
        return [
            {
                "notebook_path": p,
                "executions": n,
                "sessions": k,
                "last_execution_at": to_iso_z(last),
            }
            for p, n, k, last in rows
        ]

    def notebooks_page(
        self,
        *,
        q: str | None = None,
        limit: Any = None,
        offset: Any = None,
        cursor: str | None = None,
    ) -> dict:
        """One page of ``notebooks`` (most recent first, then by path; ``q``: text in the
        path): the envelope of :mod:`..paging`."""
        from ..paging import page_rows

        needle = (q or "").lower()
        rows = [r for r in self.notebooks() if needle in r["notebook_path"].lower()]
        return page_rows(
            rows,
            key=lambda r: (-(epoch(r["last_execution_at"]) or 0.0), r["notebook_path"]),
            limit=limit,
            offset=offset,
            cursor=cursor,
        )

    def sessions(self, path: str) -> list[dict]:
        """The kernel sessions recorded for a notebook, most recent first: those with
        executions, and those registered by a recorder that has recorded nothing yet."""
        candidates = path_candidates(path)
        with self.ws.catalog.read_session() as s:
            rows = s.execute(
                select(
                    ExecutionRow.session_id,
                    func.count(),
                    func.min(ExecutionRow.started_at),
                    func.max(ExecutionRow.ended_at),
                )
                .where(ExecutionRow.notebook_path.in_(candidates))
                .group_by(ExecutionRow.session_id)
            ).all()
            registered = {
                r.session_id: r
                for r in s.scalars(
                    select(SessionRow).where(SessionRow.notebook_path.in_(candidates))
                )
            }
            missing = {sid for sid, *_ in rows} - set(registered)
            if missing:  # sessions recorded under another spelling of the path
                registered.update(
                    {
                        r.session_id: r
                        for r in s.scalars(
                            select(SessionRow).where(SessionRow.session_id.in_(missing))
                        )
                    }
                )
        out: dict[str, dict] = {}
        for sid, n, a, b in rows:
            reg = registered.get(sid)
            item = (
                _session_dict(reg)
                if reg is not None
                else {
                    "session_id": sid,
                    "kernel_id": None,
                    "started_at": None,
                    "executions_before": 0,
                }
            )
            item.update(
                executions=n,
                started_at=item["started_at"] or to_iso_z(a),
                last_execution_at=to_iso_z(b),
            )
            out[sid] = item
        for sid, reg in registered.items():
            if sid not in out:
                out[sid] = {**_session_dict(reg), "executions": 0, "last_execution_at": None}
        return sorted(
            out.values(),
            key=lambda d: d["last_execution_at"] or d["started_at"] or "",
            reverse=True,
        )

    def stored_log(self, path: str, session_id: str | None = None) -> ExecutionLog | None:
        """The catalog's log for ``path`` (the given session, else the most recent one)."""
        candidates = path_candidates(path)
        with self.ws.catalog.read_session() as s:
            if session_id is None:
                session_id = s.scalar(
                    select(ExecutionRow.session_id)
                    .where(ExecutionRow.notebook_path.in_(candidates))
                    .order_by(ExecutionRow.ended_at.desc(), ExecutionRow.id.desc())
                    .limit(1)
                )
                if session_id is None:
                    return None
            rows = s.scalars(
                select(ExecutionRow)
                .where(
                    ExecutionRow.session_id == session_id,
                    ExecutionRow.notebook_path.in_(candidates),
                )
                .order_by(ExecutionRow.seq)
            ).all()
            reg = s.get(SessionRow, session_id)
        if not rows:
            return None
        return ExecutionLog(
            executions=[_execution(r) for r in rows],
            notebook_path=rows[0].notebook_path,
            session_id=session_id,
            before_recording=_before(reg),
        )

    # -- resolving inputs ---------------------------------------------------------------------
    def resolve(
        self,
        path: str | None = None,
        *,
        notebook: Any = None,
        session_id: str | None = None,
        log: ExecutionLog | None = None,
        cells: list[NotebookCell] | None = None,
    ) -> tuple[ExecutionLog, list[NotebookCell], Any]:
        """(log, current cells, notebook or None) for the analyses; see the module docstring."""
        if notebook is None and path and cells is None and Path(path).expanduser().is_file():
            notebook = read_notebook(path)
        if log is None:
            stored = self.stored_log(path, session_id) if path else None
            embedded = log_from_notebook(notebook) if notebook is not None else None
            if session_id and embedded is not None and embedded.session_id != session_id:
                embedded = None
            log = _most_recent(stored, embedded)
        if log is None or not log.executions:
            where = path or "this notebook"
            raise NotFound(
                f"no execution history for {where}: run it in a kernel with "
                f"%load_ext jupyter_mlinfra (or save it from JupyterLab with the "
                f"side panel) first"
            )
        if cells is None:
            cells = cells_from_notebook(notebook) if notebook is not None else _cells_from_log(log)
        return log, cells, notebook

    # -- analyses -----------------------------------------------------------------------------
    def history(
        self, path: str | None = None, *, notebook: Any = None, session_id: str | None = None
    ) -> ExecutionLog:
        log, _cells, _nb = self.resolve(path, notebook=notebook, session_id=session_id)
        return log

    def check(
        self,
        path: str | None = None,
        *,
        notebook: Any = None,
        cells: list[NotebookCell] | None = None,
        session_id: str | None = None,
        log: ExecutionLog | None = None,
        live_names: Iterable[str] | None = None,
    ) -> Report:
        log, cells, _nb = self.resolve(
            path, notebook=notebook, session_id=session_id, log=log, cells=cells
        )
        return analyze(
            log.executions,
            cells,
            live_names=live_names,
            notebook_path=log.notebook_path or (path or ""),
            session_id=log.session_id,
            before_recording=log.before_recording,
        )

    def replay(
        self,
        path: str | None = None,
        *,
        cell_id: str | None = None,
        name: str | None = None,
        notebook: Any = None,
        session_id: str | None = None,
        log: ExecutionLog | None = None,
        kernel_name: str = "python3",
    ) -> tuple[list[Execution], nbformat.NotebookNode]:
        """The replay slice for a cell (default: the last execution) or a global name, and
        the notebook made of it."""
        from .replay import replay_of

        log, _cells, _nb = self.resolve(path, notebook=notebook, session_id=session_id, log=log)
        return replay_of(log, path=path, cell_id=cell_id, name=name, kernel_name=kernel_name)

    def export_replay(
        self,
        out_path: str | os.PathLike,
        path: str | None = None,
        overwrite: bool = True,
        **kwargs: Any,
    ) -> dict:
        """Write the replay notebook to ``out_path``; with ``overwrite=False`` an existing
        file is a Conflict and stays as it was."""
        from .replay import replay_file, write_replay

        out = replay_file(out_path, overwrite=overwrite)
        slice_, nb = self.replay(path, **kwargs)
        return write_replay(out, slice_, nb)

    def verify(
        self,
        path: str | os.PathLike,
        *,
        replay: bool = False,
        options: VerifyOptions | None = None,
        cwd: str | None = None,
        kernel_name: str | None = None,
        timeout: float | None = None,
        record_provenance: bool = True,
        session_id: str | None = None,
        cell_id: str | None = None,
    ) -> VerifyResult:
        """Re-run the saved notebook (or, with ``replay``, its replay slice) in a fresh kernel
        and compare outputs. The run's own provenance is recorded under
        ``<path>#verify`` so it never mixes with the notebook's interactive history.
        ``timeout``: seconds per cell (default: the ``verify_timeout_seconds`` setting)."""
        from ..jobs.kernels import verify_kernel_environment
        from .replay import replay_notebook, slice_for
        from .verify import run_and_compare

        if timeout is None:
            timeout = float(self.ws.config.settings.verify_timeout_seconds) or None
        path = str(Path(path).expanduser())
        nb = read_notebook(path)
        record_as = f"{os.path.abspath(path)}#verify"
        if not replay:
            cells = sum(1 for c in nb.cells if c.cell_type == "code")
            with verify_kernel_environment(self.ws, timeout=timeout, cells=cells) as env:
                return run_and_compare(
                    nb,
                    name=path,
                    cwd=cwd or str(Path(path).resolve().parent),
                    kernel_name=kernel_name,
                    timeout=timeout,
                    notebook_path=record_as,
                    record_provenance=record_provenance,
                    options=options,
                    provenance_sink=self.record,
                    kernel_env=env,
                )
        log, _cells, _nb = self.resolve(path, notebook=nb, session_id=session_id)
        slice_ = slice_for(log.executions, cell_id=cell_id)
        rnb = replay_notebook(slice_, notebook_path=log.notebook_path or path)
        from ..notebook_execution import load_notebook

        rnb = load_notebook(rnb)
        saved = {c.get("id"): c for c in nb.cells if c.cell_type == "code"}
        expected: dict[str, list] = {}
        for cell in rnb.cells:
            origin = ((cell.get("metadata") or {}).get("jupyter_mlinfra") or {}).get("origin")
            if not origin:
                continue
            stored = saved.get(origin["cell_id"])
            last = next(
                (e for e in reversed(log.executions) if e.cell_id == origin["cell_id"]), None
            )
            if stored is None or last is None or last.seq != origin["seq"]:
                continue  # an earlier execution: its outputs were not kept
            if stored.get("execution_count") not in (None, last.execution_count):
                continue  # the saved outputs come from another run
            expected[cell.get("id")] = stored.get("outputs", [])
        cells = sum(1 for c in rnb.cells if c.cell_type == "code")
        with verify_kernel_environment(self.ws, timeout=timeout, cells=cells) as env:
            return run_and_compare(
                rnb,
                name=path,
                expected_outputs=expected,
                replay=True,
                kernel_name=kernel_name,
                timeout=timeout,
                notebook_path=f"{os.path.abspath(path)}#replay",
                record_provenance=record_provenance,
                options=options,
                provenance_sink=self.record,
                kernel_env=env,
            )

    # -- for the Model store ------------------------------------------------------------------
    def dependencies(
        self,
        path: str | None = None,
        *,
        name: str | None = None,
        cell_id: str | None = None,
        notebook: Any = None,
        session_id: str | None = None,
        log: ExecutionLog | None = None,
        live_names: Iterable[str] | None = None,
    ) -> dict:
        """What produced a global ``name`` (or a cell's last result): the replay order, the
        notebook made of it, and the hazards that affect those cells.

        ``clean`` is False when any execution of the replay belongs to a stale, changed or
        deleted cell, or reads hidden state: the model store's dirty-state guard."""
        from .replay import replay_notebook, slice_for

        log, cells, _nb = self.resolve(path, notebook=notebook, session_id=session_id, log=log)
        slice_ = slice_for(log.executions, cell_id=cell_id, name=name)
        report = analyze(
            log.executions,
            cells,
            live_names=live_names,
            notebook_path=log.notebook_path,
            session_id=log.session_id,
            before_recording=log.before_recording,
        )
        involved = {e.cell_id for e in slice_}
        current = {c.id for c in cells}
        deleted = sorted(cid for cid in involved if cid not in current)
        read = set().union(*(e.reads for e in slice_))
        # notebook-wide findings about names count when the replay reads one of the names
        hazards = [
            f.to_dict()
            for f in affecting(report, involved)
            if f.kind not in ("hidden_state", "before_recording")
            or f.cell_id is not None
            or (set(f.names) & read)
        ]
        for cid in deleted:
            hazards.append(
                {
                    "kind": "deleted_cell",
                    "cell_id": cid,
                    "names": [],
                    "message": f"the replay uses cell {cid}, which is no longer in the notebook",
                }
            )
        for e in slice_[:-1]:  # not dirty: why the replay is longer than it may look
            if e.assumed:
                names = sorted(e.assumed)
                shown = ", ".join(f"`{n}`" for n in names)
                hazards.append(
                    {
                        "kind": "assumed",
                        "cell_id": e.cell_id,
                        "names": names,
                        "message": f"the replay keeps execution #{e.seq}: it passed {shown} to "
                        f"a call provenance cannot see into, which may have changed "
                        f"{'it' if len(names) == 1 else 'them'}",
                    }
                )
        return {
            "notebook_path": log.notebook_path or path,
            "session_id": log.session_id,
            "target": slice_[-1].to_dict() if slice_ else None,
            "replay": [e.to_dict() for e in slice_],
            "replay_notebook": replay_notebook(slice_, notebook_path=log.notebook_path or ""),
            "hazards": hazards,
            "clean": not any(h["kind"] in DIRTY_KINDS for h in hazards),
        }

    # -- the log in the notebook ----------------------------------------------------------------
    def saved_log(
        self,
        log: ExecutionLog,
        cells: list[NotebookCell] | None = None,
        path: str | None = None,
        max_sessions: int = 20,
    ) -> dict:
        """The log to store in the notebook's metadata: ``log`` (the current session) in
        full, and the catalog's earlier sessions of ``path`` compacted to what the current
        cells' replays need, within the ``provenance_saved_log_max_bytes`` setting."""
        from .savedlog import compact_log

        earlier: list[ExecutionLog] = []
        if path:
            for item in self.sessions(path)[: max_sessions + 1]:
                sid = item["session_id"]
                if sid == log.session_id or not item.get("executions"):
                    continue
                other = self.stored_log(path, sid)
                if other is not None:
                    earlier.append(other)
        limit = int(self.ws.config.settings.provenance_saved_log_max_bytes)
        return compact_log(log, earlier[:max_sessions], cells, max_bytes=limit)

    def attach_run_log(
        self, output_notebook: str | os.PathLike, recorded_as: str, session_id: str | None = None
    ) -> dict:
        """After a batch run (a job, a verify): write the run's log, recorded under the logical
        path ``recorded_as`` (the runner's ``notebook_path``), into the output notebook's
        metadata, so the output notebook carries its own provenance."""
        nb = read_notebook(output_notebook)
        log = self.stored_log(recorded_as, session_id)
        if log is None:
            raise NotFound(f"no execution history recorded as {recorded_as}")
        attach_log(nb, log)
        import nbformat

        nbformat.write(nb, output_notebook)
        return {
            "path": str(output_notebook),
            "session_id": log.session_id,
            "executions": len(log.executions),
        }

    def embed_log(
        self, notebook_path: str, out_path: str | None = None, session_id: str | None = None
    ) -> dict:
        """Write the catalog's log into the notebook file's metadata (``jupyter_mlinfra``)."""
        nb = read_notebook(notebook_path)
        log = self.stored_log(notebook_path, session_id)
        if log is None:
            raise NotFound(f"no execution history for {notebook_path}")
        attach_log(nb, log)
        target = out_path or notebook_path
        import nbformat

        nbformat.write(nb, target)
        return {"path": str(target), "executions": len(log.executions)}


def _before(row: SessionRow | None) -> BeforeRecording | None:
    if row is None or not row.executions_before:
        return None
    return BeforeRecording(
        executions=row.executions_before, names=frozenset(json.loads(row.names_before or "[]"))
    )


def _session_dict(row: SessionRow) -> dict:
    return {
        "session_id": row.session_id,
        "kernel_id": row.kernel_id,
        "notebook_path": row.notebook_path,
        "started_at": to_iso_z(row.started_at),
        "executions_before": row.executions_before,
    }


def _last_time(log: ExecutionLog | None) -> float:
    if log is None or not log.executions:
        return float("-inf")
    return max((e.ended_at or e.started_at or 0.0) for e in log.executions)


def _most_recent(a: ExecutionLog | None, b: ExecutionLog | None) -> ExecutionLog | None:
    if a is None or not a.executions:
        return b
    if b is None or not b.executions:
        return a
    return a if _last_time(a) >= _last_time(b) else b


def _cells_from_log(log: ExecutionLog) -> list[NotebookCell]:
    """Without the notebook at hand: the executed cells, each with its last source, in the
    order of their first execution."""
    seen: dict[str, NotebookCell] = {}
    for e in log.executions:
        if e.cell_id in seen:
            seen[e.cell_id].source = e.source
        else:
            seen[e.cell_id] = NotebookCell(id=e.cell_id, source=e.source)
    return list(seen.values())
