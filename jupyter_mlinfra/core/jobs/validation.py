"""Checks a job definition before anything is written: paths, parameters, cron, cycles."""

from __future__ import annotations

import graphlib
import os
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import Conflict, InvalidInput, NotFound, quote
from ..paths import inside_root

CATCHUP_POLICIES = ("none", "latest", "all")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidInput(
            f"invalid job name {quote(name)}: use letters, digits and _.- "
            "(at most 200 characters, starting with a letter or digit)"
        )
    return name


def resolve_notebook(
    path: str | os.PathLike, root_dir: str | os.PathLike, base: str | os.PathLike | None = None
) -> tuple[Path, str]:
    """The absolute notebook path and its path relative to ``root_dir``.

    A relative ``path`` is taken relative to ``base`` (the caller's directory) when it is
    given, else to ``root_dir``. A path that leaves the root is refused; so is a missing file.
    """
    full, relative = inside_root(path, root_dir, base, what="notebook")
    if full.suffix != ".ipynb":
        raise InvalidInput(f"{quote(relative)} is not a notebook (.ipynb)")
    if not full.is_file():
        raise NotFound(f"unknown notebook {quote(relative)}: no such file under the server root")
    return full, relative


def notebook_parameters(path: str | os.PathLike) -> dict[str, dict] | None:
    """The notebook's ``parameters`` cell as papermill infers it (name -> {inferred_type_name,
    default, help}), or None when the notebook has no cell tagged ``parameters``."""
    import nbformat

    try:
        nb = nbformat.read(os.fspath(path), as_version=4)
    except Exception as exc:
        # not the parser's message: it may quote the file's content
        raise InvalidInput(
            f"{quote(os.fspath(path))} is not a valid notebook ({type(exc).__name__})"
        ) from None
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        return None
    for cell in nb.cells:  # papermill expects every cell to have a tags list
        cell.setdefault("metadata", {}).setdefault("tags", [])
    nb.metadata.setdefault(
        "kernelspec", {"name": "python3", "language": "python", "display_name": "Python 3"}
    )
    nb.metadata.setdefault(
        "language_info", {"name": nb.metadata["kernelspec"].get("language", "python")}
    )
    import logging
    import threading

    from papermill.inspection import _infer_parameters

    unparsed: list[str] = []

    thread = threading.get_ident()

    class _Warnings(logging.Handler):  # papermill logs what it cannot parse, and goes on
        def emit(self, record: logging.LogRecord) -> None:
            if record.thread == thread:
                unparsed.append(record.getMessage()[:200])

    papermill_log = logging.getLogger("papermill")
    catcher = _Warnings(logging.WARNING)
    papermill_log.addHandler(catcher)
    try:
        params = _infer_parameters(nb)
    except Exception as exc:  # no translator for the notebook's kernel or language
        params = []
        unparsed.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    finally:
        papermill_log.removeHandler(catcher)
    declared = DeclaredParameters()
    for p in params:
        entry = dict(p._asdict())
        if entry.get("inferred_type_name") in (None, "None"):
            entry["inferred_type_name"] = _literal_type(entry.get("default"))
        declared[p.name] = entry
    cell = next(c for c in nb.cells if "parameters" in c["metadata"]["tags"])
    if nb.metadata["language_info"].get("name", "python") == "python":
        unparsed += _skipped_assignments(cell.get("source", ""), declared)
    declared.unparsed = list(dict.fromkeys(unparsed))
    return declared


class DeclaredParameters(dict):
    """name -> {inferred_type_name, default, help}; ``unparsed`` says what of the cell
    papermill could not read (so its names are unknown here, though papermill would still
    inject them)."""

    unparsed: list[str] = []


