"""Typed values the jobs modules pass each other: a job's checked fields (:class:`JobSpec`)
and the options of a run (:class:`RunOptions`), each parsed once from what a door gave
(keyword arguments, JSON) and refused with an InvalidInput naming the field."""

from __future__ import annotations

import dataclasses
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..identity import DEFAULT_VISIBILITY, check_visibility
from . import validation as v

# The fields of a job definition (create_job / update_job keyword arguments).
JOB_FIELDS = (
    "notebook",
    "parameters",
    "kernel_name",
    "schedule",
    "timezone",
    "catchup",
    "depends_on",
    "priority",
    "cpus",
    "memory",
    "retries",
    "retry_backoff",
    "timeout",
    "retry_backoff_seconds",
    "timeout_seconds",
    "tags",
    "active",
    "description",
    "visibility",
)
# The options of one run (submit / run_job / sweep / submit_content keyword arguments).
RUN_OPTIONS = (
    "priority",
    "resources",
    "cpus",
    "memory",
    "retries",
    "retry_backoff",
    "timeout",
    "retry_backoff_seconds",
    "timeout_seconds",
    "tags",
    "kernel_name",
    "visibility",
)
# The documented duration names (as answers spell them) and their deprecated aliases.
DURATION_ALIASES = {"timeout_seconds": "timeout", "retry_backoff_seconds": "retry_backoff"}


def new_id() -> str:
    return uuid.uuid4().hex


def root_dir(settings: Any) -> Path:
    """The folder notebooks are found under (``root_dir``, else the working directory)."""
    return Path(settings.root_dir or os.getcwd()).expanduser().resolve()


def check_fits(settings: Any, cpus: float, memory_mb: int) -> None:
    """Refuse a run that no executor slot could ever hold, rather than queue it forever.

    The limits are the configured ``jobs_cpus`` / ``jobs_memory_mb``; with the local
    executor ``jobs_cpus`` defaults to this machine's CPU count. A Dask cluster's size is
    not known here, so only configured limits apply to it."""
    limit = settings.jobs_cpus or (
        (os.cpu_count() or 1) if settings.jobs_executor == "local" else 0
    )
    if limit and cpus > limit + 1e-9:
        raise InvalidInput(
            f"the run asks for {cpus:g} CPUs but the executor has at most {limit:g} (jobs_cpus)"
        )
    if settings.jobs_memory_mb and memory_mb > settings.jobs_memory_mb:
        raise InvalidInput(
            f"the run asks for {memory_mb} MB of memory but the executor has "
            f"at most {settings.jobs_memory_mb} MB (jobs_memory_mb)"
        )


def seconds_aliases(fields: dict) -> dict:
    """``fields`` with the documented ``timeout_seconds`` / ``retry_backoff_seconds`` read
    into the names the modules use (``timeout`` / ``retry_backoff``, still accepted as
    deprecated aliases); both given with different values is refused naming them."""
    out = dict(fields)
    for documented, alias in DURATION_ALIASES.items():
        if documented not in out:
            continue
        value = out.pop(documented)
        if alias in out and out[alias] != value:
            raise InvalidInput(
                f"{documented} and its deprecated alias {alias} disagree "
                f"({value!r} vs {out[alias]!r}): give only {documented}"
            )
        out[alias] = value
    return out


def _timeout(value: Any) -> float | None:
    timeout = v.check_number("timeout", value, allow_none=True)
    if timeout is not None and timeout <= 0:
        raise InvalidInput("timeout must be a positive number of seconds")
    return timeout


