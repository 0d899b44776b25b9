"""REST doors for what a kernel does from inside: a job run's metrics and artifacts, and a
kernel's provenance recording, sent by kernels in remote mode (see openapi/run_inside.json).

- ``POST /runs/{run_id}/metrics`` (JSON ``{name, value, step?}``) and
  ``POST /runs/{run_id}/artifacts`` (multipart: a ``meta`` JSON field ``{name, metadata}`` and
  one file field ``data``): accepted with that run's own run token (a token of another run is
  refused, even of the same owner), or as the run's owner or a user whose role may change
  other users' things (admin).
- ``POST /provenance/sessions`` and ``POST /provenance/executions``: a kernel's recorder
  registers its session and sends its executions in batches, owned by the caller; a session
  recorded by another user cannot be written to (403). Relative notebook paths are the
  service's (under its root).

The central service's job kernels hold only the service URL and a run token
(``jobs_service_url``), so this is how their notebooks log, as their run's owner.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..core.errors import InvalidInput, PermissionDenied, quote
from .base import MLInfraHandler
from .provenance_handlers import ProvenanceBase

RUN_ID = r"(?P<run_id>[0-9a-f]{32})"
MAX_BATCH = 5000  # executions in one POST /provenance/executions
MAX_PATH = 1024  # characters of a stored notebook path (the catalog's column)
# as GET /runs/{run_id}/artifacts/{name} reads them back
ARTIFACT_NAME = re.compile(r"[A-Za-z0-9_.\-/=@+]{1,1024}")


class RunInsideBase(MLInfraHandler):
    def check_run_token_scope(self, run_id: str) -> None:
        """A run token acts for its own run only."""
        model = getattr(self.current_user, "hub_user", None)
        if isinstance(model, dict) and model.get("kind") == "run" and model.get("run") != run_id:
            raise PermissionDenied(
                f"this run token belongs to run {model.get('run')}, not to run {run_id}"
            )

    def _may_log(self, run_id: str) -> None:
        """The run exists, the caller may read it and change it (its owner, or an admin)."""
        from ..core.identity import check_may_change
        from ..core.jobs.runs import readable_run

        ws = self.workspace
        with ws.catalog.read_session() as s:
            run = readable_run(ws, s, run_id)
            check_may_change(ws.identity, run.owner, f"run {run.id}", "log to")


class RunMetricsHandler(RunInsideBase):
    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        self.check_run_token_scope(run_id)
        body = self.json_body()
        name, value, step = body.get("name"), body.get("value"), body.get("step")
        if not isinstance(name, str):
            raise InvalidInput("'name' must be a string")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"metric {quote(name)} must be a number")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
            raise InvalidInput("'step' must be an integer")
        ws = self.workspace

        def log() -> None:
            self._may_log(run_id)
            ws.service("jobs").log_metric(run_id, name, float(value), step)

        await self.call(log)
        self.send_json({"run_id": run_id, "name": name, "value": float(value), "step": step}, 201)


class RunArtifactsUploadHandler(RunInsideBase):
    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        self.check_run_token_scope(run_id)
        raw = self.request.body_arguments.get("meta")
        if not raw or len(raw) != 1:
            raise InvalidInput("send the artifact's description as one 'meta' form field")
        try:
            meta = json.loads(raw[0])
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidInput("the 'meta' field is not valid JSON") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            raise InvalidInput("the 'meta' field must be an object with a 'name'")
        name, metadata = meta["name"], meta.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise InvalidInput("'metadata' must be an object")
        if not ARTIFACT_NAME.fullmatch(name) or ".." in name.split("/") or name.startswith("/"):
            raise InvalidInput(
                f"invalid artifact name {quote(name)}: up to 1024 letters, digits and _.-/=@+"
            )
        uploads = self.request.files.get("data") or []
        if len(uploads) != 1 or set(self.request.files) != {"data"}:
            raise InvalidInput("send the artifact's bytes as one file field 'data'")
        data = uploads[0]["body"]
        ws = self.workspace

        def store() -> dict:
            self._may_log(run_id)
            return ws.service("jobs").log_artifact(run_id, name, data, metadata)

        self.send_json(await self.call(store), 201)


class ProvenanceRecordBase(ProvenanceBase):
    def recorded_path(self, path: Any) -> str:
        """Where executions of ``path`` are kept: a relative path is the service's (under its
        root, as ``GET /provenance?path=`` reads it back); an absolute path is kept as the
        kernel spelled it (a file of the caller's machine)."""
        if not isinstance(path, str) or not path:
            raise InvalidInput("'notebook_path' must be a non-empty string")
        stored = path if os.path.isabs(path) or path.startswith("kernel:") else None
        stored = stored or self.os_path(path, "notebook_path")
        if len(stored) > MAX_PATH or "\x00" in stored:
            raise InvalidInput(f"notebook path {quote(path)} is too long or not a path")
        return stored

    def check_sessions(self, ws, session_ids: set[str]) -> None:
        """Sessions (and their executions) recorded by another user are theirs."""
        from sqlalchemy import select

        from ..core.identity import check_may_change
        from ..core.provenance.tables import ExecutionRow, SessionRow

        if not session_ids:
            return
        with ws.catalog.read_session() as s:
            owners = set(
                s.scalars(select(SessionRow.owner).where(SessionRow.session_id.in_(session_ids)))
            )
            owners |= set(
                s.scalars(
                    select(ExecutionRow.owner)
                    .where(ExecutionRow.session_id.in_(session_ids))
                    .distinct()
                )
            )
        for owner in owners:
            if owner:
                check_may_change(ws.identity, owner, "this kernel session", "record into")


class ProvenanceSessionsHandler(ProvenanceRecordBase):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        from ..core.provenance.model import BeforeRecording, KernelSession

        body = self.json_body()
        session_id = body.get("session_id")
        if not isinstance(session_id, str) or not session_id:
            raise InvalidInput("'session_id' must be a non-empty string")
        started_at = body.get("started_at")
        if isinstance(started_at, bool) or not isinstance(started_at, (int, float)):
            raise InvalidInput("'started_at' must be a number (epoch seconds)")
        kernel_id = body.get("kernel_id")
        if kernel_id is not None and not isinstance(kernel_id, str):
            raise InvalidInput("'kernel_id' must be a string")
        session = KernelSession(
            session_id=session_id,
            notebook_path=self.recorded_path(body.get("notebook_path")),
            started_at=float(started_at),
            kernel_id=kernel_id,
            before_recording=BeforeRecording.from_dict(body.get("before_recording")),
        )
        ws = self.workspace

        def register() -> bool:
            self.check_sessions(ws, {session_id})
            return ws.service("provenance").register_session(session, owner=ws.user)

        created = await self.call(register)
        self.send_json({"session_id": session_id, "created": created}, 201 if created else 200)


class ProvenanceExecutionsHandler(ProvenanceRecordBase):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        from dataclasses import replace

        from ..core.provenance.model import Execution

        body = self.json_body()
        raw = body.get("executions")
        if not isinstance(raw, list):
            raise InvalidInput("'executions' must be a list")
        if len(raw) > MAX_BATCH:
            raise InvalidInput(f"at most {MAX_BATCH} executions per request, got {len(raw)}")
        executions = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise InvalidInput(f"executions[{i}] must be an object")
            try:
                execution = Execution.from_dict(item)
            except (KeyError, TypeError, ValueError, OverflowError) as exc:
                raise InvalidInput(f"executions[{i}] is not an execution: {exc}"[:300]) from None
            if not execution.session_id:
                raise InvalidInput(f"executions[{i}] has no session_id")
            if execution.started_at is None or execution.ended_at is None:
                raise InvalidInput(f"executions[{i}] needs started_at and ended_at")
            path = self.recorded_path(execution.notebook_path)
            executions.append(replace(execution, notebook_path=path))
        ws = self.workspace

        def record() -> int:
            self.check_sessions(ws, {e.session_id for e in executions})
            return ws.service("provenance").record(executions, owner=ws.user)

        written = await self.call(record)
        self.send_json({"written": written}, 201 if written else 200)


RUN_INSIDE_ROUTES: list[tuple[str, type]] = [
    (rf"/runs/{RUN_ID}/metrics", RunMetricsHandler),
    (rf"/runs/{RUN_ID}/artifacts", RunArtifactsUploadHandler),
    (r"/provenance/sessions", ProvenanceSessionsHandler),
    (r"/provenance/executions", ProvenanceExecutionsHandler),
]
