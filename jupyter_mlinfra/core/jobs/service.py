"""The jobs service: job definitions, run submission, sweeps, listing and search of runs.

    jobs = workspace.service("jobs")
    jobs.create_job("train", "train.ipynb", parameters={"lr": 0.1}, schedule="0 6 * * *",
                    timezone="Europe/Paris", depends_on=["prepare"])
    run = jobs.submit("train.ipynb", parameters={"lr": 0.2})   # a run of a notebook
    run = jobs.wait(run["id"])                                   # its final state and metrics
    sweep = jobs.sweep("train.ipynb", {"lr": [0.1, 0.2]})
    jobs.sweep_results(sweep["id"])                              # a pandas DataFrame

Runs are executed by a scheduler (:mod:`.scheduler`) running in the Jupyter server or as
``jupyter mlinfra scheduler``; ``run_now(..)`` executes one run in this process instead.
"""

from __future__ import annotations

import base64
import collections
import functools
import itertools
import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session, aliased, defer

from ..catalog.schema import utcnow
from ..errors import Conflict, InvalidInput, NotFound, PermissionDenied, QuotaExceeded, quote
from ..identity import (DEFAULT_VISIBILITY, check_may_change, check_visibility, may_read,
                        readable_clause)
from ..shared_writes import captured_result, shared_write
from .states import (ALL_STATES, ALL_TRIGGERS, FINAL_STATES, PENDING_STATES, RunState,
                     Trigger, job_to_dict, run_to_dict)
from .tables import (JobDefinition, Run, RunLogLine, RunMetric, RunParam, RunTag,
                     SchedulerRecord, Sweep, param_text)
from . import validation as v

JOB_FIELDS = ("notebook", "parameters", "kernel_name", "schedule", "timezone", "catchup",
              "depends_on", "priority", "cpus", "memory", "retries", "retry_backoff",
              "timeout", "tags", "active", "description", "visibility")

# the catalog info key holding the quotas of the deployment (see JobsService.publish_quotas)
QUOTAS_KEY = "jobs_quotas"
# PostgreSQL advisory locks of queue quotas: (this namespace, hashtext(owner))
_PG_QUEUE_LOCK_NAMESPACE = 0x6D6C6A71


def new_id() -> str:
    return uuid.uuid4().hex


def prepare_notebook_bytes(path: Path) -> bytes:
    """The snapshot stored for a run: the notebook as it is now (nbformat 4.5, cell ids)."""
    import nbformat

    from ..notebook_execution import load_notebook

    nb = load_notebook(path)
    return nbformat.writes(nb).encode()