@dataclass(frozen=True)
class JobSpec:
    """Every field of a job definition, checked and normalised (the JobDefinition columns
    a create or an update writes). ``depends_on`` holds job ids."""

    notebook: str  # relative to root_dir
    root_dir: str
    parameters: dict
    kernel_name: str | None
    timezone: str
    schedule: str | None
    catchup: str
    priority: int
    cpus: float
    memory_mb: int
    retries: int
    retry_backoff: float
    timeout: float | None
    tags: list[str]
    active: bool
    description: str
    visibility: str
    depends_on: list[str] = field(default_factory=list)

    @classmethod
    def parse(
        cls, spec: dict, *, settings: Any, base: str | None, depends_on: list[str] | None = None
    ) -> JobSpec:
        """``spec`` (the JOB_FIELDS, plus ``resources`` and ``root_dir``) checked in order;
        the first bad field raises before anything is written."""
        root = spec.get("root_dir") or root_dir(settings)
        full, relative = v.resolve_notebook(spec["notebook"], root, base)
        declared = v.notebook_parameters(full)
        out: dict[str, Any] = {"notebook": relative, "root_dir": str(Path(root).resolve())}
        out["parameters"] = v.check_parameters(spec.get("parameters"), declared, relative)
        out["kernel_name"] = spec.get("kernel_name") or None
        out["timezone"] = v.check_timezone(spec.get("timezone"))
        schedule = spec.get("schedule") or None
        out["schedule"] = v.check_cron(schedule, out["timezone"]) if schedule else None
        out["catchup"] = v.check_catchup(spec.get("catchup") or settings.jobs_catchup)
        out["priority"] = v.check_number(
            "priority", spec.get("priority") or 0, minimum=-1_000_000, integer=True
        )
        resources = spec.get("resources") or {}
        out["cpus"] = v.check_number(
            "cpus", spec.get("cpus", resources.get("cpus", 1)) or 1, minimum=0
        )
        out["memory_mb"] = v.parse_memory(
            spec.get("memory", resources.get("memory_mb", resources.get("memory")))
        )
        check_fits(settings, out["cpus"], out["memory_mb"])
        out["retries"] = v.check_number("retries", spec.get("retries") or 0, integer=True)
        out["retry_backoff"] = v.check_number(
            "retry_backoff", 30 if spec.get("retry_backoff") is None else spec["retry_backoff"]
        )
        out["timeout"] = _timeout(spec.get("timeout"))
        out["tags"] = v.check_tags(spec.get("tags"))
        out["active"] = bool(spec.get("active", True))
        out["description"] = str(spec.get("description") or "")
        out["visibility"] = check_visibility(spec.get("visibility") or DEFAULT_VISIBILITY)
        return cls(**out, depends_on=list(depends_on or []))

    def with_dependencies(self, depends_on: list[str]) -> JobSpec:
        return dataclasses.replace(self, depends_on=list(depends_on))

    def columns(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RunOptions:
    """The options a submission gives a run; None: the job's (or the retried run's), else
    the default (see ``submission.new_run``)."""

    priority: int | None = None
    cpus: float | None = None
    memory_mb: int | None = None
    retries: int | None = None
    retry_backoff: float | None = None
    timeout: float | None = None
    tags: list[str] | None = None
    kernel_name: str | None = None
    visibility: str | None = None

    @classmethod
    def parse(cls, options: dict, settings: Any) -> RunOptions:
        options = seconds_aliases(options)
        out: dict[str, Any] = {}
        if options.get("priority") is not None:
            out["priority"] = v.check_number(
                "priority", options["priority"], minimum=-1_000_000, integer=True
            )
        res = options.get("resources") or {}
        cpus = options.get("cpus", res.get("cpus"))
        if cpus is not None:
            out["cpus"] = v.check_number("cpus", cpus)
        memory = options.get("memory", res.get("memory_mb", res.get("memory")))
        if memory is not None:
            out["memory_mb"] = v.parse_memory(memory)
        if options.get("retries") is not None:
            out["retries"] = v.check_number("retries", options["retries"], integer=True)
        if options.get("retry_backoff") is not None:
            out["retry_backoff"] = v.check_number("retry_backoff", options["retry_backoff"])
        if options.get("timeout") is not None:
            out["timeout"] = _timeout(options["timeout"])
        if options.get("tags") is not None:
            out["tags"] = v.check_tags(options["tags"])
        if options.get("kernel_name"):
            out["kernel_name"] = str(options["kernel_name"])
        if options.get("visibility") is not None:
            out["visibility"] = check_visibility(options["visibility"])
        unknown = set(options) - set(RUN_OPTIONS)
        if unknown:
            raise InvalidInput(f"unknown run option(s): {', '.join(sorted(unknown))}")
        check_fits(settings, out.get("cpus", 0), out.get("memory_mb", 0))
        return cls(**out)
