"""Job definitions in the catalog: create, change, delete, find and list them, with who may
depend on whose job, and their schedules' next fire times."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from ..catalog.schema import utcnow
from ..errors import Conflict, InvalidInput, NotFound, PermissionDenied, quote
from ..identity import Identity, check_may_change
from ..tags import labels_clause, tag_terms
from ..times import to_iso_z
from . import validation as v
from .specs import JOB_FIELDS, JobSpec, new_id, root_dir, seconds_aliases
from .states import PENDING_STATES, RunState, job_to_dict
from .tables import JobDefinition, Run


def find_job(ws, s: Session, ref: str, owner: str | None = None) -> JobDefinition:
    """A job by id, ``owner/name``, or name (of ``owner``, default this identity's)."""
    job = s.get(JobDefinition, ref)
    if job is None:
        owner_name, _, name = ref.rpartition("/") if "/" in ref else (owner or ws.user, "", ref)
        job = s.scalar(
            select(JobDefinition).where(
                JobDefinition.owner == owner_name, JobDefinition.name == name
            )
        )
    if job is None:
        raise NotFound(f"no job {quote(ref)}")
    return job


def job_names(ws, s: Session, ids: Iterable[str]) -> dict[str, str]:
    """{job id: its name as this identity says it (``owner/name`` for another's job)}."""
    ids = list(set(ids))
    if not ids:
        return {}
    rows = s.execute(
        select(JobDefinition.id, JobDefinition.name, JobDefinition.owner).where(
            JobDefinition.id.in_(ids)
        )
    ).all()
    return {i: (n if o == ws.user else f"{o}/{n}") for i, n, o in rows}


def job_dict(ws, s: Session, job: JobDefinition) -> dict:
    return job_to_dict(
        job, names=job_names(ws, s, job.depends_on or []), next_fire_times=upcoming(job)
    )


def next_fire(job: JobDefinition, after: datetime) -> datetime | None:
    if not job.schedule:
        return None
    return v.next_fire_times(job.schedule, job.timezone, after=after, count=1)[0]


def upcoming(job: JobDefinition) -> list[datetime]:
    if not job.schedule or not job.active:
        return []
    return v.next_fire_times(job.schedule, job.timezone, count=5)


def may_depend_on(identity: Identity, upstream: JobDefinition, owner: str) -> bool:
    """Whether ``owner``'s job (created or changed by ``identity``) may depend on
    ``upstream``: its own jobs, a public job, a team job of one of the identity's teams, or
    any job for a role that may change other users' things (admin)."""
    if upstream.owner == owner or upstream.visibility == "public" or identity.allows("change"):
        return True
    return (
        upstream.visibility == "team"
        and bool(upstream.team)
        and owner == identity.user
        and upstream.team in identity.teams
    )


def still_allowed(settings: Any, upstream: JobDefinition, downstream: JobDefinition) -> bool:
    """When a pipeline is expanded: whether ``upstream``'s owner still lets ``downstream``
    (another user's job) follow it. A job made private drops other users' dependents; a
    team job keeps those of its team."""
    if upstream.owner == downstream.owner or upstream.visibility == "public":
        return True
    if upstream.visibility != "team" or not upstream.team:
        return False
    if upstream.team == downstream.team:
        return True
    return upstream.team in Identity.resolve(settings, downstream.owner).teams


def _checked(
    ws,
    s: Session,
    fields: dict,
    job_id: str,
    name: str,
    owner: str,
    base: str | None,
    existing_deps: Iterable[str] = (),
) -> JobSpec:
    """Every field checked and normalised; raises before anything is written. A new
    dependency on another user's job needs that job's leave (see ``may_depend_on``);
    ``existing_deps`` (an update's current ones) are kept as they are."""
    spec = JobSpec.parse(fields, settings=ws.config.settings, base=base)
    # dependencies: names (of the owner's jobs), owner/name, or ids
    deps: list[str] = []
    kept = set(existing_deps)
    for ref in fields.get("depends_on") or []:
        dep = find_job(ws, s, str(ref), owner)
        if dep.id not in kept and not may_depend_on(ws.identity, dep, owner):
            raise PermissionDenied(
                f"job {dep.owner}/{dep.name} is {dep.visibility}: {owner}'s jobs cannot "
                f"depend on it (its owner can make it team or public)"
            )
        if dep.id not in deps:
            deps.append(dep.id)
    edges: dict[str, Iterable[str]] = {
        j.id: list(j.depends_on or []) for j in s.scalars(select(JobDefinition))
    }
    edges[job_id] = deps
    names = {i: n for i, n in s.execute(select(JobDefinition.id, JobDefinition.name))}
    names[job_id] = name
    v.refuse_cycle(edges, names)
    return spec.with_dependencies(deps)


def _refuse_unknown(fields: dict, also: set[str]) -> None:
    unknown = set(fields) - set(JOB_FIELDS) - also
    if unknown:
        raise InvalidInput(f"unknown job field(s): {', '.join(sorted(unknown))}")


def create_job(ws, name: str, notebook: str, *, base: str | None = None, **fields: Any) -> dict:
    _refuse_unknown(fields, {"resources", "root_dir"})
    fields = seconds_aliases(fields)
    v.check_name(name)
    owner = ws.user
    job_id = new_id()
    with ws.catalog.session() as s:
        if s.scalar(
            select(JobDefinition.id).where(JobDefinition.owner == owner, JobDefinition.name == name)
        ):
            raise Conflict(f"job {name!r} already exists for {owner}")
        spec = _checked(ws, s, {**fields, "notebook": notebook}, job_id, name, owner, base)
        now = utcnow()
        job = JobDefinition(
            id=job_id,
            owner=owner,
            name=name,
            created_at=now,
            updated_at=now,
            last_tick_at=now,
            team=ws.identity.team,
            **spec.columns(),
        )
        job.next_fire_at = next_fire(job, now)
        s.add(job)
        s.flush()
        return job_dict(ws, s, job)


def update_job(ws, ref: str, *, base: str | None = None, **changes: Any) -> dict:
    _refuse_unknown(changes, {"resources"})
    changes = seconds_aliases(changes)
    with ws.catalog.session() as s:
        job = find_job(ws, s, ref)
        check_may_change(ws.identity, job.owner, f"job {job.name}")
        current = {
            "notebook": str(Path(job.root_dir) / job.notebook),
            "root_dir": job.root_dir,
            "parameters": job.parameters,
            "kernel_name": job.kernel_name,
            "schedule": job.schedule,
            "timezone": job.timezone,
            "catchup": job.catchup,
            "depends_on": job.depends_on,
            "priority": job.priority,
            "cpus": job.cpus,
            "memory": job.memory_mb,
            "retries": job.retries,
            "retry_backoff": job.retry_backoff,
            "timeout": job.timeout,
            "tags": job.tags,
            "active": job.active,
            "description": job.description,
            "visibility": job.visibility,
        }
        if "resources" in changes:
            res = changes.pop("resources") or {}
            if "cpus" in res:
                changes["cpus"] = res["cpus"]
            if "memory_mb" in res or "memory" in res:
                changes["memory"] = res.get("memory_mb", res.get("memory"))
        current.update(changes)
        if "notebook" not in changes:
            base = None
        spec = _checked(
            ws, s, current, job.id, job.name, job.owner, base, existing_deps=job.depends_on or []
        )
        schedule_changed = (spec.schedule, spec.timezone) != (job.schedule, job.timezone)
        reactivated = spec.active and not job.active
        if spec.visibility != job.visibility:
            # a job's runs are read as the job is: earlier runs follow
            s.execute(update(Run).where(Run.job_id == job.id).values(visibility=spec.visibility))
        for key, value in spec.columns().items():
            setattr(job, key, value)
        now = utcnow()
        job.updated_at = now
        if schedule_changed or reactivated:
            # ticks missed while paused are not caught up
            job.last_tick_at = now
            job.next_fire_at = next_fire(job, now)
        s.flush()
        return job_dict(ws, s, job)


def delete_job(ws, ref: str) -> None:
    with ws.catalog.session() as s:
        job = find_job(ws, s, ref)
        check_may_change(ws.identity, job.owner, f"job {job.name}")
        dependents = [
            j.name for j in s.scalars(select(JobDefinition)) if job.id in (j.depends_on or [])
        ]
        if dependents:
            raise Conflict(
                f"job {job.name!r} is a dependency of {', '.join(dependents)}; "
                "remove the dependency first"
            )
        s.execute(
            update(Run)
            .where(Run.job_id == job.id, Run.state.in_(list(PENDING_STATES)))
            .values(
                state=RunState.CANCELLED.value,
                finished_at=utcnow(),
                error={"type": "JobDeleted", "message": f"job {job.name} was deleted"},
            )
        )
        s.delete(job)


def get_job(ws, ref: str) -> dict:
    with ws.catalog.read_session() as s:
        return job_dict(ws, s, find_job(ws, s, ref))


def _jobs_query(ws, owner, tag, active, q):
    """The jobs matching the filters, every one answered by the database (the tag filter by
    the catalog's JSON operators: core/tags.py)."""
    stmt = select(JobDefinition)
    if owner:
        stmt = stmt.where(JobDefinition.owner == owner)
    if active is not None:
        stmt = stmt.where(JobDefinition.active.is_(active))
    if q:
        stmt = stmt.where(
            or_(
                JobDefinition.name.icontains(q, autoescape=True),
                JobDefinition.notebook.icontains(q, autoescape=True),
                JobDefinition.description.icontains(q, autoescape=True),
            )
        )
    terms = tag_terms(tag)
    if terms:
        stmt = stmt.where(labels_clause(JobDefinition.tags, terms, ws.catalog.backend))
    return stmt


def _jobs_as_dicts(ws, s: Session, jobs: list) -> list[dict]:
    names = job_names(ws, s, itertools.chain.from_iterable(j.depends_on or [] for j in jobs))
    return [job_to_dict(j, names=names, next_fire_times=upcoming(j)) for j in jobs]


def list_jobs(
    ws,
    *,
    owner: str | None = None,
    tag: str | list[str] | None = None,
    active: bool | None = None,
    q: str | None = None,
) -> list[dict]:
    with ws.catalog.read_session() as s:
        stmt = _jobs_query(ws, owner, tag, active, q).order_by(JobDefinition.name, JobDefinition.id)
        return _jobs_as_dicts(ws, s, list(s.scalars(stmt)))


def list_jobs_page(
    ws,
    *,
    owner: str | None = None,
    tag: str | list[str] | None = None,
    active: bool | None = None,
    q: str | None = None,
    limit: Any = None,
    offset: Any = None,
    cursor: str | None = None,
) -> dict:
    """One page of ``list_jobs`` (by name, then id: two owners may name a job alike): the
    envelope of :mod:`..paging`, filtered and paged by the database (keyset on the name
    index); its cursor continues only a search with the same filters."""
    from ..paging import PageRequest, envelope, filter_scope, keyset

    scope = filter_scope(
        "jobs",
        owner=owner,
        tag=sorted(tag_terms(tag)),
        active=None if active is None else str(active),
        q=q,
    )
    request = PageRequest.of(limit, offset, cursor, scope)
    with ws.catalog.read_session() as s:
        stmt = _jobs_query(ws, owner, tag, active, q)
        total = (
            s.scalar(
                select(func.count()).select_from(
                    stmt.with_only_columns(JobDefinition.id).subquery()
                )
            )
            or 0
        )
        rows = list(
            s.scalars(
                keyset(stmt, [JobDefinition.name, JobDefinition.id], request.after(2))
                .limit(request.limit + 1)
                .offset(request.offset)
            )
        )
        more = len(rows) > request.limit
        rows = rows[: request.limit]
        return envelope(
            _jobs_as_dicts(ws, s, rows),
            total=total,
            limit=request.limit,
            offset=request.offset,
            next_cursor=request.cursor_of([rows[-1].name, rows[-1].id]) if more else None,
        )


def preview_schedule(schedule: str, timezone_name: str = "UTC", count: int = 5) -> dict:
    """What a schedule picker shows: the expression checked and its next fire times."""
    from zoneinfo import ZoneInfo

    expression = v.check_cron(schedule, timezone_name)
    zone = ZoneInfo(timezone_name or "UTC")
    times = v.next_fire_times(expression, timezone_name or "UTC", count=count)
    return {
        "schedule": expression,
        "timezone": timezone_name or "UTC",
        "next_fire_times": [to_iso_z(t) for t in times],
        "next_fire_times_local": [t.astimezone(zone).isoformat() for t in times],
    }


def notebook_parameters(ws, notebook: str, base: str | None = None) -> dict:
    """The parameters cell of a notebook under the root, typed as papermill infers it."""
    full, relative = v.resolve_notebook(notebook, root_dir(ws.config.settings), base)
    declared = v.notebook_parameters(full)
    return {
        "notebook": relative,
        "has_parameters_cell": declared is not None,
        "parameters": list((declared or {}).values()),
    }
