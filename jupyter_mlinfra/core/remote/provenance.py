"""Provenance over HTTP. Notebook paths are the service's (relative to its root); an analysis
of a log the caller already holds (the kernel's live recording) runs here, as it needs no
catalog. A kernel's recorder sends its session and executions to the service."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..errors import InvalidInput
from ..provenance.analysis import Finding, Report
from ..provenance.model import ExecutionLog, NotebookCell
from ..provenance.verify import CellVerdict, VerifyOptions, VerifyResult
from .client import ServiceClient, items

RECORD_BATCH = 1000  # executions per POST provenance/executions (the service takes 5000)


def report_from_dict(data: dict) -> Report:
    fields = (
        "stale_direct",
        "stale_transitive",
        "hidden_state",
        "hidden_state_cells",
        "code_changed",
        "unexecuted",
        "reads_from_below",
        "unfollowed",
    )
    report = Report(
        **{name: list(data.get(name) or []) for name in fields},
        out_of_order=bool(data.get("out_of_order")),
        before_recording=int(data.get("before_recording") or 0),
        explanations=[
            Finding(
                kind=f.get("kind", ""),
                message=f.get("message", ""),
                cell_id=f.get("cell_id"),
                names=f.get("names") or [],
            )
            for f in data.get("explanations") or []
        ],
        notebook_path=data.get("notebook_path") or "",
        session_id=data.get("session_id") or "",
        executions=int(data.get("executions") or 0),
    )
    report._order = list(data.get("stale") or [])
    return report


def verify_result_from_dict(data: dict) -> VerifyResult:
    return VerifyResult(
        notebook=data.get("notebook") or "",
        replay=bool(data.get("replay")),
        duration_s=float(data.get("duration_s") or 0.0),
        run_error=data.get("run_error"),
        stop=data.get("stop"),
        cells=[
            CellVerdict(
                index=c["index"],
                cell_id=c.get("cell_id") or "",
                status=c["status"],
                reason=c.get("reason") or "",
                diff=c.get("diff") or "",
                origin=c.get("origin"),
            )
            for c in data.get("cells") or []
        ],
    )


def _cells_json(cells: list[NotebookCell] | None) -> list[dict] | None:
    if cells is None:
        return None
    return [{"id": c.id, "source": c.source, "cell_type": c.cell_type} for c in cells]


class RemoteProvenance:
    remote = True

    def __init__(self, ws, client: ServiceClient) -> None:
        self.ws = ws
        self.client = client

    def _unsupported(self, what: str):
        return InvalidInput(
            f"{what} is not available through the mlinfra service at {self.client.url}"
        )

    def status(self) -> dict:
        return self.client.get("health")["capabilities"]["provenance"]

    def notebooks(self) -> list[dict]:
        from .client import walk

        return walk(self.client, "provenance/notebooks", "notebooks", {})

    def _view(self, path: str, session_id: str | None) -> dict:
        return self.client.get("provenance", path=str(path), session=session_id)

    def history(
        self, path: str | None = None, *, notebook: Any = None, session_id: str | None = None
    ) -> ExecutionLog:
        if path is None:
            raise InvalidInput("give the notebook path (relative to the service's root)")
        view = self._view(path, session_id)
        if not view.get("executions"):
            from ..errors import NotFound

            raise NotFound(f"no execution history for {path}")
        return ExecutionLog.from_dict(
            {
                "executions": view["executions"],
                "notebook_path": view.get("notebook_path") or path,
                "session_id": view.get("session_id") or "",
            }
        )

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
        if log is not None:  # the caller's own recording: analysed here
            from ..provenance.analysis import analyze
            from ..provenance.service import _cells_from_log

            return analyze(
                log.executions,
                cells if cells is not None else _cells_from_log(log),
                live_names=live_names,
                notebook_path=log.notebook_path or (path or ""),
                session_id=log.session_id,
                before_recording=log.before_recording,
            )
        if path is None:
            raise InvalidInput("give the notebook path (relative to the service's root)")
        body: dict[str, Any] = {"path": str(path)}
        if session_id:
            body["session_id"] = session_id
        if cells is not None:
            body["cells"] = _cells_json(cells)
        view = self.client.post("provenance/check", body)
        if view.get("report") is None:
            from ..errors import NotFound

            raise NotFound(f"no execution history for {path}")
        return report_from_dict(view["report"])

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
    ):
        """The replay slice and notebook, made here from the service's history (or the
        caller's own log)."""
        from ..provenance.replay import replay_of

        if log is None:
            log = self.history(path, session_id=session_id)
        return replay_of(log, path=path, cell_id=cell_id, name=name, kernel_name=kernel_name)

    def export_replay(
        self,
        out_path: str | os.PathLike,
        path: str | None = None,
        overwrite: bool = True,
        **kwargs: Any,
    ) -> dict:
        """With the caller's own log, the replay notebook is written here; otherwise the
        service writes it under its root (``out_path`` relative to it)."""
        if kwargs.get("log") is not None:
            from ..provenance.replay import replay_file, write_replay

            out = replay_file(out_path, overwrite=overwrite)
            slice_, nb = self.replay(path, **kwargs)
            return write_replay(out, slice_, nb)
        body = {"path": str(path), "out_path": str(out_path), "overwrite": bool(overwrite)}
        for key in ("cell_id", "name", "session_id"):
            if kwargs.get(key) is not None:
                body[key] = kwargs[key]
        return self.client.post("provenance/replay", body)

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
        options = options or VerifyOptions()
        if options.sanitizers:
            raise InvalidInput(
                f"verify with --sanitize is not available through the mlinfra service at "
                f"{self.client.url}: its sanitizers are regular expressions the service would "
                f"run on its kernels' outputs, and its verify takes none; verify without them "
                f"(the built-in sanitizers apply) or in direct mode"
            )
        body: dict[str, Any] = {
            "path": str(path),
            "replay": bool(replay),
            "rtol": options.rtol,
            "atol": options.atol,
            "ignore_stderr": not options.compare_stderr,
            "lax": bool(options.lax),
        }
        if cell_id:
            body["cell_id"] = cell_id
        if timeout is not None:
            body["timeout_seconds"] = timeout
        if kernel_name:
            body["kernel_name"] = kernel_name
        return verify_result_from_dict(self.client.post("provenance/verify", body))

    # a kernel's recorder in remote mode: its background thread sends these (and keeps the
    # executions in memory, retrying, while the service cannot be reached)
    def record(self, executions: Iterable[Any], owner: str | None = None) -> int:
        """Send executions to the service (``POST provenance/executions``, in batches); the
        owner is the token's user, whatever ``owner`` says. Returns how many were new."""
        items = [e.to_dict() for e in executions]
        written = 0
        for start in range(0, len(items), RECORD_BATCH):
            answer = self.client.post(
                "provenance/executions", {"executions": items[start : start + RECORD_BATCH]}
            )
            written += int((answer or {}).get("written") or 0)
        return written

    def register_session(self, session: Any, owner: str | None = None) -> bool:
        """Register a kernel session with the service (``POST provenance/sessions``)."""
        before = session.before_recording
        body: dict[str, Any] = {
            "session_id": session.session_id,
            "notebook_path": session.notebook_path,
            "started_at": float(session.started_at),
            "kernel_id": session.kernel_id,
        }
        if before is not None and before.executions:
            body["before_recording"] = before.to_dict()
        return bool((self.client.post("provenance/sessions", body) or {}).get("created"))

    def resolve(
        self,
        path: str | None = None,
        *,
        notebook: Any = None,
        session_id: str | None = None,
        log: ExecutionLog | None = None,
        cells: list[NotebookCell] | None = None,
    ) -> tuple[ExecutionLog, list[NotebookCell], Any]:
        """(log, cells, notebook) as ``ProvenanceService.resolve``: the caller's own log or
        the service's history; the cells of the caller's notebook, else those of the log
        (the service's notebook file is not read here)."""
        from ..provenance.service import _cells_from_log, cells_from_notebook

        if log is None:
            log = self.history(path, session_id=session_id)
        if cells is None:
            cells = cells_from_notebook(notebook) if notebook is not None else _cells_from_log(log)
        return log, cells, notebook

    def dependencies(self, path: str | None = None, **kwargs: Any) -> dict:
        """As ``ProvenanceService.dependencies``, analysed here over the service's history
        (or the caller's own log): it needs no catalog."""
        from ..provenance.service import ProvenanceService

        return ProvenanceService.dependencies(self, path, **kwargs)  # type: ignore[arg-type]

    def embed_log(self, *args: Any, **kwargs: Any) -> dict:
        raise InvalidInput(
            f"saving the log into a notebook writes that notebook's file, which is the "
            f"mlinfra service's (under its root at {self.client.url}), not this process's: "
            f"the service keeps the log in its catalog, where history, check, replay and "
            f"dependencies read it"
        )


__all__ = ["RemoteProvenance", "report_from_dict", "verify_result_from_dict", "items"]
