"""Times, one way: the catalog stores UTC, answers write ISO 8601 in UTC with ``Z``.

``utcnow()`` is the current time (aware, UTC); ``to_iso_z`` writes a time the way every
REST answer and every Python API dict does (``2026-03-01T12:00:00Z``, microseconds kept when
there are some); ``parse`` reads what users give (ISO 8601 with ``Z`` or an offset, a time
without one taken as UTC; epoch seconds) and raises an ``InvalidInput`` naming the parameter.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from .errors import InvalidInput, quote

__all__ = ["utcnow", "to_iso_z", "parse", "epoch", "from_epoch"]


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(timezone.utc)


def to_iso_z(value: Any) -> str | None:
    """``value`` (an aware or naive-UTC datetime, a pandas Timestamp, epoch seconds, an ISO
    string) as ISO 8601 in UTC with ``Z``; None stays None (and NaT is None)."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = from_epoch(value)
    elif isinstance(value, str):
        value = parse(value, "time")
    elif not isinstance(value, datetime):
        if str(value) == "NaT":
            return None
        to_pydatetime = getattr(value, "to_pydatetime", None)
        if to_pydatetime is not None:  # a pandas Timestamp
            value = to_pydatetime()
        elif isinstance(value, date):
            value = datetime(value.year, value.month, value.day)
        else:
            raise TypeError(f"not a time: {type(value).__name__}")
    if value is None:
        return None
    value = (
        value.replace(tzinfo=timezone.utc)
        if value.tzinfo is None
        else value.astimezone(timezone.utc)
    )
    return value.replace(tzinfo=None).isoformat() + "Z"


def parse(value: Any, name: str = "time") -> datetime | None:
    """A time given by a user (ISO 8601 text, a datetime, epoch seconds) as an aware UTC
    datetime; None or "" is None. A bad value is an ``InvalidInput`` naming ``name``."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return from_epoch(value)
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(
                text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
            )
        except ValueError:
            raise InvalidInput(
                f"{name} must be an ISO 8601 time such as 2026-01-31T12:00:00Z, got {quote(text)}"
            ) from None
    return (
        parsed.replace(tzinfo=timezone.utc)
        if parsed.tzinfo is None
        else parsed.astimezone(timezone.utc)
    )


def epoch(value: Any) -> float | None:
    """Seconds since the epoch of a time (datetime, ISO text or a number already)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    parsed = parse(value)
    return parsed.timestamp() if parsed is not None else None


def from_epoch(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)
