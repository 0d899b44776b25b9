"""REST doors the remote mode needs beyond the panel's: storing a model version that the
client captured in its own kernel.

``POST /models/{name}/captured-versions`` (multipart/form-data): a ``version`` field with the
captured version's catalog fields and the description of each part (JSON), and one file per
part (the field named after the part). The service checks each part's SHA-256 and stores the
bytes as artifacts: it never deserializes them (the client's pickles run only where they are
loaded, as in direct mode). The version is owned by the caller the token names.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..core.errors import InvalidInput, PermissionDenied, quote
from .base import MLInfraHandler

NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)"


def captured_from_request(name: str, fields: dict[str, list[bytes]], files: dict) -> Any:
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
        blobs[field] = uploads[0]["body"]
    tags = meta.get("tags") or {}
    if not isinstance(tags, dict):
        raise InvalidInput("tags must be an object")
    tags = {k: v for k, v in tags.items() if k != "owner"}  # the owner is the token's user
    return CapturedVersion.from_manifest({**meta, "name": name, "tags": tags}, blobs)


class CapturedVersionsHandler(MLInfraHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        files = {
            field: [{"body": f["body"]} for f in uploads]
            for field, uploads in self.request.files.items()
        }
        captured = captured_from_request(name, self.request.body_arguments, files)
        store = self.workspace.service("models")
        version = await self.call(store.store, captured)
        self.send_json(version.to_dict(full=True), status=201)


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


class ServiceProxyHandler(MLInfraHandler):
    """Remote mode in a Jupyter server (a JupyterHub single-user server with service_url):
    every ``/mlinfra/api/...`` request of the side panel goes to the central service with
    this server's token (its owner's: ``MLINFRA_SERVICE_TOKEN`` or ``JUPYTERHUB_API_TOKEN``),
    and the service's answer comes back as it is. The request is authenticated by this
    server first, as every other."""

    _FORWARDED = ("Content-Type", "Content-Disposition")

    async def _forward(self, path: str) -> None:
        from tornado.httpclient import AsyncHTTPClient, HTTPRequest

        from ..core.remote.client import ServiceUnavailable

        remote = self.settings["mlinfra_workspace"].remote
        url = remote.api + path + (f"?{self.request.query}" if self.request.query else "")
        headers = {"Authorization": f"token {remote.token}"}
        for name in ("Content-Type", "Accept"):
            if name in self.request.headers:
                headers[name] = self.request.headers[name]
        method = self.request.method or "GET"
        request = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=self.request.body if method in ("POST", "PUT", "PATCH") else None,
            allow_nonstandard_methods=True,
            request_timeout=600.0,
        )
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        if response.code == 599:
            raise ServiceUnavailable(
                f"cannot reach the mlinfra service at {remote.url}: {str(response.error)[:200]}"
            )
        self.set_status(response.code)
        for name in self._FORWARDED:
            if name in response.headers:
                self.set_header(name, response.headers[name])
        if response.code == 204:
            self.finish()
        else:
            self.finish(response.body)

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


PROXY_ROUTES: list[tuple[str, type]] = [(r"/(?P<path>.*)", ServiceProxyHandler)]

REMOTE_ROUTES: list[tuple[str, type]] = [
    (rf"/models/{NAME}/captured-versions", CapturedVersionsHandler),
    (rf"/features/views/{FEATURE_VIEW}/definition", FeatureDefinitionHandler),
    (rf"/features/views/{FEATURE_VIEW}/rows", FeatureRowsHandler),
]
