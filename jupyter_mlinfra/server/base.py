"""The one base handler: authentication, authorization, JSON bodies and the one error mapper."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..core.errors import InvalidInput, MLInfraError
from ..core.workspace import Workspace


class MLInfraHandler(APIHandler):
    """Handlers raise core errors; ``write_error`` turns them into ``{"error": {...}}``.

    Subclasses decorate verbs with ``@web.authenticated`` and ``@authorized`` (resource
    ``mlinfra``), so every route goes through jupyter_server's identity, authorization and
    XSRF checks.
    """

    auth_resource = "mlinfra"

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
        return base.for_user(name, groups=_groups(user)) if name else base

    def json_body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            body = json.loads(self.request.body)
        except ValueError as exc:
            raise InvalidInput(f"request body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise InvalidInput("request body must be a JSON object")
        return body

    def query(self, name: str, default: str | None = None) -> str | None:
        return self.get_query_argument(name, default)

    def send_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload, default=str))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], MLInfraError):
            status_code = exc_info[1].http_status
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ, value, tb) -> None:
        # A client's mistake (bad cron, unknown model, quota) is answered with a 4xx and its
        # message; the server log gets one line, not tornado's "Uncaught exception" traceback.
        if isinstance(value, MLInfraError) and value.http_status < 500:
            self.log.warning("%s %s: %s: %s", self.request.method, self.request.path,
                             value.code, value)
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json")
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MLInfraError):
            body = exc.to_dict()
        elif isinstance(exc, web.HTTPError):
            body = {"error": {"code": f"http_{status_code}",
                              "message": exc.log_message or self._reason}}
        else:
            body = {"error": {"code": "internal_error",
                              "message": f"{type(exc).__name__}: {exc}" if exc else self._reason}}
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