def _wakes_schedulers(method):
    """After the method's transaction committed a queued run, wake the schedulers of this
    process and of this host so they dispatch it now rather than at their next poll."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        from .scheduler import wake_schedulers

        wake_schedulers(self.ws)
        return result

    return wrapper


class JobsService:
    def __init__(self, workspace) -> None:
        self.ws = workspace

    # -- settings ---------------------------------------------------------------------------
    @property
    def settings(self):
        return self.ws.config.settings

    @property
    def root_dir(self) -> Path:
        return Path(self.settings.root_dir or os.getcwd()).expanduser().resolve()

    def _configured_quotas(self) -> dict:
        """The quotas of this process's own configuration."""
        return {"max_running_per_user": int(self.settings.jobs_max_running_per_user or 0),
                "max_queued_per_user": int(self.settings.jobs_max_queued_per_user or 0),
                "user_quotas": {str(user): {k: int(v or 0) for k, v in dict(q or {}).items()
                                            if k in ("max_running", "max_queued")}
                                for user, q in dict(self.settings.jobs_user_quotas
                                                    or {}).items()}}

    def publish_quotas(self, by: str = "") -> dict:
        """Write this process's quota settings into the catalog, where every submission and
        every scheduler reads them. Serving schedulers (the server's, ``jupyter mlinfra
        scheduler``) and a server without a scheduler do this when they start: the quotas
        are those of the deployment's configuration, not of the submitting process."""
        from ..catalog.schema import CatalogInfo

        quotas = {**self._configured_quotas(), "published_by": by or self.ws.user,
                  "published_at": utcnow().isoformat()}
        with self.ws.catalog.session() as s:
            row = s.get(CatalogInfo, QUOTAS_KEY, with_for_update=True)
            if row is None:
                s.add(CatalogInfo(key=QUOTAS_KEY, value=json.dumps(quotas),
                                  updated_at=utcnow()))
            else:
                row.value, row.updated_at = json.dumps(quotas), utcnow()
        return quotas

    def quotas(self, s: Session | None = None) -> dict:
        """The quotas in force: those published in the catalog (``source: catalog``), or,
        on a catalog where no server or scheduler published any, this process's own
        configuration (``source: local``)."""
        from ..catalog.schema import CatalogInfo

        if s is None:
            with self.ws.catalog.read_session() as rs:
                return self.quotas(rs)
        row = s.get(CatalogInfo, QUOTAS_KEY)
        if row is not None:
            try:
                return {**json.loads(row.value), "source": "catalog"}
            except ValueError:
                pass
        return {**self._configured_quotas(), "source": "local"}

    def quota_for(self, user: str, s: Session | None = None, *,
                  quotas: dict | None = None) -> dict[str, int]:
        quotas = quotas if quotas is not None else self.quotas(s)
        out = {"max_running": int(quotas.get("max_running_per_user") or 0),
               "max_queued": int(quotas.get("max_queued_per_user") or 0)}
        override = (quotas.get("user_quotas") or {}).get(user) or {}
        for key in out:
            if key in override:
                out[key] = int(override[key] or 0)
        return out

    def status(self) -> dict:
        with self.ws.catalog.read_session() as s:
            counts = dict(s.execute(select(Run.state, func.count()).group_by(Run.state)).all())
            jobs = s.scalar(select(func.count()).select_from(JobDefinition)) or 0
            scheduled = s.scalar(select(func.count()).select_from(JobDefinition).where(
                JobDefinition.schedule.is_not(None), JobDefinition.active.is_(True))) or 0
        return {"jobs": jobs, "scheduled_jobs": scheduled,
                "runs": {state: int(counts.get(state, 0)) for state in ALL_STATES},
                "executor": self.settings.jobs_executor, "root_dir": str(self.root_dir),
                "schedulers_alive": sum(1 for r in self.schedulers() if r["serving"])}

    def schedulers(self, *, include_gone: bool = False) -> list[dict]:
        """The schedulers serving this catalog (in servers and ``jupyter mlinfra scheduler``
        daemons), alive ones first: each renews its record every few seconds, so one that
        died is gone once its ``expires_at`` has passed. ``serving`` is False for the
        short-lived schedulers ``run --wait`` starts for its own runs."""
        now = utcnow()
        with self.ws.catalog.read_session() as s:
            stmt = select(SchedulerRecord).order_by(SchedulerRecord.heartbeat_at.desc())
            if not include_gone:
                stmt = stmt.where(SchedulerRecord.expires_at > now,
                                  SchedulerRecord.stopped_at.is_(None))
            rows = list(s.scalars(stmt.limit(200)))
        return [{"id": r.id, "host": r.host, "pid": r.pid, "executor": r.executor,
                 "serving": r.serving, "alive": r.stopped_at is None and r.expires_at > now,
                 "doorbell_port": r.doorbell_port,
                 "started_at": r.started_at.isoformat(),
                 "heartbeat_at": r.heartbeat_at.isoformat(),
                 "stopped_at": r.stopped_at.isoformat() if r.stopped_at else None}
                for r in rows]

    # -- job definitions --------------------------------------------------------------------
    def _job(self, s: Session, ref: str, owner: str | None = None) -> JobDefinition:
        job = s.get(JobDefinition, ref)
        if job is None:
            owner_name, _, name = ref.rpartition("/") if "/" in ref else (owner or self.ws.user,
                                                                           "", ref)
            job = s.scalar(select(JobDefinition).where(JobDefinition.owner == owner_name,
                                                       JobDefinition.name == name))
        if job is None:
            raise NotFound(f"no job {quote(ref)}")
        return job

    def _names(self, s: Session, ids: Iterable[str]) -> dict[str, str]:
        ids = list(set(ids))
        if not ids:
            return {}
        rows = s.execute(select(JobDefinition.id, JobDefinition.name, JobDefinition.owner)
                         .where(JobDefinition.id.in_(ids))).all()
        return {i: (n if o == self.ws.user else f"{o}/{n}") for i, n, o in rows}

    def _validated(self, s: Session, spec: dict, job_id: str, name: str, owner: str,
                   base: str | None, existing_deps: Iterable[str] = ()) -> dict:
        """Every field checked and normalised; raises before anything is written. A new
        dependency on another user's job needs that job's leave (see ``_may_depend_on``);
        ``existing_deps`` (an update's current ones) are kept as they are."""
        full, relative = v.resolve_notebook(spec["notebook"], spec.get("root_dir")
                                            or self.root_dir, base)
        declared = v.notebook_parameters(full)
        out: dict[str, Any] = {"notebook": relative,
                               "root_dir": str(Path(spec.get("root_dir")
                                                    or self.root_dir).resolve())}
        out["parameters"] = v.check_parameters(spec.get("parameters"), declared, relative)
        out["kernel_name"] = spec.get("kernel_name") or None
        out["timezone"] = v.check_timezone(spec.get("timezone"))
        schedule = spec.get("schedule") or None
        out["schedule"] = v.check_cron(schedule, out["timezone"]) if schedule else None
        out["catchup"] = v.check_catchup(spec.get("catchup") or self.settings.jobs_catchup)
        out["priority"] = v.check_number("priority", spec.get("priority") or 0,
                                         minimum=-1_000_000, integer=True)
        resources = spec.get("resources") or {}
        out["cpus"] = v.check_number("cpus", spec.get("cpus", resources.get("cpus", 1)) or 1,
                                     minimum=0)
        out["memory_mb"] = v.parse_memory(spec.get("memory", resources.get("memory_mb",
                                                                           resources.get("memory"))))
        self._check_fits(out["cpus"], out["memory_mb"])
        out["retries"] = v.check_number("retries", spec.get("retries") or 0, integer=True)
        out["retry_backoff"] = v.check_number("retry_backoff",
                                              30 if spec.get("retry_backoff") is None
                                              else spec["retry_backoff"])
        out["timeout"] = v.check_number("timeout", spec.get("timeout"), allow_none=True)
        if out["timeout"] is not None and out["timeout"] <= 0:
            raise InvalidInput("timeout must be a positive number of seconds")
        out["tags"] = v.check_tags(spec.get("tags"))
        out["active"] = bool(spec.get("active", True))
        out["description"] = str(spec.get("description") or "")
        out["visibility"] = check_visibility(spec.get("visibility") or DEFAULT_VISIBILITY)
        # dependencies: names (of the owner's jobs), owner/name, or ids
        deps: list[str] = []
        kept = set(existing_deps)
        for ref in spec.get("depends_on") or []:
            dep = self._job(s, str(ref), owner)
            if dep.id not in kept and not self._may_depend_on(dep, owner):
                raise PermissionDenied(
                    f"job {dep.owner}/{dep.name} is {dep.visibility}: {owner}'s jobs cannot "
                    f"depend on it (its owner can make it team or public)")
            if dep.id not in deps:
                deps.append(dep.id)
        out["depends_on"] = deps
        edges = {j.id: list(j.depends_on or []) for j in s.scalars(select(JobDefinition))}
        edges[job_id] = deps
        names = {i: n for i, n in s.execute(select(JobDefinition.id, JobDefinition.name))}
        names[job_id] = name
        v.refuse_cycle(edges, names)
        return out

    @shared_write("jobs.create", summary="create job {name} ({notebook})",
                  stand_in=lambda self, args, entry: captured_result(
                      entry, id="", name=args["name"], notebook=args["notebook"],
                      schedule=args.get("schedule"), timezone=args.get("timezone") or "UTC",
                      next_fire_times=[]))
    def create_job(self, name: str, notebook: str, *, base: str | None = None,
                   **spec: Any) -> dict:
        unknown = set(spec) - set(JOB_FIELDS) - {"resources", "root_dir"}
        if unknown:
            raise InvalidInput(f"unknown job field(s): {', '.join(sorted(unknown))}")
        v.check_name(name)
        owner = self.ws.user
        job_id = new_id()
        with self.ws.catalog.session() as s:
            if s.scalar(select(JobDefinition.id).where(JobDefinition.owner == owner,
                                                       JobDefinition.name == name)):
                raise Conflict(f"job {name!r} already exists for {owner}")
            fields = self._validated(s, {**spec, "notebook": notebook}, job_id, name, owner,
                                     base)
            now = utcnow()
            job = JobDefinition(id=job_id, owner=owner, name=name, created_at=now,
                                updated_at=now, last_tick_at=now,
                                team=self.ws.identity.team, **fields)
            job.next_fire_at = self._next_fire(job, now)
            s.add(job)
            s.flush()
            return self._job_dict(s, job)

    @shared_write("jobs.update", target="ref", summary="update job {ref}",
                  stand_in=lambda self, args, entry: captured_result(entry, name=args["ref"]))
    def update_job(self, ref: str, *, base: str | None = None, **changes: Any) -> dict:
        unknown = set(changes) - set(JOB_FIELDS) - {"resources"}
        if unknown:
            raise InvalidInput(f"unknown job field(s): {', '.join(sorted(unknown))}")
        with self.ws.catalog.session() as s:
            job = self._job(s, ref)
            self._check_owner(job)
            current = {
                "notebook": str(Path(job.root_dir) / job.notebook), "root_dir": job.root_dir,
                "parameters": job.parameters, "kernel_name": job.kernel_name,
                "schedule": job.schedule, "timezone": job.timezone, "catchup": job.catchup,
                "depends_on": job.depends_on, "priority": job.priority, "cpus": job.cpus,
                "memory": job.memory_mb, "retries": job.retries,
                "retry_backoff": job.retry_backoff, "timeout": job.timeout, "tags": job.tags,
                "active": job.active, "description": job.description,
                "visibility": job.visibility}
            if "resources" in changes:
                res = changes.pop("resources") or {}
                if "cpus" in res:
                    changes["cpus"] = res["cpus"]
                if "memory_mb" in res or "memory" in res:
                    changes["memory"] = res.get("memory_mb", res.get("memory"))
            current.update(changes)
            if "notebook" not in changes:
                base = None
            fields = self._validated(s, current, job.id, job.name, job.owner, base,
                                     existing_deps=job.depends_on or [])
            schedule_changed = (fields["schedule"], fields["timezone"]) != (job.schedule,
                                                                            job.timezone)
            reactivated = fields["active"] and not job.active
            if fields.get("visibility", job.visibility) != job.visibility:
                # a job's runs are read as the job is: earlier runs follow
                s.execute(update(Run).where(Run.job_id == job.id)
                          .values(visibility=fields["visibility"]))
            for key, value in fields.items():
                setattr(job, key, value)
            now = utcnow()
            job.updated_at = now
            if schedule_changed or reactivated:
                # ticks missed while paused are not caught up
                job.last_tick_at = now
                job.next_fire_at = self._next_fire(job, now)
            s.flush()
            return self._job_dict(s, job)

    @shared_write("jobs.pause", target="ref", summary="pause job {ref}",
                  stand_in=lambda self, args, entry: captured_result(entry, name=args["ref"]))
    def pause_job(self, ref: str) -> dict:
        return self.update_job(ref, active=False)

    @shared_write("jobs.resume", target="ref", summary="resume job {ref}",
                  stand_in=lambda self, args, entry: captured_result(entry, name=args["ref"]))
    def resume_job(self, ref: str) -> dict:
        return self.update_job(ref, active=True)

    @shared_write("jobs.delete", target="ref", summary="delete job {ref}",
                  stand_in=lambda self, args, entry: None)
    def delete_job(self, ref: str) -> None:
        with self.ws.catalog.session() as s:
            job = self._job(s, ref)
            self._check_owner(job)
            dependents = [j.name for j in s.scalars(select(JobDefinition))
                          if job.id in (j.depends_on or [])]
            if dependents:
                raise Conflict(f"job {job.name!r} is a dependency of {', '.join(dependents)}; "
                               "remove the dependency first")
            s.execute(update(Run).where(Run.job_id == job.id,
                                        Run.state.in_(list(PENDING_STATES)))
                      .values(state=RunState.CANCELLED.value, finished_at=utcnow(),
                              error={"type": "JobDeleted",
                                     "message": f"job {job.name} was deleted"}))
            s.delete(job)

    def get_job(self, ref: str) -> dict:
        with self.ws.catalog.read_session() as s:
            return self._job_dict(s, self._job(s, ref))

    def list_jobs(self, *, owner: str | None = None, tag: str | None = None,
                  active: bool | None = None, q: str | None = None) -> list[dict]:
        with self.ws.catalog.read_session() as s:
            stmt = select(JobDefinition).order_by(JobDefinition.name)
            if owner:
                stmt = stmt.where(JobDefinition.owner == owner)
            if active is not None:
                stmt = stmt.where(JobDefinition.active.is_(active))
            if q:
                stmt = stmt.where(or_(JobDefinition.name.icontains(q, autoescape=True),
                                      JobDefinition.notebook.icontains(q, autoescape=True),
                                      JobDefinition.description.icontains(q, autoescape=True)))
            jobs = [j for j in s.scalars(stmt) if not tag or tag in (j.tags or [])]
            names = self._names(s, itertools.chain.from_iterable(j.depends_on or []
                                                                 for j in jobs))
            return [job_to_dict(j, names=names, next_fire_times=self._upcoming(j))
                    for j in jobs]

    def _job_dict(self, s: Session, job: JobDefinition) -> dict:
        return job_to_dict(job, names=self._names(s, job.depends_on or []),
                           next_fire_times=self._upcoming(job))

    def _check_owner(self, job_or_run) -> None:
        what = (f"run {job_or_run.id}" if isinstance(job_or_run, Run)
                else f"job {job_or_run.name}")
        check_may_change(self.ws.identity, job_or_run.owner, what)

    def _may_depend_on(self, upstream: JobDefinition, owner: str) -> bool:
        """Whether ``owner``'s job (created or changed by this identity) may depend on
        ``upstream``: its own jobs, a public job, a team job of one of this identity's
        teams, or any job for a role that may change other users' things (admin)."""
        identity = self.ws.identity
        if upstream.owner == owner or upstream.visibility == "public" \
                or identity.allows("change"):
            return True
        return (upstream.visibility == "team" and bool(upstream.team)
                and owner == identity.user and upstream.team in identity.teams)

    def _still_allowed(self, upstream: JobDefinition, downstream: JobDefinition) -> bool:
        """When a pipeline is expanded: whether ``upstream``'s owner still lets
        ``downstream`` (another user's job) follow it. A job made private drops other
        users' dependents; a team job keeps those of its team."""
        if upstream.owner == downstream.owner or upstream.visibility == "public":
            return True
        if upstream.visibility != "team" or not upstream.team:
            return False
        if upstream.team == downstream.team:
            return True
        from ..identity import Identity

        return upstream.team in Identity.resolve(self.settings, downstream.owner).teams

    @staticmethod
    def _next_fire(job: JobDefinition, after: datetime) -> datetime | None:
        if not job.schedule:
            return None
        return v.next_fire_times(job.schedule, job.timezone, after=after, count=1)[0]

    @staticmethod
    def _upcoming(job: JobDefinition) -> list[datetime]:
        if not job.schedule or not job.active:
            return []
        return v.next_fire_times(job.schedule, job.timezone, count=5)

    def preview_schedule(self, schedule: str, timezone_name: str = "UTC",
                         count: int = 5) -> dict:
        """What a schedule picker shows: the expression checked and its next fire times."""
        expression = v.check_cron(schedule, timezone_name)
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(timezone_name or "UTC")
        times = v.next_fire_times(expression, timezone_name or "UTC", count=count)
        return {"schedule": expression, "timezone": timezone_name or "UTC",
                "next_fire_times": [t.isoformat() for t in times],
                "next_fire_times_local": [t.astimezone(zone).isoformat() for t in times]}

    def notebook_parameters(self, notebook: str, base: str | None = None) -> dict:
        """The parameters cell of a notebook under the root, typed as papermill infers it."""
        full, relative = v.resolve_notebook(notebook, self.root_dir, base)
        declared = v.notebook_parameters(full)
        return {"notebook": relative, "has_parameters_cell": declared is not None,
                "parameters": list((declared or {}).values())}

    # -- submitting runs --------------------------------------------------------------------
    def _check_queue_quota(self, s: Session, owner: str | dict[str, int],
                           adding: int = 0) -> None:
        """Refuse (QuotaExceeded) runs that would take an owner past ``max_queued``; given
        ``{owner: adding}``, each owner's. The count and the caller's insert are one
        transaction that holds the owner's queue lock until it commits (SQLite: its write
        lock, taken at BEGIN IMMEDIATE; PostgreSQL: a transaction-level advisory lock per
        owner), so concurrent submissions cannot all pass the same count."""
        adding_by_owner = owner if isinstance(owner, dict) else {owner: adding}
        quotas = self.quotas(s)
        for who in sorted(adding_by_owner):     # one order: no deadlock between owners
            n = adding_by_owner[who]
            limit = self.quota_for(who, quotas=quotas)["max_queued"]
            if not limit or not n:
                continue
            if self.ws.catalog.backend == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:ns, hashtext(:owner))"),
                          {"ns": _PG_QUEUE_LOCK_NAMESPACE, "owner": who})
            pending = s.scalar(select(func.count()).select_from(Run).where(
                Run.owner == who, Run.state.in_(list(PENDING_STATES)))) or 0
            if pending + n > limit:
                raise QuotaExceeded(
                    f"quota max_queued exceeded for {who}: {pending} run(s) already queued or "
                    f"waiting, {n} more would pass the limit of {limit}",
                    details={"quota": "max_queued", "limit": limit, "current": pending,
                             "requested": n})

    def _snapshot(self, run_id: str, full: Path) -> str:
        key = f"runs/{run_id}/input.ipynb"
        self.ws.artifacts.put(key, prepare_notebook_bytes(full),
                              metadata={"run_id": run_id, "source": str(full)})
        return key

    def _new_run(self, *, owner: str, notebook: str, parameters: dict, trigger: str,
                 state: str, now: datetime, job: JobDefinition | None = None,
                 like: Any = None, spec: dict | None = None, full: Path | None = None,
                 snapshot_key: str | None = None, cwd: str | None = None,
                 run_id: str | None = None, job_id: str | None = None, attempt: int = 1,
                 **extra: Any) -> Run:
        """A new run. Its options come from ``spec``, else from ``like`` (the run retried) or
        the job, else the defaults; its snapshot is taken from the file ``full`` unless an
        existing ``snapshot_key`` (and ``cwd``) is given."""
        run_id = run_id or new_id()
        spec = spec or {}
        src = like if like is not None else job

        def pick(name: str, default: Any) -> Any:
            if name in spec and spec[name] is not None:
                return spec[name]
            return getattr(src, name) if src is not None else default

        if snapshot_key is None:
            snapshot_key, cwd = self._snapshot(run_id, full), str(full.parent)
        # who may read it: its job's visibility, else (a run of a notebook) the default,
        # for the team of its owner
        if job is not None and spec.get("visibility") not in (None, job.visibility):
            raise InvalidInput(f"a run of job {job.name} has the job's visibility "
                               f"({job.visibility}); change the job's instead")
        extra.setdefault("visibility", pick("visibility", DEFAULT_VISIBILITY))
        extra.setdefault("team", src.team if src is not None else self.ws.identity.team)
        return Run(
            id=run_id, job_id=job.id if job is not None else job_id, owner=owner,
            notebook=notebook, cwd=cwd, snapshot_key=snapshot_key,
            parameters=parameters, kernel_name=pick("kernel_name", None), state=state,
            trigger=trigger, priority=int(pick("priority", 0)), cpus=float(pick("cpus", 1.0)),
            memory_mb=int(pick("memory_mb", 0)), retries=int(pick("retries", 0)),
            retry_backoff=float(pick("retry_backoff", 30.0)), timeout=pick("timeout", None),
            tags=list(pick("tags", [])), attempt=attempt, created_at=now,
            queued_at=now if state == RunState.QUEUED.value else None,
            upstream_run_ids=[], progress={}, history=[], environment={}, output_text="",
            cancel_requested=False, **extra)

    def _run_spec(self, spec: dict) -> dict:
        out: dict[str, Any] = {}
        if spec.get("priority") is not None:
            out["priority"] = v.check_number("priority", spec["priority"], minimum=-1_000_000,
                                             integer=True)
        res = spec.get("resources") or {}
        cpus = spec.get("cpus", res.get("cpus"))
        if cpus is not None:
            out["cpus"] = v.check_number("cpus", cpus)
        memory = spec.get("memory", res.get("memory_mb", res.get("memory")))
        if memory is not None:
            out["memory_mb"] = v.parse_memory(memory)
        for key in ("retries",):
            if spec.get(key) is not None:
                out[key] = v.check_number(key, spec[key], integer=True)
        if spec.get("retry_backoff") is not None:
            out["retry_backoff"] = v.check_number("retry_backoff", spec["retry_backoff"])
        if spec.get("timeout") is not None:
            out["timeout"] = v.check_number("timeout", spec["timeout"])
            if out["timeout"] <= 0:
                raise InvalidInput("timeout must be a positive number of seconds")
        if spec.get("tags") is not None:
            out["tags"] = v.check_tags(spec["tags"])
        if spec.get("kernel_name"):
            out["kernel_name"] = str(spec["kernel_name"])
        if spec.get("visibility") is not None:
            out["visibility"] = check_visibility(spec["visibility"])
        unknown = set(spec) - {"priority", "resources", "cpus", "memory", "retries",
                               "retry_backoff", "timeout", "tags", "kernel_name", "visibility"}
        if unknown:
            raise InvalidInput(f"unknown run option(s): {', '.join(sorted(unknown))}")
        self._check_fits(out.get("cpus", 0), out.get("memory_mb", 0))
        return out

    def _check_fits(self, cpus: float, memory_mb: int) -> None:
        """Refuse a run that no executor slot could ever hold, rather than queue it forever.

        The limits are the configured ``jobs_cpus`` / ``jobs_memory_mb``; with the local
        executor ``jobs_cpus`` defaults to this machine's CPU count. A Dask cluster's size is
        not known here, so only configured limits apply to it."""
        limit = self.settings.jobs_cpus or (
            (os.cpu_count() or 1) if self.settings.jobs_executor == "local" else 0)
        if limit and cpus > limit + 1e-9:
            raise InvalidInput(f"the run asks for {cpus:g} CPUs but the executor has at most "
                               f"{limit:g} (jobs_cpus)")
        if self.settings.jobs_memory_mb and memory_mb > self.settings.jobs_memory_mb:
            raise InvalidInput(f"the run asks for {memory_mb} MB of memory but the executor has "
                               f"at most {self.settings.jobs_memory_mb} MB (jobs_memory_mb)")

    @shared_write("jobs.submit", target=("notebook", "job"),
                  summary="submit a run of {notebook}{job}",
                  stand_in=lambda self, args, entry: _captured_run(entry, args))
    @_wakes_schedulers
    def submit(self, notebook: str | None = None, *, job: str | None = None,
               parameters: dict | None = None, base: str | None = None,
               trigger: str = Trigger.MANUAL.value, **options: Any) -> dict:
        """Queue one run of a notebook (or of a job, with its downstream pipeline).

        ``parameters`` are checked against the notebook's parameters cell; options:
        priority, cpus, memory, retries, retry_backoff, timeout, tags, kernel_name.
        """
        if (notebook is None) == (job is None):
            raise InvalidInput("give a notebook path or a job name (not both)")
        if job is not None:
            return self.run_job(job, parameters=parameters, trigger=trigger, **options)
        spec = self._run_spec(options)
        owner = self.ws.user
        full, relative = v.resolve_notebook(notebook, self.root_dir, base)
        params = v.check_parameters(parameters, v.notebook_parameters(full), relative)
        now = utcnow()
        with self.ws.catalog.session() as s:
            self._check_queue_quota(s, owner, 1)
            run = self._new_run(owner=owner, notebook=relative, full=full, parameters=params,
                                trigger=trigger, state=RunState.QUEUED.value, spec=spec,
                                now=now)
            s.add(run)
            s.flush()
            return run_to_dict(run)

    @shared_write("jobs.submit", target="name", summary="submit a run of {name}",
                  stand_in=lambda self, args, entry: _captured_run(entry, args))
    @_wakes_schedulers
    def submit_content(self, content: bytes | str | Any, *, name: str = "snapshot.ipynb",
                       parameters: dict | None = None, cwd: str | None = None,
                       trigger: str = Trigger.MANUAL.value, **options: Any) -> dict:
        """Queue a run of notebook *content* (bytes, JSON text or an nbformat node) rather
        than of a file: how the model store re-runs a registered notebook snapshot. Its
        parameters are checked against the content's parameters cell; ``cwd`` defaults to
        the root."""
        import nbformat

        from ..notebook_execution import load_notebook

        spec = self._run_spec(options)
        try:
            if isinstance(content, (bytes, str)):
                node = nbformat.reads(content.decode() if isinstance(content, bytes)
                                      else content, as_version=4)
            else:
                node = content
            nb = load_notebook(node)
        except Exception as exc:
            raise InvalidInput(f"{name} is not a valid notebook: {exc}") from exc
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "snapshot.ipynb"
            nbformat.write(nb, path)
            params = v.check_parameters(parameters, v.notebook_parameters(path), name)
        data = nbformat.writes(nb).encode()
        owner = self.ws.user
        now = utcnow()
        run_id = new_id()
        key = f"runs/{run_id}/input.ipynb"
        with self.ws.catalog.session() as s:
            self._check_queue_quota(s, owner, 1)
            self.ws.artifacts.put(key, data, metadata={"run_id": run_id, "source": name})
            run = self._new_run(owner=owner, notebook=name, parameters=params,
                                trigger=trigger, state=RunState.QUEUED.value, now=now,
                                spec=spec, run_id=run_id, snapshot_key=key,
                                cwd=str(Path(cwd).resolve()) if cwd else str(self.root_dir))
            s.add(run)
            s.flush()
            return run_to_dict(run)

    def run_and_wait(self, run_id: str, timeout: float | None = None) -> dict:
        """Wait for a run (executing it in this process when no scheduler takes it); the
        final run with its metrics."""
        from .local import wait_with_local_scheduler

        return wait_with_local_scheduler(self.ws, [run_id], timeout=timeout)[0]

    @shared_write("jobs.run", target="ref", summary="run job {ref}",
                  stand_in=lambda self, args, entry: _captured_run(entry, args))
    @_wakes_schedulers
    def run_job(self, ref: str, *, parameters: dict | None = None,
                trigger: str = Trigger.MANUAL.value, **options: Any) -> dict:
        """Run a job now: its run is queued and every downstream job gets a waiting run in
        the same pipeline. Returns the job's run (with ``pipeline_run_ids``).

        Each run is its own job's owner's (its kernel acts as that user), whoever triggered
        it, so running another user's job takes a role that may change it (admin); others
        are refused rather than run their notebook as them."""
        spec = self._run_spec(options)
        with self.ws.catalog.session() as s:
            job = self._job(s, ref)
            check_may_change(self.ws.identity, job.owner, f"job {job.name}", "run")
            runs = self._create_pipeline(s, job, now=utcnow(), trigger=trigger,
                                         parameters=parameters, spec=spec)
            s.flush()
            out = run_to_dict(runs[0], job_name=job.name)
            out["pipeline_run_ids"] = [r.id for r in runs]
            return out

    def _create_pipeline(self, s: Session, job: JobDefinition, *, now: datetime,
                         trigger: str, parameters: dict | None = None,
                         spec: dict | None = None, tick_key: str | None = None,
                         check_quota: bool = True) -> list[Run]:
        all_jobs = {j.id: j for j in s.scalars(select(JobDefinition))}
        downstream: dict[str, list[str]] = {}
        for j in all_jobs.values():
            for dep in j.depends_on or []:
                downstream.setdefault(dep, []).append(j.id)
        # the job and every active job reachable downstream of it (another user's job only
        # while the job it follows still lets it: see _still_allowed)
        members = [job.id]
        seen = {job.id}
        for jid in members:
            for child in sorted(downstream.get(jid, [])):
                if child not in seen and all_jobs[child].active and \
                        self._still_allowed(all_jobs[jid], all_jobs[child]):
                    seen.add(child)
                    members.append(child)
        import graphlib

        order = list(graphlib.TopologicalSorter(
            {m: [d for d in all_jobs[m].depends_on or [] if d in seen] for m in members}
        ).static_order())
        # every run is owned by its own job's owner (and its kernel acts as that user)
        if check_quota:
            self._check_queue_quota(s, dict(collections.Counter(all_jobs[m].owner
                                                                for m in order)))
        pipeline_id = new_id() if len(order) > 1 else None
        runs: dict[str, Run] = {}
        for jid in order:
            j = all_jobs[jid]
            owner = j.owner
            full = (Path(j.root_dir) / j.notebook)
            if not full.is_file():
                raise NotFound(f"job {j.name}: notebook {j.notebook} no longer exists "
                               f"under {j.root_dir}")
            if jid == job.id:
                params = dict(j.parameters or {})
                if parameters:
                    params.update(v.check_parameters(parameters, v.notebook_parameters(full),
                                                     j.notebook))
                run = self._new_run(owner=owner, notebook=j.notebook, full=full,
                                    parameters=params, trigger=trigger,
                                    state=RunState.QUEUED.value, job=j, spec=spec, now=now,
                                    pipeline_id=pipeline_id, tick_key=tick_key)
            else:
                run = self._new_run(owner=owner, notebook=j.notebook, full=full,
                                    parameters=dict(j.parameters or {}),
                                    trigger=Trigger.DEPENDENCY.value,
                                    state=RunState.WAITING.value, job=j, now=now,
                                    pipeline_id=pipeline_id)
                run.upstream_run_ids = [runs[d].id for d in j.depends_on or [] if d in runs]
            runs[jid] = run
            s.add(run)
        return [runs[job.id]] + [runs[m] for m in order if m != job.id]

    @shared_write("jobs.sweep", target=("notebook", "job"), summary="sweep {notebook}{job}",
                  stand_in=lambda self, args, entry: captured_result(
                      entry, id="", notebook=args["notebook"] or args["job"], run_ids=[],
                      runs=[], grid=args["grid"]))
    @_wakes_schedulers
    def sweep(self, notebook: str | None = None, grid: dict | list | None = None, *,
              job: str | None = None, parameters: dict | None = None, base: str | None = None,
              **options: Any) -> dict:
        """One run per parameter combination: ``grid`` is {name: [values]} (the product) or a
        list of parameter dicts; ``parameters`` are fixed ones added to every run."""
        if (notebook is None) == (job is None):
            raise InvalidInput("give a notebook path or a job name (not both)")
        combos = expand_grid(grid)
        spec = self._run_spec(options)
        owner = self.ws.user
        with self.ws.catalog.session() as s:
            j = self._job(s, job) if job is not None else None
            if j is not None:
                # a job's runs are its owner's, as in run_job
                check_may_change(self.ws.identity, j.owner, f"job {j.name}", "run")
                owner = j.owner
                full = Path(j.root_dir) / j.notebook
                relative = j.notebook
                fixed = {**(j.parameters or {}), **(parameters or {})}
            else:
                full, relative = v.resolve_notebook(notebook, self.root_dir, base)
                fixed = dict(parameters or {})
            declared = v.notebook_parameters(full)
            checked = [v.check_parameters({**fixed, **c}, declared, relative) for c in combos]
            self._check_queue_quota(s, owner, len(checked))
            sweep_id = new_id()
            s.add(Sweep(id=sweep_id, owner=owner, notebook=relative,
                        job_id=j.id if j else None, grid=combos, created_at=utcnow()))
            now = utcnow()
            runs = []
            for i, params in enumerate(checked):
                # one microsecond apart: the grid's order is the queue's and the table's
                run = self._new_run(owner=owner, notebook=relative, full=full,
                                    parameters=params, trigger=Trigger.SWEEP.value,
                                    state=RunState.QUEUED.value, job=j, spec=spec,
                                    now=now + timedelta(microseconds=i),
                                    sweep_id=sweep_id)
                s.add(run)
                runs.append(run)
            s.flush()
            return {"id": sweep_id, "notebook": relative, "grid": combos,
                    "run_ids": [r.id for r in runs], "runs": [run_to_dict(r) for r in runs]}

    def sweep_results(self, sweep_id: str):
        """A pandas DataFrame, one row per run: run_id, state, the parameters, duration (s)
        and every logged metric (its last value)."""
        import pandas as pd

        with self.ws.catalog.read_session() as s:
            if s.get(Sweep, sweep_id) is None:
                raise NotFound(f"no sweep {sweep_id!r}")
            runs = list(s.scalars(self._readable_runs(select(Run)).where(
                Run.sweep_id == sweep_id).order_by(Run.created_at, Run.id)))
            metrics = self._metrics(s, [r.id for r in runs])
        rows = []
        param_names: list[str] = []
        metric_names: list[str] = []
        for r in runs:
            for k in r.parameters or {}:
                if k not in param_names:
                    param_names.append(k)
            for k in metrics.get(r.id, {}):
                if k not in metric_names:
                    metric_names.append(k)
        for r in runs:
            d = run_to_dict(r)
            row = {"run_id": r.id, "state": r.state}
            row.update({k: (r.parameters or {}).get(k) for k in param_names})
            row["duration"] = d["duration"] if r.state in FINAL_STATES else None
            row.update({k: metrics.get(r.id, {}).get(k) for k in metric_names})
            rows.append(row)
        return pd.DataFrame(rows, columns=["run_id", "state", *param_names, "duration",
                                           *metric_names])

    # -- reading runs -----------------------------------------------------------------------
    @staticmethod
    def _metrics(s: Session, run_ids: list[str]) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        if not run_ids:
            return out
        for chunk_start in range(0, len(run_ids), 500):
            chunk = run_ids[chunk_start:chunk_start + 500]
            for run_id, name, value in s.execute(
                    select(RunMetric.run_id, RunMetric.name, RunMetric.value)
                    .where(RunMetric.run_id.in_(chunk)).order_by(RunMetric.id)):
                out.setdefault(run_id, {})[name] = value
        return out

    def _run(self, s: Session, run_id: str) -> Run:
        run = s.get(Run, run_id)
        if run is None:
            raise NotFound(f"no run {run_id!r}")
        return run

    def _readable_run(self, s: Session, run_id: str) -> Run:
        """The run, if this identity may read it (its visibility is its job's, kept in step
        by ``update_job``; a run without a job is "team" unless submitted otherwise);
        otherwise not found, so that run ids do not leak."""
        run = self._run(s, run_id)
        if not may_read(self.ws.identity, run.owner, run.visibility, run.team):
            raise NotFound(f"no run {run_id!r}")
        return run

    def _readable_runs(self, stmt):
        """``stmt`` (a select of runs) narrowed to the runs this identity may read."""
        clause = readable_clause(self.ws.identity, Run.owner, Run.visibility, Run.team)
        return stmt if clause is None else stmt.where(clause)

    def get_run(self, run_id: str) -> dict:
        with self.ws.catalog.read_session() as s:
            run = self._readable_run(s, run_id)
            names = self._names(s, [run.job_id] if run.job_id else [])
            out = run_to_dict(run, job_name=names.get(run.job_id) if run.job_id else None,
                              metrics=self._metrics(s, [run.id]).get(run.id, {}))
            out["metric_history"] = [
                {"name": m.name, "value": m.value, "step": m.step,
                 "logged_at": m.logged_at.isoformat()}
                for m in s.scalars(select(RunMetric).where(RunMetric.run_id == run.id)
                                   .order_by(RunMetric.id))]
        out["artifacts"] = self.run_artifacts(run_id)
        return out

    def list_runs(self, *, job: str | None = None, state: str | list[str] | None = None,
                  owner: str | None = None, trigger: str | None = None,
                  tag: str | None = None, sweep: str | None = None,
                  pipeline: str | None = None, notebook: str | None = None,
                  parameters: dict | None = None, q: str | None = None,
                  since: str | datetime | None = None, until: str | datetime | None = None,
                  limit: int = 50, offset: int = 0, cursor: str | None = None) -> dict:
        """Runs, newest first (by creation time, then id), with filters, every one answered
        by the database; ``q`` searches the run id, the notebook path and the text of cells
        and outputs; ``since``/``until`` bound the creation time (ISO 8601, UTC when no
        offset is given; ``since`` included, ``until`` excluded).

        Pages by ``cursor`` (the ``next_cursor`` of the previous page: flat in depth, no
        duplicates or gaps when runs are added meanwhile) or by ``offset``. Returns
        {"items", "total", "total_exact", "limit", "offset", "next_cursor"}: the items are
        summaries (no environment nor attempt history; ``get_run`` has them); ``total``
        counts the matching runs exactly up to RUN_TOTAL_CAP, beyond which it is
        RUN_TOTAL_CAP with ``total_exact`` false."""
        limit = _page_int("limit", limit, 1, MAX_PAGE)
        offset = _page_int("offset", offset, 0, None)
        after = _decode_cursor(cursor) if cursor else None
        if after is not None and offset:
            raise InvalidInput("offset and cursor: give one or the other, not both")
        since_at, until_at = _time_arg("since", since), _time_arg("until", until)
        with self.ws.catalog.read_session() as s:
            stmt = self._readable_runs(select(Run))
            if job:
                stmt = stmt.where(Run.job_id == self._job(s, job).id)
            if state:
                states = [state] if isinstance(state, str) else list(state)
                states = [x for st in states for x in st.split(",") if x]
                bad = [x for x in states if x not in ALL_STATES]
                if bad:
                    raise InvalidInput(f"unknown state {bad[0]!r}: choose from "
                                       f"{', '.join(ALL_STATES)}")
                stmt = stmt.where(Run.state.in_(states))
            if trigger:
                if trigger not in ALL_TRIGGERS:
                    raise InvalidInput(f"unknown trigger {trigger!r}: choose from "
                                       f"{', '.join(ALL_TRIGGERS)}")
                stmt = stmt.where(Run.trigger == trigger)
            if owner:
                stmt = stmt.where(Run.owner == owner)
            if sweep:
                stmt = stmt.where(Run.sweep_id == sweep)
            if pipeline:
                stmt = stmt.where(Run.pipeline_id == pipeline)
            if notebook:
                stmt = stmt.where(Run.notebook.icontains(notebook, autoescape=True))
            if q:
                stmt = stmt.where(or_(Run.notebook.icontains(q, autoescape=True),
                                      Run.output_text.icontains(q, autoescape=True),
                                      Run.id == q))
            # The order (creation time, id) is read from the table the search starts from: the
            # tag's or the first parameter's rows (they hold their run's time, so they come
            # newest first from their index), else the runs. Other parameters are checks.
            at_col, id_col = Run.created_at, Run.id
            if tag:
                stmt = stmt.join(RunTag, (RunTag.run_id == Run.id) & (RunTag.tag == tag))
                at_col, id_col = RunTag.created_at, RunTag.run_id
            for i, (name, value) in enumerate((parameters or {}).items()):
                if i == 0 and not tag:
                    stmt = stmt.join(RunParam, (RunParam.run_id == Run.id)
                                     & (RunParam.name == name)
                                     & (RunParam.value_text == param_text(value)))
                    at_col, id_col = RunParam.created_at, RunParam.run_id
                else:   # checked per run found (EXISTS): never where the search starts
                    other = aliased(RunParam)
                    stmt = stmt.where(select(other.run_id).where(
                        other.run_id == Run.id, other.name == name,
                        other.value_text == param_text(value)).exists())
            if since_at is not None:
                stmt = stmt.where(at_col >= since_at)
            if until_at is not None:
                stmt = stmt.where(at_col < until_at)
            # the total, counted up to the cap (a count of 100,000 rows costs more than a page)
            capped = stmt.with_only_columns(Run.id).limit(RUN_TOTAL_CAP + 1).subquery()
            total = s.scalar(select(func.count()).select_from(capped)) or 0
            if after is not None:
                at, last_id = after
                # "created_at <= at" is an index range; the OR only sorts out the ties
                stmt = stmt.where(at_col <= at, or_(at_col < at, id_col < last_id))
            # the page's ids first (from indexes alone), then those rows (wide: read only 50)
            ids = list(s.scalars(stmt.with_only_columns(id_col)
                                 .order_by(at_col.desc(), id_col.desc())
                                 .limit(limit + 1).offset(offset if after is None else 0)))
            more = len(ids) > limit
            ids = ids[:limit]
            found = {r.id: r for r in s.scalars(
                select(Run).where(Run.id.in_(ids)).options(
                    defer(Run.environment), defer(Run.output_text), defer(Run.history)))}
            rows = [found[i] for i in ids]
            names = self._names(s, [r.job_id for r in rows if r.job_id])
            metrics = self._metrics(s, [r.id for r in rows])
            items = [run_to_dict(r, job_name=names.get(r.job_id), metrics=metrics.get(r.id, {}),
                                 summary=True) for r in rows]
        return {"items": items, "total": min(total, RUN_TOTAL_CAP),
                "total_exact": total <= RUN_TOTAL_CAP, "limit": limit,
                "offset": offset if after is None else 0,
                "next_cursor": _encode_cursor(rows[-1]) if more else None}

    def run_output(self, run_id: str) -> bytes:
        """The output notebook (.ipynb bytes); while the run goes, as of its last cell."""
        with self.ws.catalog.read_session() as s:
            run = self._readable_run(s, run_id)
            key = run.output_key
        if not key or not self.ws.artifacts.exists(key):
            raise NotFound(f"run {run_id} has no output notebook yet (state {run.state})")
        return self.ws.artifacts.get(key)

    def run_input(self, run_id: str) -> bytes:
        with self.ws.catalog.read_session() as s:
            key = self._readable_run(s, run_id).snapshot_key
        return self.ws.artifacts.get(key)

    def run_log(self, run_id: str, offset: int = 0, limit: int = 10_000) -> dict:
        """Log lines after ``offset``: {"lines": [{offset, at, stream, text}], "next_offset",
        "state"}; poll with the returned next_offset to follow a running run."""
        with self.ws.catalog.read_session() as s:
            run = self._readable_run(s, run_id)
            rows = list(s.scalars(select(RunLogLine).where(
                RunLogLine.run_id == run_id, RunLogLine.id > int(offset))
                .order_by(RunLogLine.id).limit(limit)))
        return {"run_id": run_id, "state": run.state,
                "lines": [{"offset": r.id, "at": r.at.isoformat(), "stream": r.stream,
                           "text": r.text} for r in rows],
                "next_offset": rows[-1].id if rows else int(offset)}

    def run_artifacts(self, run_id: str) -> list[dict]:
        with self.ws.catalog.read_session() as s:
            self._readable_run(s, run_id)
        prefix = f"runs/{run_id}/artifacts"
        out = []
        for key in self.ws.artifacts.list(prefix):
            info = self.ws.artifacts.stat(key)
            out.append({"name": key[len(prefix) + 1:], "key": key, "size": info.size,
                        "metadata": info.metadata})
        return out

    # -- acting on runs ---------------------------------------------------------------------
    @shared_write("jobs.cancel", target="run_id", summary="cancel run {run_id}",
                  stand_in=lambda self, args, entry: _captured_run(entry, args))
    def cancel_run(self, run_id: str) -> dict:
        """Cancel a pending run at once; ask a running one's worker to kill its kernel."""
        with self.ws.catalog.session() as s:
            run = self._readable_run(s, run_id)
            self._check_owner(run)
            if run.state in FINAL_STATES:
                raise Conflict(f"run {run_id} already ended ({run.state})")
            run.cancel_requested = True
            if run.state in PENDING_STATES:
                run.state = RunState.CANCELLED.value
                run.finished_at = utcnow()
                run.error = {"type": "Cancelled", "message": f"cancelled by {self.ws.user}"}
            s.flush()
            return run_to_dict(run)

    @shared_write("jobs.retry", target="run_id", summary="retry run {run_id}",
                  stand_in=lambda self, args, entry: _captured_run(entry, args))
    @_wakes_schedulers
    def retry_run(self, run_id: str) -> dict:
        """A new run of the same snapshot and parameters (trigger "retry")."""
        with self.ws.catalog.session() as s:
            old = self._readable_run(s, run_id)
            self._check_owner(old)
            if old.state not in FINAL_STATES:
                raise Conflict(f"run {run_id} has not ended ({old.state}); cancel it first")
            self._check_queue_quota(s, old.owner, 1)
            new = self._new_run(owner=old.owner, notebook=old.notebook,
                                parameters=old.parameters, trigger=Trigger.RETRY.value,
                                state=RunState.QUEUED.value, now=utcnow(), like=old,
                                snapshot_key=old.snapshot_key, cwd=old.cwd,
                                job_id=old.job_id, attempt=old.attempt + 1, retry_of=old.id,
                                sweep_id=old.sweep_id)
            s.add(new)
            s.flush()
            return run_to_dict(new)

    def wait(self, run_id: str, timeout: float | None = None, poll: float = 0.2,
             on_update=None) -> dict:
        """Block until the run ends; returns it (with its metrics). ``on_update(run)`` is
        called whenever its state or progress changes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last = None
        while True:
            run = self.get_run(run_id)
            marker = (run["state"], json.dumps(run["progress"], sort_keys=True))
            if on_update is not None and marker != last:
                on_update(run)
            last = marker
            if run["state"] in FINAL_STATES:
                return run
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {run['state']} after {timeout} s")
            time.sleep(poll)

    # -- inside a run ----------------------------------------------------------------------
    def log_metric(self, run_id: str, name: str, value: float, step: int | None = None) -> None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"metric {name} must be a number, got {value!r}") from None
        if not name or len(name) > 200:
            raise InvalidInput("metric name must be 1 to 200 characters")
        with self.ws.catalog.session() as s:
            self._run(s, run_id)
            s.add(RunMetric(run_id=run_id, name=str(name), value=number,
                            step=None if step is None else int(step), logged_at=utcnow()))

    def log_artifact(self, run_id: str, name: str, data: bytes,
                     metadata: dict | None = None) -> dict:
        key = f"runs/{run_id}/artifacts/{name}"
        with self.ws.catalog.read_session() as s:
            self._run(s, run_id)
        return self.ws.artifacts.put(key, data, metadata=metadata).to_dict()


def _captured_run(entry: dict, args: dict) -> dict:
    """The stand-in of a captured run submission: no run exists (its id is empty)."""
    return captured_result(entry, id="", state="captured",
                           notebook=args.get("notebook") or args.get("name")
                           or args.get("job") or args.get("ref") or "",
                           parameters=args.get("parameters") or {}, run_ids=[])


# Run search pages: at most MAX_PAGE rows; totals counted exactly up to RUN_TOTAL_CAP (a
# count costs a lookup per matching run: ~20 ms for 1,000 at 100,000 runs on SQLite).
MAX_PAGE = 1000
RUN_TOTAL_CAP = 1000


def _page_int(name: str, value, minimum: int, maximum: int | None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be an integer, got {value!r}") from None
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise InvalidInput(f"{name} must be {bound}, got {number}")
    return number


def _time_arg(name: str, value) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, datetime):
        text_value = str(value).strip()
        try:
            value = datetime.fromisoformat(text_value[:-1] + "+00:00"
                                           if text_value[-1:] in ("Z", "z") else text_value)
        except ValueError:
            raise InvalidInput(f"{name} must be an ISO 8601 time such as "
                               f"2026-01-31T12:00:00Z, got {quote(text_value)}") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _encode_cursor(run: Run) -> str:
    raw = json.dumps([run.created_at.isoformat(), run.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, id) of the last row of a page, from its ``next_cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, run_id = json.loads(raw)
        at = datetime.fromisoformat(at)
        if at.tzinfo is None or not isinstance(run_id, str):
            raise ValueError(cursor)
        return at, run_id
    except (ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput(f"cursor {quote(cursor[:80])} is not a next_cursor this server "
                           f"gave; start again without one") from None


def expand_grid(grid: dict | list | None) -> list[dict]:
    if isinstance(grid, dict):
        if not grid:
            raise InvalidInput("the sweep grid is empty")
        names = list(grid)
        values = []
        for name in names:
            vals = grid[name]
            if not isinstance(vals, (list, tuple)):
                vals = [vals]
            if not vals:
                raise InvalidInput(f"the sweep grid gives no values for {name}")
            values.append(list(vals))
        combos = [dict(zip(names, combo)) for combo in itertools.product(*values)]
    elif isinstance(grid, (list, tuple)):
        if not grid or not all(isinstance(c, dict) for c in grid):
            raise InvalidInput("a sweep list must be a non-empty list of parameter dicts")
        combos = [dict(c) for c in grid]
    else:
        raise InvalidInput("a sweep needs a grid {name: [values]} or a list of parameter dicts")
    if len(combos) > 10_000:
        raise InvalidInput(f"the sweep has {len(combos)} runs; at most 10000")
    return combos
