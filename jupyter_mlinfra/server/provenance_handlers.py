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

from ..core.errors import InvalidInput, NotFound
from ..core.paths import inside_root
from ..core.provenance.model import cells_from_json
from ..core.provenance.verify import VerifyOptions
from ..core.provenance.view import kernel_state, notebook_view
from .base import MLInfraHandler


class ProvenanceBase(MLInfraHandler):
    def os_path(self, path: str | None, what: str = "path") -> str:
        """The absolute path of a contents path (or of an absolute path) under the server's
        root; anything resolving outside it (``..``, another absolute path, a symlink) is
        refused, as job notebooks are."""
        if not path:
            raise InvalidInput(f"the notebook {what!r} is required")
        root = os.path.normpath(
            os.path.expanduser(self.settings.get("server_root_dir") or os.getcwd())
        )
        spelled = os.path.normpath(
            path if os.path.isabs(path) else os.path.join(root, path.lstrip("/"))
        )
        inside_root(spelled, root, what=what)  # the check, on the resolved path
        # the unresolved spelling: kernels record a notebook under the path Jupyter gave them
        return spelled

    def api_path(self, os_path: str) -> str:
        root = os.path.normpath(os.path.expanduser(self.settings.get("server_root_dir") or ""))
        if root and os_path.startswith(root + os.sep):
            return os_path[len(root) + 1 :].replace(os.sep, "/")
        return os_path

    @property
    def provenance(self):
        return self.workspace.service("provenance")

    async def view(
        self, path: str, *, session_id: str | None, kernel_id: str | None = None, cells=None
    ) -> dict:
        """The provenance view of a notebook (``core.provenance.view``), off the loop."""
        svc, display_path = self.provenance, self.api_path(path)

        def assemble() -> dict:
            return notebook_view(
                svc,
                path,
                display_path=display_path,
                session_id=session_id,
                kernel_id=kernel_id,
                cells=cells,
                recording_enabled=_recording_enabled(),
            )

        return await self.call(assemble)


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
    async def get(self) -> None:
        """History and hazards of ``?path=`` (against the saved notebook)."""
        path = self.os_path(self.query("path"))
        self.send_json(
            await self.view(
                path, session_id=self.query("session"), kernel_id=self.query("kernel_id")
            )
        )


class ProvenanceCheckHandler(ProvenanceBase):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        """History and hazards against the cells the front end shows now (unsaved edits)."""
        body = self.json_body()
        path = self.os_path(body.get("path"))
        cells = body.get("cells")
        if cells is not None and not isinstance(cells, list):
            raise InvalidInput("'cells' must be a list of {id, source, cell_type}")
        parsed = cells_from_json(cells) if cells is not None else None
        self.send_json(
            await self.view(
                path,
                session_id=body.get("session_id"),
                kernel_id=body.get("kernel_id"),
                cells=parsed,
            )
        )


class ProvenanceNotebooksHandler(ProvenanceBase):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        page = await self.call(
            self.provenance.notebooks_page,
            q=self.query("q") or None,
            limit=self.query("limit"),
            offset=self.query("offset"),
            cursor=self.query("cursor"),
        )
        for item in page["items"]:
            item["path"] = self.api_path(item["notebook_path"])
        self.send_json(page)


class ProvenanceReplayHandler(ProvenanceBase):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Write the replay notebook (default: ``<name>.replay.ipynb`` next to the notebook);
        an existing file is a 409 unless ``overwrite`` is true."""
        body = self.json_body()
        path = self.os_path(body.get("path"))
        out = body.get("out_path")
        out_os = (
            self.os_path(out, "out_path") if out else str(Path(path).with_suffix(".replay.ipynb"))
        )
        overwrite = body.get("overwrite", False)
        if not isinstance(overwrite, bool):
            raise InvalidInput("'overwrite' must be true or false")
        svc = self.provenance
        session = body.get("session_id")
        if not session:
            kernel = await self.call(kernel_state, svc, path, body.get("kernel_id"))
            session = kernel["session_id"] if kernel else None
        summary = await self.call(
            svc.export_replay,
            out_os,
            path,
            overwrite=overwrite,
            cell_id=body.get("cell_id"),
            name=body.get("name"),
            session_id=session,
        )
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
            opts = VerifyOptions(
                rtol=float(body.get("rtol", 1e-6)),
                atol=float(body.get("atol", 1e-9)),
                compare_stderr=not body.get("ignore_stderr", False),
                lax=bool(body.get("lax", False)),
            )
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"bad tolerance: {exc}") from exc
        if not await self.call(Path(path).is_file):
            raise NotFound(f"no notebook at {self.api_path(path)}")
        result = await self.call(
            self.provenance.verify,
            path,
            replay=replay,
            options=opts,
            cell_id=body.get("cell_id"),
            timeout=body.get("timeout_seconds"),
            kernel_name=body.get("kernel_name"),
        )
        payload = result.to_dict()
        payload["notebook"] = self.api_path(path)
        self.send_json(payload)


class ProvenanceRecordingHandler(ProvenanceBase):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        """Whether new kernels record from their first cell, per scope."""
        from ..kernel import autoload

        self.send_json(await self.call(autoload.status))

    @web.authenticated
    @authorized
    async def post(self) -> None:
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
        await self.call(autoload.enable if enabled else autoload.disable, scope)
        self.send_json(await self.call(autoload.status))
