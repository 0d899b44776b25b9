"""Writes to shared state, applied normally and captured inside a ``reproduce`` re-run.

Everything a notebook can change that other people see goes through :func:`shared_write`
(a decorator on the service methods) or :func:`record_write` (for a method that decides itself
what it returns): feature definitions and entities, materialized and pushed rows, model
versions, aliases and model metadata, job definitions and job runs.

Normally the write is applied. Inside a reproduce re-run it is **captured**: the intended
change (kind, target, summary, small details) is appended to the run's capture log and the
method returns a stand-in that says it was not applied (``{"captured": True, "applied":
False, ...}``, or a ``ModelVersion`` with ``registered=False``). Reads are never affected, so
the notebook still loads feature frames and models. ``reproduce`` reads the log back and
lists what the notebook tried to change (``captured_writes``).

A kernel knows it is a reproduce re-run from its environment:

- ``MLINFRA_REPRODUCE_CAPTURE_FILE``: a JSON-lines file the re-run appends to (reproduce's
  direct path through the shared notebook runner);
- ``MLINFRA_RUN_ID`` of a job run tagged ``mlinfra-reproduce`` (reproduce's job path): each
  captured write is an artifact ``mlinfra-reproduce-*.json`` of that run. A job kernel of the
  central service holds no catalog: the service captures the writes its requests (made with
  the run's token) ask for, by ``Workspace.acting_run_id``.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

CAPTURE_FILE_ENV = "MLINFRA_REPRODUCE_CAPTURE_FILE"
REPRODUCE_TAG = "mlinfra-reproduce"
CAPTURE_ARTIFACT_PREFIX = "mlinfra-reproduce-"

_tagged: dict[tuple[str, str], bool] = {}
_tagged_lock = threading.Lock()
_counter = itertools.count()


# -- where captured writes go ---------------------------------------------------------------
class CaptureLog:
    """The capture log of one reproduce re-run."""

    def record(self, entry: dict) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class FileCaptureLog(CaptureLog):
    def __init__(self, path: str) -> None:
        self.path = path

    def record(self, entry: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")


class RunCaptureLog(CaptureLog):
    def __init__(self, workspace, run_id: str) -> None:
        self.ws = workspace
        self.run_id = run_id

    def record(self, entry: dict) -> None:
        name = f"{CAPTURE_ARTIFACT_PREFIX}{entry['seq']:020d}-{entry['kind']}.json"
        self.ws.service("jobs").log_artifact(
            self.run_id,
            name,
            json.dumps(entry, default=str).encode(),
            metadata={"kind": entry["kind"], "target": entry["target"]},
        )


def _is_reproduce_run(workspace, run_id: str) -> bool:
    key = (workspace.config.catalog_url, run_id)
    with _tagged_lock:
        if key in _tagged:
            return _tagged[key]
    from .jobs.tables import Run

    try:
        with workspace.catalog.read_session() as s:
            run = s.get(Run, run_id)
            tagged = run is not None and REPRODUCE_TAG in (run.tags or [])
    except Exception:  # not a run of this catalog (or no jobs tables)
        tagged = False
    with _tagged_lock:
        _tagged[key] = tagged
    return tagged


def capture_log(workspace) -> CaptureLog | None:
    """The capture log when this process is a reproduce re-run, else None (writes apply)."""
    path = os.environ.get(CAPTURE_FILE_ENV)
    if path:
        return FileCaptureLog(path)
    # a request of a job run's kernel to the central service (its run token): the run's
    # kernel holds no catalog, so the service captures for it
    run_id = getattr(workspace, "acting_run_id", None) or os.environ.get("MLINFRA_RUN_ID")
    if run_id and _is_reproduce_run(workspace, run_id):
        return RunCaptureLog(workspace, run_id)
    return None


def is_capturing(workspace) -> bool:
    return capture_log(workspace) is not None


# -- recording --------------------------------------------------------------------------------
def describe_value(value: Any, depth: int = 0) -> Any:
    """A small JSON-able description of an argument (tables and functions by their shape)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:200] + "…"
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "columns"):
        return f"<{type(value).__name__}: {shape[0]} rows, columns {list(value.columns)[:20]}>"
    if callable(value):
        return f"<function {getattr(value, '__qualname__', type(value).__name__)}>"
    if depth < 2 and isinstance(value, dict):
        return {str(k): describe_value(v, depth + 1) for k, v in list(value.items())[:50]}
    if depth < 2 and isinstance(value, (list, tuple, set)):
        items = list(value)
        if len(items) > 20:
            return f"<{len(items)} items>"
        return [describe_value(v, depth + 1) for v in items]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return f"<{type(value).__name__}>"


