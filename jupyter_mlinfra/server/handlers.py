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
    def get(self) -> None:
        self.send_json(self.workspace.health())


class OpenAPIHandler(MLInfraHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        self.send_json(load_openapi())


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
    return doc
