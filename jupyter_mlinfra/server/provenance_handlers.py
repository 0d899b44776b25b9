"""REST: ``/mlinfra/api/provenance`` (history + hazards of a notebook), check against the front
end's current cells, export the replay notebook, run verify.

Paths in requests are Jupyter contents paths (relative to the server root, as the front end
knows them); kernels record under the absolute file path (``JPY_SESSION_NAME``), so handlers map
one to the other. Every path, absolute or not, must resolve inside the server's root.
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.ioloop import IOLoop

from ..core.errors import InvalidInput, NotFound
from ..core.paths import inside_root
from ..core.provenance.model import (METADATA_KEY, cells_from_json, cells_from_notebook,
                                     log_from_notebook)
from ..core.provenance.service import read_notebook
from ..core.provenance.verify import VerifyOptions
from .base import MLInfraHandler


class ProvenanceBase(MLInfraHandler):
    def os_path(self, path: str | None, what: str = "path") -> str:
        """The absolute path of a contents path (or of an absolute path) under the server's
        root; anything resolving outside it (``..``, another absolute path, a symlink) is
        refused, as job notebooks are."""
        if not path:
            raise InvalidInput(f"the notebook {what!r} is required")
        root = os.path.normpath(os.path.expanduser(self.settings.get("server_root_dir")
                                                  or os.getcwd()))
        spelled = os.path.normpath(path if os.path.isabs(path)
                                   else os.path.join(root, path.lstrip("/")))
        inside_root(spelled, root, what=what)  # the check, on the resolved path
        # the unresolved spelling: kernels record a notebook under the path Jupyter gave them
        return spelled

    def api_path(self, os_path: str) -> str:
        root = os.path.normpath(os.path.expanduser(self.settings.get("server_root_dir") or ""))
        if root and os_path.startswith(root + os.sep):
            return os_path[len(root) + 1:].replace(os.sep, "/")
        return os_path

    @property
    def provenance(self):
        return self.workspace.service("provenance")

    def kernel_state(self, path: str, kernel_id: str | None) -> dict | None:
        """What the notebook's kernel records now: its current session (the latest its
        recorder registered; each restart registers a new one), or ``recording: False``."""
        if not kernel_id:
            return None
        svc = self.provenance
        sessions = svc.kernel_sessions(kernel_id)
        state = {"kernel_id": kernel_id, "recording": bool(sessions), "session_id": None,
                 "started_at": None, "restarted": len(sessions) > 1,
                 "previous_session_id": sessions[1]["session_id"] if len(sessions) > 1
                 else None}
        if sessions:
            state.update(session_id=sessions[0]["session_id"],
                         started_at=sessions[0]["started_at"])
        elif kernel_id in {s["session_id"] for s in svc.sessions(path)}:
            state.update(recording=True, session_id=kernel_id)  # recorded before sessions
        return state

    def payload(self, path: str, *, session_id: str | None, kernel_id: str | None = None,
                cells=None) -> dict:
        """The view of a notebook: the given session; else the kernel's current session
        (only it: after a restart, nothing of the session before); else the latest."""
        svc = self.provenance
        kernel = None if session_id else self.kernel_state(path, kernel_id)
        if kernel is not None:
            session_id = kernel["session_id"]
        empty = {"notebook_path": path, "path": self.api_path(path), "session_id": session_id,
                 "sessions": svc.sessions(path), "executions": [], "report": None,
                 "log": None, "kernel": kernel, "recording_enabled": _recording_enabled(),
                 "source": "recorded"}
        if kernel is not None and session_id is None:
            # the kernel records nothing (yet): the log the notebook carries, if any
            return self.saved_view(path, empty, kernel_id, cells) or empty
        try:
            log, current, _nb = svc.resolve(path, session_id=session_id, cells=cells)
        except NotFound:
            if kernel is None and cells is None and not Path(path).is_file():
                raise
            return (self.saved_view(path, empty, kernel_id, cells) if kernel is not None
                    else None) or empty
        report = svc.check(path, log=log, cells=current)
        return {**empty, "notebook_path": log.notebook_path or path,
                "session_id": log.session_id,
                "executions": [e.to_dict() for e in log.executions],
                "report": report.to_dict(), "log": svc.saved_log(log, current, path)}

    def saved_view(self, path: str, empty: dict, kernel_id: str | None, cells) -> dict | None:
        """The view of the execution log saved in the notebook (``source: "saved"``, its date
        and machine), for a kernel that has recorded nothing yet; None when the notebook
        carries no log, or carries one of this kernel's own sessions (after a restart the
        panel shows the new session only)."""
        if not Path(path).is_file():
            return None
        try:
            nb = read_notebook(path)
            saved = log_from_notebook(nb)
        except (InvalidInput, NotFound):
            return None
        if saved is None or not saved.executions:
            return None
        own = {s["session_id"] for s in self.provenance.kernel_sessions(kernel_id)} \
            if kernel_id else set()
        if saved.session_id in own:
            return None
        data = ((nb.get("metadata") or {}).get(METADATA_KEY) or {}).get("provenance") or {}
        current = cells if cells is not None else cells_from_notebook(nb)
        report = self.provenance.check(path, log=saved, cells=current)
        return {**empty, "notebook_path": saved.notebook_path or path,
                "session_id": saved.session_id,
                "executions": [e.to_dict() for e in saved.executions],
                "report": report.to_dict(), "log": dict(data), "source": "saved",
                "saved_at": data.get("saved_at") if isinstance(data.get("saved_at"), str)
                else None,
                "machine": data.get("machine") if isinstance(data.get("machine"), str)
                else None}


def _recording_enabled() -> bool:
    """Whether new kernels record from their first cell (``enable-recording``)."""
    try:
        from ..kernel import autoload

        return autoload.status()["enabled"]
    except Exception:  # IPython missing on the server: the kernels decide
        return False


class ProvenanceHandler(ProvenanceBase):
    @web.authenticated
    @authorized
    def get(self) -> None:
        """History and hazards of ``?path=`` (against the saved notebook)."""
        path = self.os_path(self.query("path"))
        self.send_json(self.payload(path, session_id=self.query("session"),
                                    kernel_id=self.query("kernel_id")))


class ProvenanceCheckHandler(ProvenanceBase):
    @web.authenticated
    @authorized
    def post(self) -> None:
        """History and hazards against the cells the front end shows now (unsaved edits)."""
        body = self.json_body()
        path = self.os_path(body.get("path"))
        cells = body.get("cells")
        if cells is not None and not isinstance(cells, list):
            raise InvalidInput("'cells' must be a list of {id, source, cell_type}")
        parsed = cells_from_json(cells) if cells is not None else None
        self.send_json(self.payload(path, session_id=body.get("session_id"),
                                    kernel_id=body.get("kernel_id"), cells=parsed))


class ProvenanceNotebooksHandler(ProvenanceBase):
    @web.authenticated
    @authorized
    def get(self) -> None:
        items = self.provenance.notebooks()
        for item in items:
            item["path"] = self.api_path(item["notebook_path"])
        self.send_json({"notebooks": items})


class ProvenanceReplayHandler(ProvenanceBase):
    @web.authenticated
    @authorized
    def post(self) -> None:
        """Write the replay notebook (default: ``<name>.replay.ipynb`` next to the notebook);
        an existing file is a 409 unless ``overwrite`` is true."""
        body = self.json_body()
        path = self.os_path(body.get("path"))
        out = body.get("out_path")
        out_os = self.os_path(out, "out_path") if out else \
            str(Path(path).with_suffix(".replay.ipynb"))
        session = body.get("session_id")
        if not session:
            kernel = self.kernel_state(path, body.get("kernel_id"))
            session = kernel["session_id"] if kernel else None
        overwrite = body.get("overwrite", False)
        if not isinstance(overwrite, bool):
            raise InvalidInput("'overwrite' must be true or false")
        summary = self.provenance.export_replay(out_os, path, overwrite=overwrite,
                                                cell_id=body.get("cell_id"),
                                                name=body.get("name"), session_id=session)
        summary["path"] = self.api_path(summary["path"])
        self.send_json(summary, status=201)


class ProvenanceVerifyHandler(ProvenanceBase):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Re-run the saved notebook (or its replay) in a fresh kernel; compare outputs."""
        body = self.json_body()
        path = self.os_path(body.get("path"))
        replay = bool(body.get("replay", False))
        try:
            opts = VerifyOptions(rtol=float(body.get("rtol", 1e-6)),
                                 atol=float(body.get("atol", 1e-9)),
                                 compare_stderr=not body.get("ignore_stderr", False),
                                 lax=bool(body.get("lax", False)))
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"bad tolerance: {exc}") from exc
        if not Path(path).is_file():
            raise NotFound(f"no notebook at {self.api_path(path)}")
        svc = self.provenance
        result = await IOLoop.current().run_in_executor(
            None, lambda: svc.verify(path, replay=replay, options=opts,
                                     cell_id=body.get("cell_id"),
                                     timeout=body.get("timeout_seconds"),
                                     kernel_name=body.get("kernel_name")))
        payload = result.to_dict()
        payload["notebook"] = self.api_path(path)
        self.send_json(payload)


class ProvenanceRecordingHandler(ProvenanceBase):
    @web.authenticated
    @authorized
    def get(self) -> None:
        """Whether new kernels record from their first cell, per scope."""
        from ..kernel import autoload

        self.send_json(autoload.status())

    @web.authenticated
    @authorized
    def post(self) -> None:
        """Switch recording from the first cell on or off for the server's user (``jupyter
        mlinfra enable-recording --user`` / ``disable-recording --user``). The environment's
        own configuration (``--sys-prefix``) is left to its administrator's command line."""
        from ..kernel import autoload

        body = self.json_body()
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            raise InvalidInput("'enabled' must be true or false")
        scope = body.get("scope", "user")
        if scope != "user":
            raise InvalidInput("'scope' must be 'user' (use the command line for --sys-prefix)")
        (autoload.enable if enabled else autoload.disable)(scope)
        self.send_json(autoload.status())
