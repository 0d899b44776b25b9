"""One error hierarchy for the whole suite.

Every door maps these once: the server to an HTTP status with a JSON body
``{"error": {"code", "message"}}``, the magics to ``UsageError``, the CLI to an exit code
and one line on stderr.
"""

from __future__ import annotations

import reprlib

QUOTE_LIMIT = 200  # characters of a caller's input an error message may quote
MESSAGE_LIMIT = 800  # characters of any error message (a safety net behind quote())

_quoter = reprlib.Repr()
_quoter.maxstring = _quoter.maxother = _quoter.maxlong = QUOTE_LIMIT
_quoter.maxlevel = 3


def quote(value: object) -> str:
    """``repr(value)`` for an error message, cut to about :data:`QUOTE_LIMIT` characters
    (a 300 MB name is quoted by its first and last characters, not echoed whole)."""
    try:
        return _quoter.repr(value)[: QUOTE_LIMIT + 20]
    except ValueError:  # an integer past Python's digit limit
        return f"<{type(value).__name__}>"


def _cut(message: str) -> str:
    if len(message) <= MESSAGE_LIMIT:
        return message
    return f"{message[:MESSAGE_LIMIT]}... ({len(message) - MESSAGE_LIMIT} more characters)"


class MLInfraError(Exception):
    """Base class. ``code`` is a stable machine-readable name, ``http_status`` the REST status,
    ``exit_code`` the CLI's. Messages longer than :data:`MESSAGE_LIMIT` are cut."""

    code = "error"
    http_status = 500
    exit_code = 1

    def __init__(self, message: str, *, details: dict | None = None) -> None:
        message = _cut(str(message))
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict:
        body: dict = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class InvalidInput(MLInfraError):
    """The caller gave something malformed or inconsistent."""

    code = "invalid_input"
    http_status = 400
    exit_code = 2


class NotFound(MLInfraError):
    code = "not_found"
    http_status = 404
    exit_code = 3


class Conflict(MLInfraError):
    """The request clashes with the current state (a duplicate name, a cycle, a moved alias)."""

    code = "conflict"
    http_status = 409
    exit_code = 4


class PermissionDenied(MLInfraError):
    code = "permission_denied"
    http_status = 403
    exit_code = 5


class QuotaExceeded(MLInfraError):
    code = "quota_exceeded"
    http_status = 429
    exit_code = 6


class IntegrityError(MLInfraError):
    """Stored bytes do not match their recorded checksum."""

    code = "integrity_error"
    http_status = 500
    exit_code = 7


class ConfigurationError(MLInfraError):
    code = "configuration_error"
    http_status = 500
    exit_code = 8
