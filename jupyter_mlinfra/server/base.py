"""The one base handler: authentication, authorization, JSON bodies and the one error mapper."""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from ..core.errors import InvalidInput, MLInfraError, quote
from ..core.workspace import Workspace
from .request_validation import served_validator

API_BASE = "mlinfra/api"
INLINE_BODY_BYTES = 256 * 1024  # larger bodies are parsed and validated in a worker thread

STREAM_CHUNK_BYTES = 1 << 20  # byte bodies larger than this go out chunk by chunk
T = TypeVar("T")

# The threads every handler's blocking work runs in (catalog queries, artifact reads and
# writes, notebook snapshots, model loads, kernels for verify/reproduce): never the event
# loop, which keeps answering other requests meanwhile. Their own pool, so long calls
# (a verify running a notebook) cannot starve asyncio's default executor.
DOOR_THREADS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="mlinfra-door")


class RequestTooLarge(MLInfraError):
    code = "request_too_large"
    http_status = 413
    exit_code = 2


class MLInfraHandler(APIHandler):
    """Handlers raise core errors; ``write_error`` turns them into ``{"error": {...}}``.

    Subclasses decorate verbs with ``@web.authenticated`` and ``@authorized`` (resource
    ``mlinfra``), so every route goes through jupyter_server's identity, authorization and
    XSRF checks. Before a verb runs, ``prepare`` checks the request against the OpenAPI
    description (path and query parameters, JSON body: see ``request_validation``) and the
    body against ``max_request_body_bytes``.
    """

    auth_resource = "mlinfra"
    _body: Any = None

    # jupyter_server's APIHandler.prepare drops _redirect_to_login the same way (API
    # requests are refused, never redirected to a login page)
    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self._finished or not self.current_user:
            return  # jupyter_server answered, or @web.authenticated will (403)
        limit = self.settings["mlinfra_workspace"].config.settings.max_request_body_bytes
        if limit and len(self.request.body or b"") > limit:
            raise RequestTooLarge(
                f"the request body has {len(self.request.body)} bytes; this "
                f"server takes at most {limit} (max_request_body_bytes)"
            )
        validator = served_validator()
        prefix = url_path_join(self.base_url, API_BASE)
        path = self.request.path[len(prefix) :] if self.request.path.startswith(prefix) else ""
        found = validator.operation(self.request.method or "", path)
        if found is None:
            return  # no such operation: tornado answers 405 (a test keeps routes and spec equal)
        operation, path_values = found
        query = {
            name: [v.decode("utf-8", "replace") for v in values]
            for name, values in self.request.query_arguments.items()
        }
        validator.check_parameters(operation, path_values, query)
        if operation.body_schema is not None:
            if len(self.request.body or b"") > INLINE_BODY_BYTES:
                # a large body (100k entity rows: seconds) is parsed and checked off the loop
                self._body = await self.call(self._checked_body, validator, operation)
            else:
                self._body = self._checked_body(validator, operation)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a worker thread; the event loop serves other requests
        until it returns or raises. The thread starts from an empty context: none of the
        loop's context variables ride along (nbclient and papermill, run by verify and
        reproduce, start their own event loop there)."""
        return await asyncio.get_running_loop().run_in_executor(
            DOOR_THREADS, functools.partial(fn, *args, **kwargs)
        )

    def _checked_body(self, validator, operation) -> Any:
        body = self._parse_body()
        validator.check_body(operation, body)
        return body

    @cached_property
    def workspace(self) -> Workspace:
        """The server's workspace seen as the requesting user (one per request)."""
        base: Workspace = self.settings["mlinfra_workspace"]
        if _single_user_server(self.identity_provider):
            # jupyter_server's own token/password providers don't name anybody (each
            # browser gets a random "Anonymous ..." id): the server belongs to the user
            # running it, who is also the kernel's and the CLI's owner.
            return base
        user = self.current_user
        name = getattr(user, "username", None) or getattr(user, "name", None)
        if not name:
            return base
        ws = base.for_user(name, groups=_groups(user))
        hub_user = getattr(user, "hub_user", None)
        if isinstance(hub_user, dict) and hub_user.get("kind") == "run":
            ws.acting_run_id = str(hub_user.get("run") or "") or None  # a job kernel's token
        return ws

    def json_body(self) -> dict[str, Any]:
        """The JSON body (checked against the operation's schema in ``prepare``)."""
        body = self._body if self._body is not None else self._parse_body()
        if not isinstance(body, dict):
            raise InvalidInput("request body must be a JSON object")
        return dict(body)

    def _parse_body(self) -> Any:
        if not self.request.body:
            return {}
        try:
            return json.loads(self.request.body)
        except ValueError as exc:  # its message quotes no more than a line and column
            raise InvalidInput(f"request body is not valid JSON: {str(exc)[:200]}") from None
        except RecursionError:
            raise InvalidInput("request body is nested too deeply") from None

    def query(self, name: str, default: str | None = None) -> str | None:
        return self.get_query_argument(name, default)

    def send_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload, default=str))

    async def send_bytes(self, data: bytes, content_type: str) -> None:
        """A byte body (an artifact, an output notebook) in chunks of ``STREAM_CHUNK_BYTES``:
        the loop serves other requests between them, and a large body is not hashed whole
        on the loop for an ETag."""
        if len(data) <= STREAM_CHUNK_BYTES:
            self.finish(data, set_content_type=content_type)
            return
        self.set_header("Content-Type", content_type)
        self.set_header("Content-Length", str(len(data)))
        view = memoryview(data)
        for start in range(0, len(data), STREAM_CHUNK_BYTES):
            self.write(bytes(view[start : start + STREAM_CHUNK_BYTES]))
            await self.flush()
        self.finish(set_content_type=content_type)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], MLInfraError):
            status_code = exc_info[1].http_status
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ, value, tb) -> None:
        # A client's mistake (bad cron, unknown model, quota) is answered with a 4xx and its
        # message; the server log gets one line, not tornado's "Uncaught exception" traceback.
        # Paths are quoted short: a caller's 300 MB name is not a 300 MB log line.
        if isinstance(value, MLInfraError) and value.http_status < 500:
            self.log.warning(
                "%s %s: %s: %s", self.request.method, quote(self.request.path), value.code, value
            )
            return
        if not isinstance(value, (MLInfraError, web.HTTPError)):
            # the answer says "internal error" and this reference; the log has the traceback
            self._error_reference = uuid.uuid4().hex[:12]
            self.log.error(
                "internal error %s in %s %s",
                self._error_reference,
                self.request.method,
                quote(self.request.path),
                exc_info=(typ, value, tb),
            )
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json")
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MLInfraError):
            body = exc.to_dict()
        elif isinstance(exc, web.HTTPError):
            body = {
                "error": {
                    "code": f"http_{status_code}",
                    "message": (exc.log_message or self._reason)[:500],
                }
            }
        else:  # never internals (SQL, paths, values) in the answer: they are in the server log
            reference = getattr(self, "_error_reference", None)
            body = {
                "error": {
                    "code": "internal_error",
                    "message": "internal server error"
                    + (f" (reference {reference} in the server log)" if reference else ""),
                }
            }
        self.finish(json.dumps(body))


def _groups(user) -> list[str]:
    """The groups the identity provider authenticated: JupyterHub's user model
    (``hub_user["groups"]``) or a ``groups`` attribute of a custom provider's user."""
    hub_user = getattr(user, "hub_user", None)
    groups = hub_user.get("groups") if isinstance(hub_user, dict) else None
    if groups is None:
        groups = getattr(user, "groups", None)
    return [str(g) for g in groups or () if isinstance(g, str)]


def _single_user_server(provider) -> bool:
    """True for jupyter_server's built-in identity providers (one shared token or password),
    False for providers that authenticate named users (JupyterHub's, custom ones)."""
    return type(provider).__module__.startswith("jupyter_server.auth")
