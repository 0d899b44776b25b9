"""REST doors for feature views defined in remote mode (see ``core/remote/feature_sources``):

- ``POST /features/sources``: a DataFrame source as parquet (the raw body), streamed to a
  private file under ``<home>/uploads`` and hashed as it arrives; at most
  ``features_source_max_bytes`` (413 beyond it, nothing kept); stored content-addressed.
- ``GET /features/sources?ref=``: the table an ``artifact:`` / ``job:`` source names.
- ``GET /features/views/{name}/source``: a view version's batch source rows.
- ``GET /features/views/{name}/transform``: a view version's stored transform (bytes the
  service never loads), for a caller who may change the view.
- ``POST /features/views/{name}/compact`` and ``POST /features/usage``: as the Python API.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..core.errors import InvalidInput
from .base import STREAM_CHUNK_BYTES, MLInfraHandler, RequestTooLarge

VIEW = r"(?P<name>[A-Za-z][A-Za-z0-9_]*)"


def _version(handler: MLInfraHandler) -> int | None:
    raw = handler.query("version")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput("version must be an integer") from None
    if value < 1:
        raise InvalidInput("version must be 1 or more")
    return value


class _ArtifactSender(MLInfraHandler):
    async def send_artifact(self, key: str, media_type: str, headers: dict | None = None) -> None:
        """The artifact's bytes streamed from the store in chunks (never whole in memory),
        verified against their checksum as they are read."""
        artifacts = self.workspace.artifacts
        info = await self.call(artifacts.stat, key)
        stream = await self.call(artifacts.open, key)
        try:
            self.set_header("Content-Type", media_type)
            self.set_header("Content-Length", str(info.size))
            for name, value in (headers or {}).items():
                self.set_header(name, value)
            while chunk := await self.call(stream.read, STREAM_CHUNK_BYTES):
                self.write(chunk)
                await self.flush()
        finally:
            stream.close()
        self.finish()


@web.stream_request_body
class FeatureSourcesHandler(_ArtifactSender):
    _file: Any = None
    _path: str | None = None
    _too_large = False

    async def prepare(self) -> None:  # type: ignore[override]
        self._size = 0
        self._digest = hashlib.sha256()
        await super().prepare()
        if self._finished or self.request.method != "POST":
            return
        if not self.current_user or not self.authorizer.is_authorized(
            self, self.current_user, "write", self.auth_resource
        ):
            raise web.HTTPError(403)
        ws = self.settings["mlinfra_workspace"]
        self._limit = ws.config.settings.features_source_max_bytes
        uploads = ws.config.home / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        fd, self._path = tempfile.mkstemp(dir=uploads, prefix="source-", suffix=".parquet")
        self._file = os.fdopen(fd, "wb")

    def data_received(self, chunk: bytes) -> None:
        if self._file is None:
            return  # refused, or past the limit: the rest is read and dropped
        self._size += len(chunk)
        if self._limit and self._size > self._limit:
            self._too_large = True
            self._discard()
            return
        self._digest.update(chunk)
        self._file.write(chunk)

    def _discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._path is not None:
            try:
                os.unlink(self._path)
            except FileNotFoundError:
                pass
            self._path = None

    @web.authenticated
    @authorized
    async def post(self) -> None:
        from ..core.remote.feature_sources import store_source

        try:
            if self._too_large:
                raise RequestTooLarge(
                    f"the uploaded source has more than {self._limit} bytes; this service "
                    f"keeps at most {self._limit} per source (features_source_max_bytes)"
                )
            if self._file is None or self._path is None:
                raise InvalidInput("send the source's parquet bytes as the request body")
            self._file.close()
            self._file = None
            if not self._size:
                raise InvalidInput("the uploaded source is empty: send its parquet bytes")
            answer = await self.call(
                store_source, self.workspace, self._path, self._digest.hexdigest(), self._size
            )
        finally:
            self._discard()
        self.send_json(answer, status=201)

    @web.authenticated
    @authorized
    async def get(self) -> None:
        from ..core.remote.feature_sources import source_table

        ref = self.query("ref")
        if not ref:
            raise InvalidInput("give the source as ?ref=artifact:<key> or ?ref=job:<job>/<name>")
        key, media_type = await self.call(source_table, self.workspace, ref)
        await self.send_artifact(key, media_type)

    def on_connection_close(self) -> None:
        self._discard()  # the client went away mid-upload: nothing is kept
        super().on_connection_close()

    def on_finish(self) -> None:
        self._discard()


class FeatureViewSourceHandler(_ArtifactSender):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        from ..core.remote.feature_sources import view_source

        fs = self.workspace.service("features")
        key, media_type = await self.call(view_source, fs, name, _version(self))
        await self.send_artifact(key, media_type)


class FeatureViewTransformHandler(_ArtifactSender):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        from ..core.remote.feature_sources import view_transform

        fs = self.workspace.service("features")
        key, version = await self.call(view_transform, fs, name, _version(self))
        await self.send_artifact(
            key, "application/octet-stream", {"X-Mlinfra-View-Version": str(version)}
        )


class FeatureCompactHandler(MLInfraHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.json_body()
        fs = self.workspace.service("features")
        self.send_json(await self.call(fs.compact, name, body.get("version")))


class FeatureUsageHandler(MLInfraHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        fs = self.workspace.service("features")
        recorded = await self.call(fs.record_usage, body.get("lineage"), body.get("consumer"))
        self.send_json({"items": recorded}, status=201)


REMOTE_FEATURE_ROUTES: list[tuple[str, type]] = [
    (r"/features/sources", FeatureSourcesHandler),
    (r"/features/usage", FeatureUsageHandler),
    (rf"/features/views/{VIEW}/source", FeatureViewSourceHandler),
    (rf"/features/views/{VIEW}/transform", FeatureViewTransformHandler),
    (rf"/features/views/{VIEW}/compact", FeatureCompactHandler),
]
