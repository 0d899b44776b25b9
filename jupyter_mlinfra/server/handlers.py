"""Foundation routes: health and the OpenAPI description."""

from __future__ import annotations

import json
from importlib import resources

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import MLInfraHandler


class HealthHandler(MLInfraHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json(await self.call(self.workspace.health))


class NotFoundHandler(MLInfraHandler):
    """Any path under /mlinfra/api that no route matches: a JSON 404, as the API's own."""

    # no validation: there is no operation to check against (and, as for APIHandler, no
    # _redirect_to_login: an API path is never redirected to a login page)
    def prepare(self) -> None:  # type: ignore[override]
        raise web.HTTPError(404, "no such path in the mlinfra API")


class OpenAPIHandler(MLInfraHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json(await self.call(load_openapi))


def load_openapi() -> dict:
    """The OpenAPI document: ``openapi/foundation.json`` plus one fragment per capability
    (``openapi/<capability>.json`` with its ``paths`` and ``components.schemas``)."""
    folder = resources.files("jupyter_mlinfra.server").joinpath("openapi")
    doc = json.loads(folder.joinpath("foundation.json").read_text())
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == "foundation.json" or not entry.name.endswith(".json"):
            continue
        fragment = json.loads(entry.read_text())
        doc["paths"].update(fragment.get("paths", {}))
        for kind, items in fragment.get("components", {}).items():
            doc["components"].setdefault(kind, {}).update(items)
        doc.setdefault("tags", []).extend(fragment.get("tags", []))
    _add_door_errors(doc)
    return doc


# What the door itself may answer, for every operation: its checks against this description
# (400), authentication, authorization and XSRF (403), an unknown resource or a path that no
# route matches (404, JSON too) and a body past max_request_body_bytes (413).
_DOOR_ERRORS = {
    "400": "invalid input: a parameter or a body field does not match this "
    "description (the message names it)",
    "403": "not authenticated, not authorized, or the XSRF check failed",
    "404": "no such resource (or no such path)",
    "413": "the request body is larger than max_request_body_bytes",
}


def _add_door_errors(doc: dict) -> None:
    for item in doc["paths"].values():
        for method, op in item.items():
            if method == "parameters" or not isinstance(op, dict):
                continue
            responses = op.setdefault("responses", {})
            for status, description in _DOOR_ERRORS.items():
                if status == "413" and "requestBody" not in op:
                    continue
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                )
