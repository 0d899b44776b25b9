"""REST doors the remote mode needs beyond the panel's: storing a model version that the
client captured in its own kernel.

``POST /models/{name}/captured-versions`` (multipart/form-data): a ``version`` field with the
captured version's catalog fields and the description of each part (JSON), and one file per
part (the field named after the part). The body is streamed: each part is written to a
private file under ``<home>/uploads`` and hashed as it arrives (``streamed_form``), so an
upload may be larger than ``max_request_body_bytes`` and ``ServerApp.max_body_size`` (up to
``model_upload_max_bytes``, which tornado enforces for this request as it reads; a body that
declares more is answered 413 before it is read) and the service's memory does not grow
with it. The service checks each part's SHA-256 and stores the bytes as
artifacts from those files: it never deserializes them (the client's pickles run only where
they are loaded, as in direct mode). An upload that is interrupted, refused or invalid
leaves no version and no artifact: nothing reaches the artifact store before the whole body
has arrived and checked out, and the received files are removed when the request ends.
The version is owned by the caller the token names.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.http1connection import HTTP1Connection

from ..core.errors import InvalidInput, MLInfraError, PermissionDenied, quote
from .base import MLInfraHandler, RequestTooLarge

NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)"


def captured_from_request(
    name: str, fields: dict[str, list[bytes]], files: dict[str, list[Any]]
) -> Any:
    """The CapturedVersion a multipart request describes (InvalidInput for anything else):
    ``CapturedVersion.from_manifest`` checks the fields and each part's SHA-256."""
    from ..core.models.pipeline import CapturedVersion

    raw = fields.get("version")
    if not raw or len(raw) != 1:
        raise InvalidInput("send the captured version's manifest as one 'version' form field")
    try:
        meta = json.loads(raw[0])
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidInput("the 'version' field is not valid JSON") from None
    if not isinstance(meta, dict):
        raise InvalidInput("the 'version' field must be a JSON object")
    if meta.get("name", name) != name:
        raise InvalidInput(
            f"the manifest names model {quote(meta.get('name'))}, the path {quote(name)}"
        )
    described = meta.get("parts")
    if not isinstance(described, list) or not described:
        raise InvalidInput("'parts' must list the uploaded files")
    names = {p.get("name") for p in described if isinstance(p, dict)}
    blobs = {}
    for field, uploads in files.items():
        if len(uploads) != 1 or field not in names:
            raise InvalidInput(f"file {quote(field)} is not one part the manifest describes")
        blobs[field] = uploads[0]
    tags = meta.get("tags") or {}
    if not isinstance(tags, dict):
        raise InvalidInput("tags must be an object")
    tags = {k: v for k, v in tags.items() if k != "owner"}  # the owner is the token's user
    return CapturedVersion.from_manifest({**meta, "name": name, "tags": tags}, blobs)


UNBOUNDED = 1 << 62  # model_upload_max_bytes = 0: no bound of its own


def upload_too_large_message(size: int, limit: int) -> str:
    return (
        f"the model upload has {size} bytes; this mlinfra service takes model uploads of at "
        f"most {limit} bytes (its setting c.MLInfra.model_upload_max_bytes)"
    )


UPLOAD_BATCH_BYTES = 1 << 20  # received chunks are handed to a worker thread in batches


def _as_input_error(exc: Exception) -> Exception:
    """A body the multipart parser could not follow is the caller's mistake (400); a disk
    that failed is the service's (kept as it is: 500)."""
    if isinstance(exc, (MLInfraError, OSError)):
        return exc
    return InvalidInput(f"the multipart body is malformed ({type(exc).__name__})")


