"""REST doors the remote mode needs beyond the panel's: storing a model version that the
client captured in its own kernel.

``POST /models/{name}/captured-versions`` (multipart/form-data): a ``version`` field with the
captured version's catalog fields and the description of each part (JSON), and one file per
part (the field named after the part). The service checks each part's SHA-256 and stores the
bytes as artifacts: it never deserializes them (the client's pickles run only where they are
loaded, as in direct mode). The version is owned by the caller the token names.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..core.errors import InvalidInput, PermissionDenied, quote
from .base import MLInfraHandler

NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)"

_DICT_FIELDS = ("definition", "signature", "dependencies", "code", "metrics", "tags")
_PART_KEYS = {"name": str, "kind": str, "format": str, "media_type": str, "loadable": bool,
              "sha256": str}


def captured_from_request(name: str, fields: dict[str, list[bytes]], files: dict) -> Any:
    """The CapturedVersion a multipart request describes (InvalidInput for anything else)."""
    from ..core.models.capture.serializers import SerializedPart
    from ..core.models.pipeline import CapturedVersion

    raw = fields.get("version")
    if not raw or len(raw) != 1:
        raise InvalidInput("send the captured version's fields as one 'version' form field")
    try:
        meta = json.loads(raw[0])
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidInput("the 'version' field is not valid JSON") from None
    if not isinstance(meta, dict):
        raise InvalidInput("the 'version' field must be a JSON object")
    unknown = set(meta) - set(CapturedVersion.FIELDS) - {"parts"}
    if unknown:
        raise InvalidInput(f"unknown field(s) in 'version': {quote(sorted(unknown))}")
    for key in _DICT_FIELDS:
        if key in meta and not isinstance(meta[key], dict):
            raise InvalidInput(f"'{key}' must be an object")
    if "data" in meta and not (isinstance(meta["data"], list)
                               and all(isinstance(d, dict) for d in meta["data"])):
        raise InvalidInput("'data' must be a list of objects")
    for key in ("description", "alias", "run_id"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise InvalidInput(f"'{key}' must be a string")
    if not isinstance(meta.get("protect_alias", False), bool):
        raise InvalidInput("'protect_alias' must be true or false")
    reasons = meta.get("dirty_reasons", [])
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise InvalidInput("'dirty_reasons' must be a list of strings")
    described = meta.get("parts")
    if not isinstance(described, list) or not described:
        raise InvalidInput("'parts' must list the uploaded files")
    parts = []
    for entry in described:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise InvalidInput("each part needs a 'name'")
        for key, kind in _PART_KEYS.items():
            if key in entry and not isinstance(entry[key], kind):
                raise InvalidInput(f"part {quote(entry['name'])}: '{key}' has the wrong type")
        uploaded = files.get(entry["name"]) or []
        if len(uploaded) != 1:
            raise InvalidInput(f"part {quote(entry['name'])} was not uploaded (once)")
        data = uploaded[0]["body"]
        digest = hashlib.sha256(data).hexdigest()
        if entry.get("sha256") not in (None, digest):
            raise InvalidInput(f"part {quote(entry['name'])} does not match its sha256")
        parts.append(SerializedPart(
            name=entry["name"], kind=entry.get("kind") or "file", data=data,
            format=entry.get("format") or "bytes",
            media_type=entry.get("media_type") or "application/octet-stream",
            loadable=entry.get("loadable", True), sha256=digest))
    if set(files) - {p.name for p in parts}:
        raise InvalidInput("a file was uploaded that 'parts' does not describe")
    tags = dict(meta.get("tags") or {})
    tags.pop("owner", None)  # the owner is the caller the token names, set by the store
    values = {k: meta[k] for k in CapturedVersion.FIELDS if k in meta and k != "name"}
    values["tags"] = tags
    return CapturedVersion(name=name, parts=parts, **{
        "definition": {}, "signature": {}, "dependencies": {}, "data": [], "code": {},
        **values}).check()


class CapturedVersionsHandler(MLInfraHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        files = {field: [{"body": f["body"]} for f in uploads]
                 for field, uploads in self.request.files.items()}
        captured = captured_from_request(name, self.request.body_arguments, files)
        store = self.workspace.service("models")
        version = await self.call(store.store, captured)
        self.send_json(version.to_dict(full=True), status=201)


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
            "its own process: load the model (models.load) or materialize the view from a "
            "workspace with direct catalog access, or in a job run")


# route suffixes whose handlers unpickle or run stored user code in the server's process
USER_CODE_SUFFIXES = ("/predict", "/materialize", "/push")


def without_user_code(routes: list[tuple[str, type]]) -> list[tuple[str, type]]:
    return [(pattern, UserCodeRefusedHandler if pattern.endswith(USER_CODE_SUFFIXES)
             else handler) for pattern, handler in routes]


REMOTE_ROUTES: list[tuple[str, type]] = [
    (rf"/models/{NAME}/captured-versions", CapturedVersionsHandler),
]
