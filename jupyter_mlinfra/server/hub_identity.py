"""Who calls the central service: identity providers for ``jupyter mlinfra service``.

Every request carries ``Authorization: token <t>`` (or ``bearer``). The user's name and groups
come from whoever issued the token, never from the client:

- :class:`HubTokenIdentityProvider` (under JupyterHub): the Hub answers for the token
  (``HubAuth.user_for_token``, cached ``cache_max_age`` seconds); when its answer lacks the
  groups (a server token's scopes often do not include ``read:users:groups``), they are read
  with the service's own token (``GET /users/<name>``, cached the same way).
- :class:`StaticTokenIdentityProvider` (no Hub: tests and small setups): a table
  ``{token: {"name": ..., "groups": [...]}}`` from ``c.StaticTokenIdentityProvider.tokens``
  or a JSON file (``tokens_file``, env ``MLINFRA_SERVICE_TOKENS_FILE``).

Both also accept the run tokens the service signs for its job kernels (:mod:`.run_tokens`):
a run's kernel acts as the run's owner and no one else, while its run is running; the kernel
of a verify the service runs acts as its caller while that verify runs.

No cookies, no login page: the service is an API for programs holding a token.
"""

from __future__ import annotations

import hmac
import json
import os
import time
from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User
from tornado import web
from traitlets import Bool, Dict, Int, Unicode, default

from ..core.jobs.run_tokens import verify_is_active
from .run_tokens import RunTokens

_AUTH_SCHEMES = ("token", "bearer")


class ServiceUser(User):
    """A user as the token's issuer described it: ``hub_user`` is its model (name, groups),
    which :func:`jupyter_mlinfra.server.base._groups` reads."""

    def __init__(self, model: dict) -> None:
        self.hub_user = model
        super().__init__(username=str(model["name"]))


def request_token(handler: web.RequestHandler) -> str | None:
    header = handler.request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() in _AUTH_SCHEMES and value.strip():
        return value.strip()
    return None


class _TokenOnly(IdentityProvider):
    """What both providers share: a token in the Authorization header or nobody."""

    run_tokens: RunTokens | None = None

    @property
    def login_available(self) -> bool:
        return False

    @property
    def logout_available(self) -> bool:
        return False

    def get_handlers(self) -> list:
        return []

    def is_token_authenticated(self, handler) -> bool:
        return getattr(handler, "_token_authenticated", False)

    def should_check_origin(self, handler) -> bool:
        return False  # token-authenticated only: no ambient credential for a page to ride on

    def validate_security(self, app, ssl_options=None) -> None:
        pass

    async def get_user(self, handler: web.RequestHandler) -> User | None:
        cached = getattr(handler, "_jupyter_current_user", None)
        if cached:
            return cached
        token = request_token(handler)
        if not token:
            return None
        model = None
        if RunTokens.looks_like(token):
            model = self.run_tokens.verify(token) if self.run_tokens is not None else None
            if model and model["kind"] == "verify":
                if not verify_is_active(model["verify"]):
                    model = None  # a verify's kernel token: spent when its verify ended
            elif model and not await self._run_active(handler, model):
                model = None  # its run ended (or is not the owner's): the token is spent
            if model and model["name"]:  # the owner's groups as the issuer knows them now
                model["groups"] = await self.groups_for(model["name"])
        else:
            model = await self.user_model(token)
        if not model or not model.get("name"):
            return None
        handler._token_authenticated = True  # type: ignore[attr-defined]  # jupyter_server reads it
        return ServiceUser(
            {
                "name": str(model["name"]),
                "groups": [str(g) for g in model.get("groups") or () if isinstance(g, str)],
                "kind": model.get("kind", "user"),
                **({"run": model["run"]} if model.get("kind") == "run" else {}),
            }
        )

    async def _run_active(self, handler: web.RequestHandler, claims: dict) -> bool:
        """A run token acts only while its run is running (checked in a worker thread)."""
        import asyncio

        from ..core.jobs.run_tokens import run_is_active

        workspace = handler.settings.get("mlinfra_workspace")
        if workspace is None:
            return False
        try:
            return await asyncio.get_running_loop().run_in_executor(
                None, run_is_active, workspace, str(claims.get("run") or ""), claims["name"]
            )
        except Exception as exc:  # a catalog hiccup: refuse rather than trust
            self.log.warning("mlinfra service: cannot check a run token's run: %s", exc)
            return False

    async def user_model(self, token: str) -> dict | None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def groups_for(self, name: str) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError


class StaticTokenIdentityProvider(_TokenOnly):
    """A fixed table of tokens (tests, a team without JupyterHub)."""

    tokens = Dict(
        {},
        help="{token: {'name': 'alice', 'groups': ['fraud']}} (or {token: 'alice'}).",
    ).tag(config=True)

    tokens_file = Unicode(
        "",
        help="A JSON file with the same table as `tokens` (merged into it). Default: "
        "$MLINFRA_SERVICE_TOKENS_FILE.",
    ).tag(config=True)

    @default("tokens_file")
    def _tokens_file_default(self) -> str:
        return os.environ.get("MLINFRA_SERVICE_TOKENS_FILE", "")

    def _table(self) -> dict[str, dict]:
        table: dict[str, Any] = dict(self.tokens)
        if self.tokens_file:
            with open(self.tokens_file, encoding="utf-8") as f:
                table.update(json.load(f))
        out = {}
        for token, who in table.items():
            model = {"name": who} if isinstance(who, str) else dict(who)
            out[str(token)] = model
        return out

    @property
    def table(self) -> dict[str, dict]:
        if not hasattr(self, "_cached_table"):
            self._cached_table = self._table()
        return self._cached_table

    async def groups_for(self, name: str) -> list[str]:
        for model in self.table.values():
            if model.get("name") == name:
                return list(model.get("groups") or ())
        return []

    async def user_model(self, token: str) -> dict | None:
        for known, model in self.table.items():  # compare every entry in constant time
            if hmac.compare_digest(known.encode(), token.encode()):
                return model
        return None


class HubTokenIdentityProvider(_TokenOnly):
    """Identity from JupyterHub: the Hub says whose token it is and which groups they are in."""

    cache_max_age = Int(
        60,
        help="Seconds the Hub's answer for a token (and a user's groups) is reused.",
    ).tag(config=True)

    check_access_scopes = Bool(
        True,
        help="Refuse tokens that do not carry the scope to access this service "
        "(access:services!service=<name>, as HubAuth.access_scopes).",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from jupyterhub.services.auth import HubAuth  # only under a Hub

        self.hub_auth = HubAuth(cache_max_age=self.cache_max_age)
        self._groups: dict[str, tuple[float, list[str]]] = {}

    async def user_model(self, token: str) -> dict | None:
        model = await self.hub_auth.user_for_token(token, sync=False)
        if not model:
            return None
        if self.check_access_scopes and self.hub_auth.access_scopes:
            from jupyterhub.services.auth import check_scopes

            try:
                allowed = check_scopes(self.hub_auth.access_scopes, set(model.get("scopes") or ()))
            except ValueError as exc:  # a scope the Hub's parser refuses: no access
                self.log.warning("mlinfra service: unreadable scopes from the Hub: %s", exc)
                allowed = False
            if not allowed:
                self.log.warning(
                    "mlinfra service: token of %s lacks the scopes %s",
                    model.get("name"),
                    sorted(self.hub_auth.access_scopes),
                )
                return None
        if model.get("kind", "user") != "user":
            return model  # a service acting as itself: no groups
        if "groups" not in model:
            model = {**model, "groups": await self._user_groups(model["name"])}
        return model

    async def groups_for(self, name: str) -> list[str]:
        return await self._user_groups(name)

    async def _user_groups(self, name: str) -> list[str]:
        cached = self._groups.get(name)
        if cached and time.monotonic() - cached[0] < self.cache_max_age:
            return cached[1]
        from urllib.parse import quote

        from jupyterhub.utils import url_path_join

        data = await self.hub_auth._api_request(
            "GET", url_path_join(self.hub_auth.api_url, "users", quote(name, safe=""))
        )
        groups = [str(g) for g in (data or {}).get("groups") or ()]
        self._groups[name] = (time.monotonic(), groups)
        return groups