@web.stream_request_body
class CapturedVersionsHandler(MLInfraHandler):
    """The body arrives through ``data_received`` after ``prepare`` (authentication and
    authorization first: nothing is written for a caller who may not register)."""

    _form: Any = None
    _failed: Exception | None = None
    _storing = False

    async def prepare(self) -> None:  # type: ignore[override]
        self._pending = bytearray()
        ws = self.settings["mlinfra_workspace"]
        # this upload's own bound instead of ServerApp.max_body_size (tornado enforces it as
        # it reads, before a byte reaches data_received)
        limit = ws.config.settings.model_upload_max_bytes
        connection = self.request.connection
        assert isinstance(connection, HTTP1Connection)  # tornado's HTTP server's
        connection.set_max_body_size(limit if limit > 0 else UNBOUNDED)
        await super().prepare()
        if self._finished:
            return
        if not self.current_user or not self.authorizer.is_authorized(
            self, self.current_user, "write", self.auth_resource
        ):
            raise web.HTTPError(403)
        declared = self.request.headers.get("Content-Length", "")
        if limit > 0 and declared.isdigit() and int(declared) > limit:
            # answered before the body is read (tornado then closes the connection)
            raise RequestTooLarge(upload_too_large_message(int(declared), limit))
        from .streamed_form import StreamedForm

        fields_limit = ws.config.settings.max_request_body_bytes or 64 * 1024 * 1024
        self._form = await self.call(
            StreamedForm,
            self.request.headers.get("Content-Type", ""),
            str(ws.config.home / "uploads"),
            field_limit=fields_limit,
        )

    async def data_received(self, chunk: bytes) -> None:
        if self._form is None:
            return  # refused or failed: the rest of the body is read and dropped
        self._pending += chunk
        if len(self._pending) >= UPLOAD_BATCH_BYTES:
            await self._feed()

    async def _feed(self) -> None:
        data, self._pending = bytes(self._pending), bytearray()
        try:
            await self.call(self._form.write, data)
        except Exception as exc:  # answered when the body is complete (a clean 400)
            self._failed = _as_input_error(exc)
            self._discard()

    def _discard(self) -> None:
        if self._form is not None:
            self._form.cleanup()
            self._form = None

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        try:
            if self._pending and self._form is not None:
                await self._feed()
            if self._failed is not None:
                raise self._failed
            form = self._form
            try:
                await self.call(form.finish)
            except Exception as exc:
                raise _as_input_error(exc) from None
            captured = captured_from_request(name, form.fields, form.files)
            store = self.workspace.service("models")
            self._storing = True
            version = await self.call(store.store, captured)
        finally:
            self._storing = False
            await self.call(self._discard)
        self.send_json(version.to_dict(full=True), status=201)

    def on_connection_close(self) -> None:
        # the client went away mid-upload: what arrived is removed, nothing was stored
        if not self._storing:
            self._discard()
        super().on_connection_close()

    def on_finish(self) -> None:
        if not self._storing:
            self._discard()


FEATURE_VIEW = r"(?P<name>[A-Za-z][A-Za-z0-9_]*)"


class FeatureDefinitionHandler(MLInfraHandler):
    """``POST /features/views/{name}/definition``: a view definition the client inferred in
    its own process (schema, keys, timestamps, transform source text; never a pickle),
    recorded as a local register_view would."""

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        from ..core.remote.feature_writes import define_view

        body = self.json_body()
        fs = self.workspace.service("features")
        answer = await self.call(define_view, fs, name, body)
        self.send_json(answer, status=201 if answer["created"] else 200)


class FeatureRowsHandler(MLInfraHandler):
    """``POST /features/views/{name}/rows`` (multipart/form-data): rows the client computed
    with the view's transform in its own process (a ``rows`` parquet file) and a ``meta``
    JSON field (mode materialize|push, version, start, end): checked against the view's
    schema and stored offline and online; the service runs no caller code."""

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        from ..core.remote.feature_writes import store_rows

        raw = self.request.body_arguments.get("meta")
        if not raw or len(raw) != 1:
            raise InvalidInput("send the upload's description as one 'meta' form field")
        try:
            meta = json.loads(raw[0])
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidInput("the 'meta' field is not valid JSON") from None
        uploads = self.request.files.get("rows") or []
        if len(uploads) != 1 or set(self.request.files) != {"rows"}:
            raise InvalidInput("send the computed rows as one parquet file field 'rows'")
        fs = self.workspace.service("features")
        answer = await self.call(store_rows, fs, name, meta, uploads[0]["body"])
        self.send_json(answer, status=200)


class UserCodeRefusedHandler(MLInfraHandler):
    """On the central service, the operations that would run a caller's code in the
    service's own process (which holds the catalog and storage credentials): predicting
    with a stored model (unpickling it) and materializing or pushing a feature view (running
    its stored transform). Refused with a 403 that says where to do it instead."""

    @web.authenticated
    @authorized
    def post(self, **_: str) -> None:
        raise PermissionDenied(
            "the central mlinfra service does not run stored models or feature transforms in "
            "its own process: load the model (models.load); materialize or push to the view "
            "in remote mode, where its transform runs in your process and the computed rows "
            "are uploaded (POST .../rows); or use a job run"
        )


