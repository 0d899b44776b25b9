"""Provenance over HTTP. Notebook paths are the service's (relative to its root); an analysis
of a log the caller already holds (the kernel's live recording) runs here, as it needs no
catalog."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..errors import InvalidInput
from ..provenance.analysis import Finding, Report
from ..provenance.model import ExecutionLog, NotebookCell
from ..provenance.verify import CellVerdict, VerifyOptions, VerifyResult
from .client import ServiceClient, items


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
            raise self._unsupported("verify with --sanitize")
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

    # what needs the catalog itself
    def record(self, *args: Any, **kwargs: Any) -> int:
        raise self._unsupported("recording executions into the catalog")

    def register_session(self, *args: Any, **kwargs: Any) -> bool:
        raise self._unsupported("recording kernel sessions into the catalog")

    def dependencies(self, *args: Any, **kwargs: Any) -> dict:
        raise self._unsupported("provenance dependencies")

    def embed_log(self, *args: Any, **kwargs: Any) -> dict:
        raise self._unsupported("saving the log into a notebook")


__all__ = ["RemoteProvenance", "report_from_dict", "verify_result_from_dict", "items"]