def _skipped_assignments(source: str, declared: dict) -> list[str]:
    """Assignments of a Python parameters cell that papermill's inspection skipped
    (``a, b = 1, 2``, ``a = b = 1``...), or why the cell is not Python at all."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [f"line {exc.lineno} is not valid Python ({exc.msg})"]
    lines = source.splitlines()
    out = []
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, (ast.AnnAssign, ast.AugAssign))
            else []
        )
        names = sorted(
            {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)} - set(declared)
        )
        if names:
            text = lines[node.lineno - 1].strip()[:80] if node.lineno <= len(lines) else ""
            out.append(
                f"line {node.lineno} {text!r} assigns {', '.join(names)} in a way "
                "papermill does not parse"
            )
    return out


def _literal_type(default: str | None) -> str:
    """The type of a parameter's default literal (``lr = 0.1`` -> float), as papermill
    reports it when the cell has no annotations; "None" when it is not a literal."""
    import ast

    try:
        value = ast.literal_eval(default or "")
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return "None"
    for kind in ("bool", "int", "float", "str", "list", "dict"):
        if type(value).__name__ == kind:
            return kind
    if isinstance(value, tuple):
        return "list"
    return "None"


_TYPE_CHECKS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "list": (list, tuple),
    "dict": (dict,),
}


def parse_cli_value(raw: str) -> Any:
    """papermill's own typing of ``-p name value`` (``papermill.cli._resolve_type``): True,
    False, None, else an int, else a float, else the string. The same rules written out:
    importing ``papermill.cli`` imports papermill and nbclient (0.3 s of CPU), which a
    command that only submits runs (``sweep``, ``run`` with a scheduler serving) never needs."""
    if raw in _CLI_CONSTANTS:
        return _CLI_CONSTANTS[raw]
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw


_CLI_CONSTANTS: dict[str, Any] = {"True": True, "False": False, "None": None}


def check_parameters(
    parameters: dict[str, Any] | None, declared: dict[str, dict] | None, notebook: str
) -> dict[str, Any]:
    """Refuse names the parameters cell does not define and values of the wrong type.

    Values given as strings for a typed parameter (``-p lr 0.1`` from a command line) are
    converted with papermill's typing first.
    """
    parameters = dict(parameters or {})
    if not parameters:
        return {}
    if declared is None:
        raise InvalidInput(
            f"{notebook} has no cell tagged 'parameters', so it takes no "
            f"parameters (given: {', '.join(sorted(parameters))})"
        )
    unknown = sorted(set(parameters) - set(declared))
    unparsed = getattr(declared, "unparsed", None)
    if unknown and unparsed:
        raise InvalidInput(
            f"cannot check parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"for {notebook}: papermill cannot parse its parameters cell: " + "; ".join(unparsed),
            details={"unknown": unknown, "unparsed": unparsed},
        )
    if unknown:
        raise InvalidInput(
            f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for "
            f"{notebook}; its parameters cell defines: {', '.join(sorted(declared)) or 'none'}",
            details={"unknown": unknown, "declared": sorted(declared)},
        )
    checked: dict[str, Any] = {}
    for name, value in parameters.items():
        kind = (declared[name].get("inferred_type_name") or "None").lower()
        expected = _TYPE_CHECKS.get(kind)
        if expected is None:  # None-typed or untyped (papermill: any value goes)
            checked[name] = value
            continue
        if isinstance(value, str) and kind != "str" and value.strip():
            value = parse_cli_value(value)
        ok = isinstance(value, expected) and not (
            kind in ("int", "float") and isinstance(value, bool)
        )
        if not ok:
            # an empty field or null is not "no value": the notebook would get None (or ""),
            # not its default; leave the parameter out to keep the default
            got = (
                "an empty value"
                if value is None or (isinstance(value, str) and not value.strip())
                else f"{type(value).__name__} {quote(value)}"
            )
            raise InvalidInput(
                f"parameter {name} of {notebook} expects {kind} (default "
                f"{declared[name].get('default')}), got {got}",
                details={"parameter": name, "expected": kind},
            )
        checked[name] = value
    return checked


def check_timezone(tz: str | None) -> str:
    tz = tz or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {tz!r}: use an IANA name such as 'Europe/Paris' or 'UTC'"
        ) from None
    return tz


def check_cron(expression: str, tz: str = "UTC") -> str:
    """Five fields (minute hour day month weekday), or six with seconds last."""
    from croniter import croniter

    expression = " ".join(str(expression).split())
    fields = expression.split(" ")
    if len(fields) not in (5, 6) or not croniter.is_valid(expression):
        raise InvalidInput(
            f"invalid cron expression {expression!r}: expected 5 fields "
            "'minute hour day-of-month month day-of-week' (e.g. '0 6 * * 1-5'), "
            "or 6 with seconds last"
        )
    check_timezone(tz)
    return expression


def next_fire_times(
    expression: str, tz: str = "UTC", *, after: datetime | None = None, count: int = 5
) -> list[datetime]:
    """The next ``count`` ticks after ``after`` (default now), as aware UTC datetimes."""
    from croniter import croniter

    zone = ZoneInfo(check_timezone(tz))
    start = (after or datetime.now(timezone.utc)).astimezone(zone)
    it = croniter(expression, start)
    return [it.get_next(datetime).astimezone(timezone.utc) for _ in range(count)]


def fire_times_between(
    expression: str, tz: str, start: datetime, end: datetime, limit: int = 1000
) -> list[datetime]:
    """Ticks t with start < t <= end (UTC), at most ``limit`` of the latest ones."""
    from croniter import croniter

    zone = ZoneInfo(tz)
    it = croniter(expression, start.astimezone(zone))
    ticks: list[datetime] = []
    while True:
        t = it.get_next(datetime).astimezone(timezone.utc)
        if t > end:
            break
        ticks.append(t)
        if len(ticks) > limit:
            ticks.pop(0)
    return ticks


def check_catchup(policy: str | None) -> str:
    policy = (policy or "latest").lower()
    if policy not in CATCHUP_POLICIES:
        raise InvalidInput(f"invalid catch-up policy {policy!r}: choose none, latest or all")
    return policy


def parse_memory(value: Any) -> int:
    """Megabytes from 512, '512M', '2G', '1.5GiB'."""
    if value in (None, "", 0):
        return 0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise InvalidInput("memory must not be negative")
        return int(value)
    m = _MEMORY_RE.match(str(value))
    if not m:
        raise InvalidInput(f"invalid memory {value!r}: use megabytes or a size like '2G'")
    number, unit = float(m.group(1)), (m.group(2) or "m")[0].lower()
    factor = {"b": 1 / 2**20, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024**2}[unit]
    return int(number * factor)


def find_cycle(edges: dict[str, Iterable[str]]) -> list[str] | None:
    """A cycle in ``node -> upstream nodes`` as a list of nodes (first == last), or None."""
    try:
        graphlib.TopologicalSorter({k: list(v) for k, v in edges.items()}).prepare()
    except graphlib.CycleError as exc:
        # each node is an upstream (predecessor) of the next: the order data flows in
        return list(exc.args[1])
    return None


def refuse_cycle(edges: dict[str, Iterable[str]], names: dict[str, str]) -> None:
    cycle = find_cycle(edges)
    if cycle:
        path = " -> ".join(names.get(n, n) for n in cycle)
        raise Conflict(
            f"dependency cycle: {path} (each job runs after the one before it; "
            "a job cannot depend on itself, directly or through other jobs)",
            details={"cycle": [names.get(n, n) for n in cycle]},
        )


def check_number(
    name: str, value: Any, *, minimum: float = 0, integer: bool = False, allow_none: bool = False
) -> Any:
    if value is None and allow_none:
        return None
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a number, got {value!r}") from None
    if integer and float(value) != number:
        raise InvalidInput(f"{name} must be a whole number, got {value!r}")
    if number < minimum:
        raise InvalidInput(f"{name} must be at least {minimum}, got {value!r}")
    return number


def check_tags(tags: Any) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [t for t in tags.split(",") if t.strip()]
    if not isinstance(tags, (list, tuple)) or not all(isinstance(t, str) for t in tags):
        raise InvalidInput("tags must be a list of strings")
    return sorted({t.strip() for t in tags if t.strip()})
