"""The one route table (paths are relative to ``/mlinfra/api``)."""

from __future__ import annotations

from .handlers import HealthHandler, OpenAPIHandler

ROUTES: list[tuple[str, type]] = [
    (r"/health", HealthHandler),
    (r"/openapi.json", OpenAPIHandler),
]
