"""Run states and triggers, and the one place that decides what happens when an attempt ends."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

from ..catalog.schema import utcnow
from ..times import to_iso_z
from .tables import JobDefinition, Run, RunLogLine


class RunState(str, Enum):
    QUEUED = "queued"
    WAITING = "waiting"  # on upstream runs of the same pipeline
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UPSTREAM_FAILED = "upstream_failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    def __str__(self) -> str:
        return self.value


class Trigger(str, Enum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    DEPENDENCY = "dependency"
    SWEEP = "sweep"
    RETRY = "retry"

    def __str__(self) -> str:
        return self.value


FINAL_STATES = frozenset(
    {
        RunState.SUCCEEDED.value,
        RunState.FAILED.value,
        RunState.UPSTREAM_FAILED.value,
        RunState.CANCELLED.value,
        RunState.TIMED_OUT.value,
    }
)
PENDING_STATES = frozenset({RunState.QUEUED.value, RunState.WAITING.value})
ALL_STATES = tuple(s.value for s in RunState)
ALL_TRIGGERS = tuple(t.value for t in Trigger)


def backoff_delay(base: float, failed_attempt: int) -> float:
    """Exponential back-off before the retry of a failed attempt: ``base`` (the run's
    ``retry_backoff``) x 2^(failed_attempt-1) seconds, capped at one hour."""
    return min(3600.0, float(base or 0) * (2 ** max(0, failed_attempt - 1)))


# A run whose worker was lost (its scheduler or worker process died) while its notebook ran
# is retried at least this many times, whatever its ``retries``, and without the backoff: the
# failure was not the notebook's.
LOST_WORKER_RETRIES = 1
# A run lost before its first cell goes back to the queue on the same attempt, at most this
# many times per attempt (then the loss counts as a failed attempt: a run that keeps taking
# its worker down must end).
MAX_REQUEUES = 3


def cells_started(run: Run) -> bool:
    """Whether the current attempt's kernel has started a cell of the notebook (the worker
    marks it before the first cell: ``execution.execute_run``)."""
    progress = run.progress or {}
    return bool(progress.get("cell_started")) or int(progress.get("executed") or 0) > 0


def requeue_unstarted(run: Run, why: str, now: datetime | None = None) -> bool:
    """Put a run whose worker was lost before its first cell back in the queue, on the same
    attempt (nothing of the notebook ran). False, leaving the run alone, when a cell had
    started or the attempt was already put back ``MAX_REQUEUES`` times."""
    if cells_started(run) or run.cancel_requested:
        return False
    history = list(run.history or [])
    if (
        sum(1 for h in history if h.get("state") == "requeued" and h.get("attempt") == run.attempt)
        >= MAX_REQUEUES
    ):
        return False
    now = now or utcnow()
    _close_attempt(run, "requeued", {"type": "WorkerLost", "message": why}, now)
    _back_in_queue(run, now, not_before=None)
    return True


def _close_attempt(run: Run, state: str, error: dict | None, now: datetime) -> None:
    """Append the current attempt to the run's history."""
    run.history = list(run.history or []) + [
        {
            "attempt": run.attempt,
            "state": state,
            "error": error,
            "worker": run.worker,
            "started_at": iso(run.started_at),
            "finished_at": iso(now),
        }
    ]


def _back_in_queue(run: Run, now: datetime, not_before: datetime | None) -> None:
    run.state = RunState.QUEUED.value
    run.queued_at = now
    run.not_before = not_before
    run.worker = None
    run.lease_expires_at = None
    run.started_at = None
    run.progress = {}


def put_back_held(catalog, held: dict[str, str], why: str) -> None:
    """Put runs an executor still holds (``{slot: run id}``) back in the queue, on the same
    attempt, each with a log line saying ``why``: when their scheduler or waiting process
    stops. Only a run still running on that slot is touched; its own later writes are
    conditional on owning it, so its attempt ends as "lost"."""
    from sqlalchemy import update

    if not held:
        return
    with catalog.session() as s:
        for slot, run_id in held.items():
            done = s.execute(
                update(Run)
                .where(Run.id == run_id, Run.worker == slot, Run.state == RunState.RUNNING.value)
                .values(
                    state=RunState.QUEUED.value,
                    worker=None,
                    lease_expires_at=None,
                    started_at=None,
                    progress={},
                    queued_at=utcnow(),
                )
            )
            if getattr(done, "rowcount", 0) == 1:
                s.add(
                    RunLogLine(
                        run_id=run_id,
                        at=utcnow(),
                        stream="log",
                        text=f"{why}: run put back in the queue",
                    )
                )


