"""Tokens the central service signs for its job kernels: ``mlinfra-run.<payload>.<signature>``.

A run's kernel talks to the service with a token that names the run and its owner and
expires (the run's timeout plus a margin); the service's identity providers accept it as
that user (and only that user) while the run is running (:func:`run_is_active`). The
scheduler's workers issue them (:func:`..process_env.remote_run_environment`) with the
service's key (``MLINFRA_SERVICE_RUN_TOKEN_SECRET``; `jupyter mlinfra service` draws one at
start when it is not set and hands it to its workers), so a kernel never holds the catalog
URL, the storage credentials or anyone's Hub token.

A verify the service runs for a caller gets the same kind of token for its kernel
(:meth:`RunTokens.issue_verify`): it acts as the caller while the verify runs
(:func:`active_verify`) and expires with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

PREFIX = "mlinfra-run."
SECRET_VARIABLE = "MLINFRA_SERVICE_RUN_TOKEN_SECRET"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class RunTokens:
    def __init__(self, secret: str | bytes | None = None) -> None:
        secret = secret or os.environ.get(SECRET_VARIABLE) or secrets.token_hex(32)
        self._key = secret.encode() if isinstance(secret, str) else secret

    @staticmethod
    def looks_like(token: str) -> bool:
        return token.startswith(PREFIX)

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def issue(self, user: str, run_id: str, lifetime: float = 7 * 86400.0) -> str:
        payload = _b64(
            json.dumps({"name": user, "run": run_id, "exp": int(time.time() + lifetime)}).encode()
        )
        return f"{PREFIX}{payload}.{self._sign(payload)}"

    def issue_verify(self, user: str, verify_id: str, lifetime: float) -> str:
        """A token for the kernel of a verify the service runs for ``user``: it acts as
        ``user`` while that verify is running (:func:`verify_is_active`) and not after
        ``lifetime`` seconds."""
        payload = _b64(
            json.dumps(
                {"name": user, "verify": verify_id, "exp": int(time.time() + lifetime)}
            ).encode()
        )
        return f"{PREFIX}{payload}.{self._sign(payload)}"

    def verify(self, token: str) -> dict | None:
        """The token's claims ({"name", "run", "kind": "run"}, or {"name", "verify",
        "kind": "verify"} for a verify's kernel) when its signature holds and it has not
        expired; None otherwise."""
        body = token[len(PREFIX) :]
        payload, _, signature = body.partition(".")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            claims = json.loads(_unb64(payload))
        except ValueError:
            return None
        if not isinstance(claims, dict) or claims.get("exp", 0) < time.time():
            return None
        name = str(claims.get("name") or "")
        if "verify" in claims:
            return {"name": name, "verify": str(claims["verify"]), "kind": "verify"}
        return {"name": name, "run": claims.get("run"), "kind": "run"}


# The verifies this process runs now (their kernels' tokens act only meanwhile): the
# service's verify runs in its own process, where its identity provider checks the tokens.
_ACTIVE_VERIFIES: set[str] = set()
_ACTIVE_LOCK = threading.Lock()


@contextmanager
def active_verify() -> Iterator[str]:
    """A fresh verify id, active (its kernel's token accepted) until the block ends."""
    verify_id = secrets.token_hex(16)
    with _ACTIVE_LOCK:
        _ACTIVE_VERIFIES.add(verify_id)
    try:
        yield verify_id
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE_VERIFIES.discard(verify_id)


def verify_is_active(verify_id: str) -> bool:
    with _ACTIVE_LOCK:
        return verify_id in _ACTIVE_VERIFIES


def run_is_active(ws, run_id: str, owner: str) -> bool:
    """Whether a run token for ``run_id`` and ``owner`` may still act: the run exists, is
    owned by ``owner`` and is running (a finished, cancelled or re-queued run's token is
    refused)."""
    from .states import RunState
    from .tables import Run

    if not isinstance(run_id, str) or not run_id:
        return False
    with ws.catalog.read_session() as s:
        run = s.get(Run, run_id)
        return run is not None and run.owner == owner and run.state == RunState.RUNNING.value
