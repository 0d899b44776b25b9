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
from ..core.provenance.model import cells_from_json
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

    def session_for(self, path: str, session_id: str | None, kernel_id: str | None):
        """The session to show: the given one, else the kernel's (its id is the kernel id),
        else the latest."""
        if session_id:
            return session_id
        if kernel_id:
            sessions = {s["session_id"] for s in self.provenance.sessions(path)}
            if kernel_id in sessions:
                return kernel_id
        return None

    def payload(self, path: str, *, session_id: str | None, cells=None) -> dict:
        svc = self.provenance
        try:
            log, current, _nb = svc.resolve(path, session_id=session_id, cells=cells)
        except NotFound:
            if cells is None and not Path(path).is_file():
                raise
            return {"notebook_path": path, "path": self.api_path(path), "session_id": None,
                    "sessions": svc.sessions(path), "executions": [], "report": None,
                    "log": None}
        report = svc.check(path, log=log, cells=current)
        return {"notebook_path": log.notebook_path or path, "path": self.api_path(path),
                "session_id": log.session_id, "sessions": svc.sessions(path),
                "executions": [e.to_dict() for e in log.executions],
                "report": report.to_dict(), "log": log.to_dict()}


class ProvenanceHandler(ProvenanceBase):
    @web.authenticated
    @authorized
    def get(self) -> None:
        """History and hazards of ``?path=`` (against the saved notebook)."""
        path = self.os_path(self.query("path"))
        session = self.session_for(path, self.query("session"), self.query("kernel_id"))
        self.send_json(self.payload(path, session_id=session))


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
        session = self.session_for(path, body.get("session_id"), body.get("kernel_id"))
        self.send_json(self.payload(path, session_id=session, cells=parsed))


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
        """Write the replay notebook (default: ``<name>.replay.ipynb`` next to the notebook)."""
        body = self.json_body()
        path = self.os_path(body.get("path"))
        out = body.get("out_path")
        out_os = self.os_path(out, "out_path") if out else \
            str(Path(path).with_suffix(".replay.ipynb"))
        session = self.session_for(path, body.get("session_id"), body.get("kernel_id"))
        summary = self.provenance.export_replay(out_os, path, cell_id=body.get("cell_id"),
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
                                 compare_stderr=not body.get("ignore_stderr", False))
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"bad tolerance: {exc}") from exc
        if not Path(path).is_file():
            raise NotFound(f"no notebook at {self.api_path(path)}")
        svc = self.provenance
        result = await IOLoop.current().run_in_executor(
            None, lambda: svc.verify(path, replay=replay, options=opts,
                                     cell_id=body.get("cell_id")))
        payload = result.to_dict()
        payload["notebook"] = self.api_path(path)
        self.send_json(payload)
