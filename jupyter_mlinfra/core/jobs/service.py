"""The jobs service: job definitions, run submission, sweeps, listing and search of runs.

    jobs = workspace.service("jobs")
    jobs.create_job("train", "train.ipynb", parameters={"lr": 0.1}, schedule="0 6 * * *",
                    timezone="Europe/Paris", depends_on=["prepare"])
    run = jobs.submit("train.ipynb", parameters={"lr": 0.2})   # a run of a notebook
    run = jobs.wait(run["id"])                                   # its final state and metrics
    sweep = jobs.sweep("train.ipynb", {"lr": [0.1, 0.2]})
    jobs.sweep_results(sweep["id"])                              # a pandas DataFrame

Runs are executed by a scheduler (:mod:`.scheduler`) running in the Jupyter server or as
``jupyter mlinfra scheduler``; ``run_and_wait(..)`` executes a run in this process when no
scheduler serves the catalog.

This class is the facade every door calls; the work is done by the modules beside it:

- :mod:`.specs`: the typed values (``JobSpec``, ``RunOptions``) parsed from what doors give;
- :mod:`.definitions`: job definitions in the catalog;
- :mod:`.submission`: runs of notebooks, of jobs (their DAG expanded), sweeps, retries;
- :mod:`.quotas`: the per-user quotas in force and the queue check;
- :mod:`.runs`: reading and searching runs, their output, log and artifacts;
- :mod:`.local`: waiting for runs (executing them here when no scheduler serves);
- :mod:`.scheduler`, :mod:`.executors` (a registry: local, dask, inline, noop, and entry
  points), :mod:`.execution` (one attempt of one run), :mod:`.kernels`: executing runs.

Length (over ~500 lines): the facade: one short method per public operation of jobs (its length is the API's breadth; the work is in definitions, submission, quotas and runs).
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..catalog.schema import utcnow
from ..errors import InvalidInput
from ..shared_writes import captured_result, shared_write
from ..times import to_iso_z
from . import definitions, runs, submission
from . import quotas as quota_rules
from .metric_writer import MetricWriterSlot, checked_metric
from .specs import RunOptions, root_dir
from .states import ALL_STATES, Trigger
from .tables import JobDefinition, Run, SchedulerRecord


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


def _captured_run(entry: dict, args: dict) -> dict:
    """The stand-in of a captured run submission: no run exists (its id is empty)."""
    return captured_result(
        entry,
        id="",
        state="captured",
        notebook=args.get("notebook")
        or args.get("name")
        or args.get("job")
        or args.get("ref")
        or "",
        parameters=args.get("parameters") or {},
        run_ids=[],
    )


def _one_of(notebook: str | None, job: str | None) -> None:
    if (notebook is None) == (job is None):
        raise InvalidInput("give a notebook path or a job name (not both)")


class JobsService:
    def __init__(self, workspace) -> None:
        self.ws = workspace
        self._metrics = MetricWriterSlot()  # shared with the per-user views

    # -- settings, quotas, status -----------------------------------------------------------
    @property
    def settings(self):
        return self.ws.config.settings

    @property
    def root_dir(self) -> Path:
        return root_dir(self.settings)

    def publish_quotas(self, by: str = "") -> dict:
        """Write this process's quota settings into the catalog, where every submission and
        every scheduler reads them. Serving schedulers (the server's, ``jupyter mlinfra
        scheduler``) and a server without a scheduler do this when they start: the quotas
        are those of the deployment's configuration, not of the submitting process."""
        return quota_rules.publish_quotas(self.ws, by)

    def quotas(self, s: Session | None = None) -> dict:
        """The quotas in force: those published in the catalog (``source: catalog``), or,
        on a catalog where no server or scheduler published any, this process's own
        configuration (``source: local``)."""
        return quota_rules.quotas_in_force(self.ws, s)

    def quota_for(
        self, user: str, s: Session | None = None, *, quotas: dict | None = None
    ) -> dict[str, int]:
        """``user``'s max_running and max_queued (0: no limit) under the quotas in force."""
        return quota_rules.quota_for(user, quotas if quotas is not None else self.quotas(s))

    def status(self) -> dict:
        with self.ws.catalog.read_session() as s:
            counts = dict(s.execute(select(Run.state, func.count()).group_by(Run.state)).all())
            jobs = s.scalar(select(func.count()).select_from(JobDefinition)) or 0
            scheduled = (
                s.scalar(
                    select(func.count())
                    .select_from(JobDefinition)
                    .where(JobDefinition.schedule.is_not(None), JobDefinition.active.is_(True))
                )
                or 0
            )
        return {
            "jobs": jobs,
            "scheduled_jobs": scheduled,
            "runs": {state: int(counts.get(state, 0)) for state in ALL_STATES},
            "executor": self.settings.jobs_executor,
            "root_dir": str(self.root_dir),
            "schedulers_alive": sum(1 for r in self.schedulers() if r["serving"]),
        }

    def schedulers(self, *, include_gone: bool = False) -> list[dict]:
        """The schedulers serving this catalog (in servers and ``jupyter mlinfra scheduler``
        daemons), alive ones first: each renews its record every few seconds, so one that
        died is gone once its ``expires_at`` has passed. ``serving`` is False for the
        short-lived schedulers ``run --wait`` starts for its own runs."""
        now = utcnow()
        with self.ws.catalog.read_session() as s:
            stmt = select(SchedulerRecord).order_by(SchedulerRecord.heartbeat_at.desc())
            if not include_gone:
                stmt = stmt.where(
                    SchedulerRecord.expires_at > now, SchedulerRecord.stopped_at.is_(None)
                )
            rows = list(s.scalars(stmt.limit(200)))
        return [
            {
                "id": r.id,
                "host": r.host,
                "pid": r.pid,
                "executor": r.executor,
                "serving": r.serving,
                "alive": r.stopped_at is None and r.expires_at > now,
                "doorbell_port": r.doorbell_port,
                "started_at": to_iso_z(r.started_at),
                "heartbeat_at": to_iso_z(r.heartbeat_at),
                "stopped_at": to_iso_z(r.stopped_at),
            }
            for r in rows
        ]

    # -- job definitions --------------------------------------------------------------------
    @shared_write(
        "jobs.create",
        summary="create job {name} ({notebook})",
        stand_in=lambda self, args, entry: captured_result(
            entry,
            id="",
            name=args["name"],
            notebook=args["notebook"],
            schedule=args.get("schedule"),
            timezone=args.get("timezone") or "UTC",
            next_fire_times=[],
        ),
    )
    def create_job(self, name: str, notebook: str, *, base: str | None = None, **spec: Any) -> dict:
        """A new job of this identity: ``spec`` holds the JOB_FIELDS (and ``resources``,
        ``root_dir``); every field is checked before anything is written."""
        return definitions.create_job(self.ws, name, notebook, base=base, **spec)

    @shared_write(
        "jobs.update",
        target="ref",
        summary="update job {ref}",
        stand_in=lambda self, args, entry: captured_result(entry, name=args["ref"]),
    )
    def update_job(self, ref: str, *, base: str | None = None, **changes: Any) -> dict:
        return definitions.update_job(self.ws, ref, base=base, **changes)

    @shared_write(
        "jobs.pause",
        target="ref",
        summary="pause job {ref}",
        stand_in=lambda self, args, entry: captured_result(entry, name=args["ref"]),
    )
    def pause_job(self, ref: str) -> dict:
        return self.update_job(ref, active=False)

    @shared_write(
        "jobs.resume",
        target="ref",
        summary="resume job {ref}",
        stand_in=lambda self, args, entry: captured_result(entry, name=args["ref"]),
    )
    def resume_job(self, ref: str) -> dict:
        return self.update_job(ref, active=True)

    @shared_write(
        "jobs.delete",
        target="ref",
        summary="delete job {ref}",
        stand_in=lambda self, args, entry: None,
    )
    def delete_job(self, ref: str) -> None:
        definitions.delete_job(self.ws, ref)

    def get_job(self, ref: str) -> dict:
        return definitions.get_job(self.ws, ref)

    def list_jobs(
        self,
        *,
        owner: str | None = None,
        tag: str | list[str] | None = None,
        active: bool | None = None,
        q: str | None = None,
    ) -> list[dict]:
        return definitions.list_jobs(self.ws, owner=owner, tag=tag, active=active, q=q)

    def list_jobs_page(
        self,
        *,
        owner: str | None = None,
        tag: str | list[str] | None = None,
        active: bool | None = None,
        q: str | None = None,
        limit: Any = None,
        offset: Any = None,
        cursor: str | None = None,
    ) -> dict:
        """One page of ``list_jobs`` (by name): the envelope of :mod:`..paging`, paged by
        the database (a tag filter is checked per job, then paged in memory)."""
        return definitions.list_jobs_page(
            self.ws,
            owner=owner,
            tag=tag,
            active=active,
            q=q,
            limit=limit,
            offset=offset,
            cursor=cursor,
        )

    def preview_schedule(self, schedule: str, timezone_name: str = "UTC", count: int = 5) -> dict:
        """What a schedule picker shows: the expression checked and its next fire times."""
        return definitions.preview_schedule(schedule, timezone_name, count)

    def notebook_parameters(self, notebook: str, base: str | None = None) -> dict:
        """The parameters cell of a notebook under the root, typed as papermill infers it."""
        return definitions.notebook_parameters(self.ws, notebook, base)

    # -- submitting runs --------------------------------------------------------------------
    @shared_write(
        "jobs.submit",
        target=("notebook", "job"),
        summary="submit a run of {notebook}{job}",
        stand_in=lambda self, args, entry: _captured_run(entry, args),
    )
    @_wakes_schedulers
    def submit(
        self,
        notebook: str | None = None,
        *,
        job: str | None = None,
        parameters: dict | None = None,
        base: str | None = None,
        trigger: str = Trigger.MANUAL.value,
        **options: Any,
    ) -> dict:
        """Queue one run of a notebook (or of a job, with its downstream pipeline).

        ``parameters`` are checked against the notebook's parameters cell; options:
        priority, cpus, memory, retries, retry_backoff, timeout, tags, kernel_name.
        """
        _one_of(notebook, job)
        if job is not None:
            return self.run_job(job, parameters=parameters, trigger=trigger, **options)
        assert notebook is not None
        return submission.submit_notebook(
            self.ws,
            notebook,
            parameters=parameters,
            base=base,
            trigger=trigger,
            options=RunOptions.parse(options, self.settings),
        )

    @shared_write(
        "jobs.submit",
        target="name",
        summary="submit a run of {name}",
        stand_in=lambda self, args, entry: _captured_run(entry, args),
    )
    @_wakes_schedulers
    def submit_content(
        self,
        content: bytes | str | Any,
        *,
        name: str = "snapshot.ipynb",
        parameters: dict | None = None,
        cwd: str | None = None,
        trigger: str = Trigger.MANUAL.value,
        **options: Any,
    ) -> dict:
        """Queue a run of notebook *content* (bytes, JSON text or an nbformat node) rather
        than of a file: how the model store re-runs a registered notebook snapshot. Its
        parameters are checked against the content's parameters cell; ``cwd`` defaults to
        the root."""
        return submission.submit_content(
            self.ws,
            content,
            name=name,
            parameters=parameters,
            cwd=cwd,
            trigger=trigger,
            options=RunOptions.parse(options, self.settings),
        )

    def run_and_wait(self, run_id: str, timeout: float | None = None) -> dict:
        """Wait for a run (executing it in this process when no scheduler takes it); the
        final run with its metrics."""
        from .local import wait_with_local_scheduler

        return wait_with_local_scheduler(self.ws, [run_id], timeout=timeout)[0]

    @shared_write(
        "jobs.run",
        target="ref",
        summary="run job {ref}",
        stand_in=lambda self, args, entry: _captured_run(entry, args),
    )
    @_wakes_schedulers
    def run_job(
        self,
        ref: str,
        *,
        parameters: dict | None = None,
        trigger: str = Trigger.MANUAL.value,
        **options: Any,
    ) -> dict:
        """Run a job now: its run is queued and every downstream job gets a waiting run in
        the same pipeline. Returns the job's run (with ``pipeline_run_ids``).

        Each run is its own job's owner's (its kernel acts as that user), whoever triggered
        it, so running another user's job takes a role that may change it (admin); others
        are refused rather than run their notebook as them."""
        return submission.run_job(
            self.ws,
            ref,
            parameters=parameters,
            trigger=trigger,
            options=RunOptions.parse(options, self.settings),
        )

    @shared_write(
        "jobs.sweep",
        target=("notebook", "job"),
        summary="sweep {notebook}{job}",
        stand_in=lambda self, args, entry: captured_result(
            entry,
            id="",
            notebook=args["notebook"] or args["job"],
            run_ids=[],
            runs=[],
            grid=args["grid"],
        ),
    )
    @_wakes_schedulers
    def sweep(
        self,
        notebook: str | None = None,
        grid: dict | list | None = None,
        *,
        job: str | None = None,
        parameters: dict | None = None,
        base: str | None = None,
        **options: Any,
    ) -> dict:
        """One run per parameter combination: ``grid`` is {name: [values]} (the product) or a
        list of parameter dicts; ``parameters`` are fixed ones added to every run."""
        _one_of(notebook, job)
        combos = submission.expand_grid(grid)
        return submission.sweep(
            self.ws,
            notebook,
            combos,
            job=job,
            parameters=parameters,
            base=base,
            options=RunOptions.parse(options, self.settings),
        )

    @shared_write(
        "jobs.retry",
        target="run_id",
        summary="retry run {run_id}",
        stand_in=lambda self, args, entry: _captured_run(entry, args),
    )
    @_wakes_schedulers
    def retry_run(self, run_id: str) -> dict:
        """A new run of the same snapshot and parameters (trigger "retry")."""
        return submission.retry_run(self.ws, run_id)

    @shared_write(
        "jobs.cancel",
        target="run_id",
        summary="cancel run {run_id}",
        stand_in=lambda self, args, entry: _captured_run(entry, args),
    )
    def cancel_run(self, run_id: str) -> dict:
        """Cancel a pending run at once; ask a running one's worker to kill its kernel."""
        return runs.cancel_run(self.ws, run_id)

    def wait(
        self, run_id: str, timeout: float | None = None, poll: float = 0.2, on_update=None
    ) -> dict:
        """Block until the run ends (executed by whichever scheduler takes it); returns it
        (with its metrics). ``on_update(run)`` is called whenever its state or progress
        changes. ``run_and_wait`` also executes it here when no scheduler serves."""
        from .local import wait_with_local_scheduler

        return wait_with_local_scheduler(
            self.ws, [run_id], timeout=timeout, execute_here=False, on_update=on_update, poll=poll
        )[0]

    # -- reading runs -----------------------------------------------------------------------
    def sweep_results(self, sweep_id: str):
        """A pandas DataFrame, one row per run: run_id, state, the parameters, duration (s)
        and every logged metric (its last value)."""
        return runs.sweep_results(self.ws, sweep_id)

    def sweep_rows(self, sweep_id: str) -> tuple[list[str], list[dict]]:
        """The columns and rows (dicts) of :meth:`sweep_results`, without pandas."""
        return runs.sweep_rows(self.ws, sweep_id)

    def get_run(self, run_id: str) -> dict:
        return runs.get_run(self.ws, run_id)

    def list_runs(
        self,
        *,
        job: str | None = None,
        state: str | list[str] | None = None,
        owner: str | None = None,
        trigger: str | None = None,
        tag: str | list[str] | None = None,
        sweep: str | None = None,
        pipeline: str | None = None,
        notebook: str | None = None,
        parameters: dict | None = None,
        q: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        limit: int = 50,
        offset: int = 0,
        cursor: str | None = None,
    ) -> dict:
        """Runs, newest first (by creation time, then id), with filters, every one answered
        by the database; ``q`` searches the run id, the notebook path and the text of cells
        and outputs; ``since``/``until`` bound the creation time (ISO 8601, UTC when no
        offset is given; ``since`` included, ``until`` excluded).

        Pages by ``cursor`` (the ``next_cursor`` of the previous page, given back with the
        same filters - other filters are an ``InvalidInput``: flat in depth, no duplicates or
        gaps when runs are added meanwhile) or by ``offset``. Returns {"items", "total",
        "total_exact", "limit", "offset", "next_cursor"}: the items are summaries (no
        environment nor attempt history; ``get_run`` has them); ``total`` is a bounded count
        (at most RUN_COUNT_BUDGET runs of the index of the most selective filter checked, at
        most RUN_TOTAL_CAP matches counted): ``total_exact`` false means it is a lower bound."""
        return runs.list_runs(
            self.ws,
            job=job,
            state=state,
            owner=owner,
            trigger=trigger,
            tag=tag,
            sweep=sweep,
            pipeline=pipeline,
            notebook=notebook,
            parameters=parameters,
            q=q,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
            cursor=cursor,
        )

    def run_output(self, run_id: str) -> bytes:
        """The output notebook (.ipynb bytes); while the run goes, as of its last cell."""
        return runs.run_output(self.ws, run_id)

    def run_input(self, run_id: str) -> bytes:
        return runs.run_input(self.ws, run_id)

    def run_log(self, run_id: str, offset: int = 0, limit: int = 10_000) -> dict:
        """Log lines after ``offset``: {"lines": [{offset, at, stream, text}], "next_offset",
        "state"}; poll with the returned next_offset to follow a running run."""
        return runs.run_log(self.ws, run_id, offset, limit)

    def run_artifacts(self, run_id: str) -> list[dict]:
        return runs.run_artifacts(self.ws, run_id)

    def run_artifact(self, run_id: str, name: str, limit: int | None = None) -> dict:
        """An artifact's bytes (the first ``limit``): {"name", "size", "data", "truncated"}."""
        return runs.run_artifact(self.ws, run_id, name, limit)

    # -- inside a run ----------------------------------------------------------------------
    def log_metric(self, run_id: str, name: str, value: float, step: int | None = None) -> None:
        writer = self._metrics.get(self.ws)  # a SQLite catalog: one INSERT, no ORM session
        if writer is not None and writer.write(run_id, *checked_metric(name, value, step)):
            return
        runs.log_metric(self.ws, run_id, name, value, step)

    def close(self) -> None:
        self._metrics.close()

    def log_artifact(
        self, run_id: str, name: str, data: bytes, metadata: dict | None = None
    ) -> dict:
        return runs.log_artifact(self.ws, run_id, name, data, metadata)
