"""The one route table (paths are relative to ``/mlinfra/api``)."""

from __future__ import annotations

from .handlers import HealthHandler, NotFoundHandler, OpenAPIHandler

ROUTES: list[tuple[str, type]] = [
    (r"/health", HealthHandler),
    (r"/openapi.json", OpenAPIHandler),
]

from .provenance_handlers import (
    ProvenanceCheckHandler,
    ProvenanceHandler,
    ProvenanceNotebooksHandler,
    ProvenanceRecordingHandler,
    ProvenanceReplayHandler,
    ProvenanceVerifyHandler,
)

ROUTES += [
    (r"/provenance", ProvenanceHandler),
    (r"/provenance/check", ProvenanceCheckHandler),
    (r"/provenance/notebooks", ProvenanceNotebooksHandler),
    (r"/provenance/replay", ProvenanceReplayHandler),
    (r"/provenance/verify", ProvenanceVerifyHandler),
    (r"/provenance/recording", ProvenanceRecordingHandler),
]

from .models_handlers import ROUTES as _MODEL_ROUTES

ROUTES += _MODEL_ROUTES

from .jobs_handlers import JOBS_ROUTES as _JOBS_ROUTES

ROUTES += _JOBS_ROUTES

from .features_handlers import FEATURE_ROUTES as _FEATURE_ROUTES

ROUTES += _FEATURE_ROUTES

from .notebooks_handlers import NOTEBOOK_ROUTES as _NOTEBOOK_ROUTES

ROUTES += _NOTEBOOK_ROUTES

from .audit_handlers import AUDIT_ROUTES as _AUDIT_ROUTES

ROUTES += _AUDIT_ROUTES

from .remote_handlers import REMOTE_ROUTES as _REMOTE_ROUTES

ROUTES += _REMOTE_ROUTES

from .run_inside_handlers import RUN_INSIDE_ROUTES as _RUN_INSIDE_ROUTES

ROUTES += _RUN_INSIDE_ROUTES

from .examples_handlers import EXAMPLES_ROUTES as _EXAMPLES_ROUTES

ROUTES += _EXAMPLES_ROUTES

# last: any other path under the API is a JSON 404 (not jupyter_server's HTML page)
ROUTES += [(r"/.*", NotFoundHandler)]