# route suffixes whose handlers unpickle or run stored user code in the server's process
USER_CODE_SUFFIXES = ("/predict", "/materialize", "/push")


def without_user_code(routes: list[tuple[str, type]]) -> list[tuple[str, type]]:
    return [
        (pattern, UserCodeRefusedHandler if pattern.endswith(USER_CODE_SUFFIXES) else handler)
        for pattern, handler in routes
    ]


PROXY_MAX_BODY_BYTES = 1 << 40  # the service's answers pass through, never held whole


class ServiceProxyHandler(MLInfraHandler):
    """Remote mode in a Jupyter server (a JupyterHub single-user server with service_url):
    every ``/mlinfra/api/...`` request of the side panel goes to the central service with
    this server's token (its owner's: ``MLINFRA_SERVICE_TOKEN`` or ``JUPYTERHUB_API_TOKEN``),
    and the service's answer comes back as it is. The request is authenticated by this
    server first, as every other."""

    _FORWARDED = ("Content-Type", "Content-Disposition")

    async def _forward(self, path: str) -> None:
        """The service's answer goes on to the browser as it arrives (a model artifact of
        any size passes through without being held here)."""
        from tornado.httpclient import AsyncHTTPClient, HTTPRequest
        from tornado.httputil import HTTPHeaders

        from ..core.remote.client import ServiceUnavailable

        remote = self.settings["mlinfra_workspace"].remote
        url = remote.api + path + (f"?{self.request.query}" if self.request.query else "")
        headers = {"Authorization": f"token {remote.token}"}
        for name in ("Content-Type", "Accept"):
            if name in self.request.headers:
                headers[name] = self.request.headers[name]
        method = self.request.method or "GET"
        answer: dict = {"code": None, "headers": HTTPHeaders(), "started": False}

        def on_header(line: str) -> None:
            if line.startswith("HTTP/"):
                answer["code"], answer["headers"] = int(line.split()[1]), HTTPHeaders()
            elif line.strip():
                answer["headers"].parse_line(line)

        def start() -> None:
            if answer["started"]:
                return
            answer["started"] = True
            self.set_status(answer["code"])
            for name in self._FORWARDED:
                if name in answer["headers"]:
                    self.set_header(name, answer["headers"][name])

        def on_chunk(chunk: bytes) -> None:
            start()
            self.write(chunk)
            self.flush()

        request = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=self.request.body if method in ("POST", "PUT", "PATCH") else None,
            allow_nonstandard_methods=True,
            request_timeout=600.0,
            header_callback=on_header,
            streaming_callback=on_chunk,
        )
        client = self.settings.get("mlinfra_proxy_client")
        if client is None:  # streamed answers are not bound by the default 100 MB
            client = AsyncHTTPClient(force_instance=True, max_body_size=PROXY_MAX_BODY_BYTES)
            self.settings["mlinfra_proxy_client"] = client
        response = await client.fetch(request, raise_error=False)
        if response.code == 599 and not answer["started"]:
            raise ServiceUnavailable(
                f"cannot reach the mlinfra service at {remote.url}: {str(response.error)[:200]}"
            )
        if answer["code"] is None:
            answer["code"] = response.code
        start()
        self.finish()

    @web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    @authorized
    async def post(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    @authorized
    async def put(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    @authorized
    async def patch(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    @authorized
    async def delete(self, path: str) -> None:
        await self._forward(path)


def _proxy_routes() -> list[tuple[str, type]]:
    from .provenance_handlers import ProvenanceRecordingHandler

    return [
        # recording from the first cell switches this server's own kernels (its user's
        # IPython profile): answered here, not by the service's environment
        (r"/provenance/recording", ProvenanceRecordingHandler),
        (r"/(?P<path>.*)", ServiceProxyHandler),
    ]


PROXY_ROUTES: list[tuple[str, type]] = _proxy_routes()

REMOTE_ROUTES: list[tuple[str, type]] = [
    (rf"/models/{NAME}/captured-versions", CapturedVersionsHandler),
    (rf"/features/views/{FEATURE_VIEW}/definition", FeatureDefinitionHandler),
    (rf"/features/views/{FEATURE_VIEW}/rows", FeatureRowsHandler),
]