def end_attempt(
    run: Run, state: str, error: dict | None = None, now: datetime | None = None
) -> str:
    """Record the end of the current attempt. Failures and time-outs with retries left put
    the run back in the queue (attempt + 1, after the backoff); returns the new state. A
    lost worker (error type ``WorkerLost``) has at least ``LOST_WORKER_RETRIES`` retries,
    queued at once."""
    now = now or utcnow()
    lost = error is not None and error.get("type") == "WorkerLost"
    allowed = max(int(run.retries or 0), LOST_WORKER_RETRIES if lost else 0)
    if (
        state in (RunState.FAILED.value, RunState.TIMED_OUT.value)
        and run.attempt <= allowed
        and not run.cancel_requested
    ):
        _close_attempt(run, state, error, now)
        run.attempt += 1
        run.error = error
        _back_in_queue(
            run,
            now,
            not_before=now
            + timedelta(seconds=0.0 if lost else backoff_delay(run.retry_backoff, run.attempt - 1)),
        )
        return run.state
    run.state = state
    run.error = error
    run.finished_at = now
    run.lease_expires_at = None
    return state


def job_to_dict(
    job: JobDefinition,
    *,
    names: dict[str, str] | None = None,
    next_fire_times: list[datetime] | None = None,
) -> dict:
    names = names or {}
    return {
        "id": job.id,
        "name": job.name,
        "owner": job.owner,
        "description": job.description,
        "notebook": job.notebook,
        "root_dir": job.root_dir,
        "parameters": job.parameters or {},
        "kernel_name": job.kernel_name,
        "schedule": job.schedule,
        "timezone": job.timezone,
        "catchup": job.catchup,
        "depends_on": [names.get(j, j) for j in (job.depends_on or [])],
        "depends_on_ids": list(job.depends_on or []),
        "priority": job.priority,
        "resources": {"cpus": job.cpus, "memory_mb": job.memory_mb},
        "retries": job.retries,
        "retry_backoff": job.retry_backoff,
        "timeout": job.timeout,
        # durations are named *_seconds (the API contract); the bare names stay for old callers
        "retry_backoff_seconds": job.retry_backoff,
        "timeout_seconds": job.timeout,
        "tags": list(job.tags or []),
        "active": job.active,
        "visibility": job.visibility,
        "team": job.team,
        "next_fire_at": iso(job.next_fire_at),
        "next_fire_times": [iso(t) for t in (next_fire_times or [])],
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
    }


def run_to_dict(
    run: Run, *, job_name: str | None = None, metrics: dict | None = None, summary: bool = False
) -> dict:
    """A run as JSON; ``summary`` (a row of a list) leaves out its environment (the package
    list) and the history of earlier attempts, which only the run's own page shows."""
    duration = None
    if run.started_at:
        end = run.finished_at or utcnow()
        duration = round((end - run.started_at).total_seconds(), 3)
    out = {
        "id": run.id,
        "job_id": run.job_id,
        "job_name": job_name,
        "owner": run.owner,
        "notebook": run.notebook,
        "parameters": run.parameters or {},
        "kernel_name": run.kernel_name,
        "state": run.state,
        "trigger": run.trigger,
        "attempt": run.attempt,
        "retries": run.retries,
        "priority": run.priority,
        # what the run does now, in words a page shows (see run_phase); attempts it may make
        "phase": run_phase(run),
        "max_attempts": int(run.retries or 0) + 1,
        "resources": {"cpus": run.cpus, "memory_mb": run.memory_mb},
        "timeout": run.timeout,
        "tags": list(run.tags or []),
        "pipeline_id": run.pipeline_id,
        "upstream_run_ids": list(run.upstream_run_ids or []),
        "sweep_id": run.sweep_id,
        "retry_of": run.retry_of,
        "tick_key": run.tick_key,
        "created_at": iso(run.created_at),
        "queued_at": iso(run.queued_at),
        "not_before": iso(run.not_before),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration": duration,
        "duration_seconds": duration,
        "timeout_seconds": run.timeout,
        "worker": run.worker,
        "cancel_requested": run.cancel_requested,
        "progress": run.progress or {},
        "error": run.error,
        "snapshot_key": run.snapshot_key,
        "output_key": run.output_key,
        "metrics": metrics if metrics is not None else {},
        "visibility": run.visibility,
        "team": run.team,
    }
    if not summary:  # (not read for a summary: a list loads neither column)
        out["history"] = list(run.history or [])
        out["environment"] = run.environment or {}
    return out


def run_phase(run: Run) -> str:
    """``queued``, ``retry pending`` (queued again after a failed attempt, until its
    back-off ends), ``waiting for upstream``, ``starting kernel`` (claimed by a worker, no
    cell started yet), ``executing``, ``cancelling`` (asked, not yet stopped), else the final
    state (``succeeded``, ``failed``, ``cancelled``...)."""
    if run.state == RunState.QUEUED.value:
        return "retry pending" if run.attempt > 1 and run.not_before is not None else "queued"
    if run.state == RunState.WAITING.value:
        return "waiting for upstream"
    if run.state == RunState.RUNNING.value:
        if run.cancel_requested:
            return "cancelling"
        return "executing" if cells_started(run) else "starting kernel"
    return run.state


def iso(value: datetime | None) -> str | None:
    """A time as answers write it: ISO 8601 UTC with ``Z`` (core.times)."""
    return to_iso_z(value)