def record_write(
    workspace,
    kind: str,
    target: str,
    summary: str,
    details: dict | None = None,
    payload: dict | None = None,
    log: CaptureLog | None = None,
) -> dict | None:
    """Record an intended write when capturing; returns the entry (None when not capturing:
    the caller applies the write). ``payload`` is for ``reproduce`` itself (e.g. a captured
    registration's metrics and data fingerprints), not shown to users."""
    log = log or capture_log(workspace)
    if log is None:
        return None
    entry = {
        "seq": time.time_ns() + next(_counter),
        "kind": kind,
        "target": str(target),
        "summary": summary,
        "details": describe_value(details or {}),
        "user": workspace.user,
    }
    if payload is not None:
        entry["payload"] = payload
    log.record(entry)
    print(f"[jupyter_mlinfra] reproduce run: {summary} was captured, not applied", file=sys.stderr)
    return entry


def captured_result(entry: dict, **fields: Any) -> dict:
    """The stand-in a captured write returns: what it would have touched, not applied."""
    return {
        **fields,
        "captured": True,
        "applied": False,
        "kind": entry["kind"],
        "target": entry["target"],
        "summary": entry["summary"],
    }


def shared_write(
    kind: str,
    *,
    target: str | tuple[str, ...] = "name",
    summary: str,
    stand_in: Callable[..., Any] | None = None,
) -> Callable:
    """Decorate a service method (``self.ws`` is its workspace) that writes shared state.

    ``target`` names the argument that says what is written (or several: the first given);
    ``summary`` is formatted with the call's arguments; ``stand_in(self, arguments, entry)``
    builds the value returned when the write is captured (default:
    :func:`captured_result`). Arguments are bound without being checked: a captured call
    that the real method would refuse is still listed (and its stand-in returned)."""

    def decorate(method: Callable) -> Callable:
        signature = inspect.signature(method)
        keywords = next(
            (
                p.name
                for p in signature.parameters.values()
                if p.kind is inspect.Parameter.VAR_KEYWORD
            ),
            None,
        )

        def describe(self, args: tuple, kwargs: dict) -> tuple[dict, Any, dict, str]:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            arguments.pop("self", None)
            if keywords:
                arguments.update(arguments.pop(keywords, None) or {})
            names = (target,) if isinstance(target, str) else tuple(target)
            name = next((arguments[n] for n in names if arguments.get(n) is not None), "")
            details = {k: v for k, v in arguments.items() if k not in names and v is not None}
            text = summary.format_map(
                _Blank({k: "" if v is None else v for k, v in arguments.items()})
            )
            return arguments, name, details, text

        @functools.wraps(method)
        def wrapper(self, *args: Any, **kwargs: Any) -> Any:
            log = capture_log(self.ws)
            if log is None:
                try:
                    _, name, _, text = describe(self, args, kwargs)
                except TypeError:  # a wrong call: Python's own error, from the method
                    return method(self, *args, **kwargs)
                # applied: audited (who, what, on what) in the transaction of the change
                from . import audit

                with audit.action(self.ws, kind, name, text):
                    return method(self, *args, **kwargs)
            arguments, name, details, text = describe(self, args, kwargs)
            entry = record_write(self.ws, kind, name, text, details, log=log)
            assert entry is not None  # a capture log was given: the write was recorded
            if stand_in is None:
                return captured_result(entry)
            return stand_in(self, arguments, entry)

        wrapper.shared_write_kind = kind  # type: ignore[attr-defined]
        return wrapper

    return decorate


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def public_entries(entries: list[dict]) -> list[dict]:
    """The captured writes as ``reproduce`` reports them (in order, without payloads)."""
    return [
        {k: e.get(k) for k in ("kind", "target", "summary", "details")}
        for e in sorted(entries, key=lambda e: e.get("seq", 0))
    ]


__all__ = [
    "CAPTURE_FILE_ENV",
    "REPRODUCE_TAG",
    "CAPTURE_ARTIFACT_PREFIX",
    "CaptureLog",
    "capture_log",
    "is_capturing",
    "record_write",
    "captured_result",
    "shared_write",
    "public_entries",
    "describe_value",
]
