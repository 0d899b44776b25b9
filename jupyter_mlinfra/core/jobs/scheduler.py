"""The scheduler loop. Each pass (``tick()``):

1. collects outcomes from the executor (a worker that died has its run recovered);
2. renews the leases of the runs its executor holds, and recovers runs of any scheduler whose
   lease expired (a crashed process): they are re-queued or failed by their retry policy;
3. creates runs for due cron ticks, exactly once across schedulers: each scheduled run carries
   the unique key ``<job id>@<tick time>`` in the catalog, so a second scheduler's insert of
   the same tick fails and is skipped. Catch-up after downtime follows the job's policy:
   ``none`` (skip missed ticks), ``latest`` (default: one run for the latest missed tick),
   ``all`` (one run per missed tick);
4. releases waiting runs whose upstream runs (same pipeline) all succeeded, and marks them
   ``upstream_failed`` when one failed;
5. dispatches queued runs by priority, then age, within the executor's free slots, its CPUs
   and memory, and each user's ``max_running`` quota. A claim is a conditional update
   (``state = queued``), so two schedulers never take the same run;
6. housekeeping: once per ``artifacts_gc_every`` across the catalog's serving schedulers (a
   turn claimed in the catalog), collects the artifact blobs nothing refers to.

Run it with :meth:`Scheduler.start` (a background thread, as the server does) or
``jupyter mlinfra scheduler``. ``clock`` is injectable for cron tests.

A pass runs every ``jobs_poll_interval`` seconds, and at once when something happens that it
should act on: the executor reports a run's end, or a run is queued (the jobs service wakes the
schedulers of its process and rings the doorbells of the others, see ``doorbell.py``: a
loopback datagram to those of its host on SQLite, a NOTIFY on PostgreSQL).

Length (over ~500 lines): the scheduler loop's passes (ticks, dispatch, leases, recovery, heartbeats) share its state and locking.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from ..catalog.schema import utcnow
from ..errors import MLInfraError
from . import validation as v
from .doorbell import open_doorbell, ring_run_waiters, ring_schedulers
from .quotas import quota_for, quotas_in_force
from .states import RunState, Trigger, end_attempt, put_back_held, requeue_unstarted
from .submission import create_pipeline
from .tables import JobDefinition, Run, RunLogLine, SchedulerRecord

log = logging.getLogger("jupyter_mlinfra.jobs.scheduler")

HEARTBEAT_EVERY = 5.0  # seconds between two renewals of a scheduler's record
HOUSEKEEPING_EVERY = 60.0  # seconds between two looks at whether housekeeping is due

# the schedulers of this process, woken when this process queues a run
_SCHEDULERS: weakref.WeakSet[Scheduler] = weakref.WeakSet()


def wake_schedulers(workspace=None) -> None:
    """Make every scheduler of this process run a pass now (a run was queued), and, given
    the workspace whose catalog got the run, ring the doorbells of that catalog's schedulers
    in other processes (``doorbell.ring_schedulers``)."""
    for scheduler in list(_SCHEDULERS):
        scheduler.wake()
    if workspace is not None and workspace.config.settings.jobs_doorbell:
        ring_schedulers(workspace.catalog)


_FAILED_UPSTREAM = frozenset(
    {
        RunState.FAILED.value,
        RunState.UPSTREAM_FAILED.value,
        RunState.CANCELLED.value,
        RunState.TIMED_OUT.value,
    }
)


class Scheduler:
    def __init__(
        self,
        workspace,
        executor: Any = None,
        *,
        clock: Callable[[], datetime] | None = None,
        poll_interval: float | None = None,
        lease_seconds: float | None = None,
        name: str | None = None,
        only_runs: set[str] | None = None,
    ) -> None:
        settings = workspace.config.settings
        self.ws = workspace
        self.id = name or f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.lease_seconds = float(lease_seconds or settings.jobs_lease_seconds)
        if executor is None:
            from .executors import build_executor

            executor = build_executor(
                workspace, lease_seconds=self.lease_seconds, scheduler_id=self.id.rsplit("-", 1)[-1]
            )
        self.executor = executor
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.poll_interval = float(poll_interval or settings.jobs_poll_interval)
        self.cpus = float(settings.jobs_cpus or os.cpu_count() or 1)
        self.memory_mb = int(settings.jobs_memory_mb or 0)
        # A scheduler started just to execute some runs (``run --wait`` with no scheduler
        # serving the catalog) dispatches only those and creates no cron runs.
        self.only_runs = set(only_runs) if only_runs is not None else None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._doorbell: Any = None
        self._use_doorbell = bool(settings.jobs_doorbell) and self.only_runs is None
        if hasattr(self.executor, "on_event"):
            self.executor.on_event = self.wake  # a run ended: collect and dispatch now
        _SCHEDULERS.add(self)
        self._run_resources: dict[str, tuple[float, int]] = {}
        self._heartbeat_at = 0.0
        self._housekeeping_at = 0.0
        self._gc_thread: threading.Thread | None = None
        self.stats = {
            "ticks": 0,
            "dispatched": 0,
            "scheduled": 0,
            "duplicate_ticks": 0,
            "recovered": 0,
            "released": 0,
            "upstream_failed": 0,
            "errors": 0,
        }
        self.last_error: str | None = None

    # -- the loop ---------------------------------------------------------------------------
    def start(self) -> Scheduler:
        if self._thread is None:
            if self.only_runs is None:
                # the deployment's quotas are this serving scheduler's configuration: every
                # submission reads them from the catalog (not from its own environment)
                try:
                    self.ws.service("jobs").publish_quotas(by=f"scheduler {self.id}")
                except Exception as exc:
                    log.warning("jobs scheduler %s: cannot publish its quotas: %s", self.id, exc)
            if self._use_doorbell and self._doorbell is None:
                try:
                    self._doorbell = open_doorbell(self.ws.catalog, self.wake)
                except Exception as exc:  # it still polls
                    log.warning(
                        "jobs scheduler %s: no doorbell (%s); other processes' runs "
                        "wait for its next poll",
                        self.id,
                        exc,
                    )
            self._thread = threading.Thread(
                target=self.run_forever, name="mlinfra-scheduler", daemon=True
            )
            self._thread.start()
        return self

    def run_forever(self) -> None:
        log.info(
            "jobs scheduler %s started (%s executor)", self.id, getattr(self.executor, "kind", "?")
        )
        while not self._stop.is_set():
            self._wake.clear()
            self.tick()
            self._wake.wait(self.poll_interval)

    def wake(self) -> None:
        """Run the next pass now rather than after the poll interval."""
        self._wake.set()

    def wait_for_event(self, timeout: float) -> bool:
        """Sleep until woken or ``timeout`` (for callers that drive :meth:`tick` themselves);
        True when woken."""
        woken = self._wake.wait(timeout)
        self._wake.clear()
        return woken

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the loop and the executor; runs still in flight go back to the queue (same
        attempt), for the next scheduler to run."""
        self._stop.set()
        self._wake.set()
        _SCHEDULERS.discard(self)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._doorbell is not None:
            self._doorbell.close()
        if self._gc_thread is not None:
            self._gc_thread.join(5)  # a long S3 gc goes on as a daemon thread
        self._collect()
        held = self.executor.in_flight()
        try:
            self.executor.shutdown()
        finally:
            self._requeue(held)
            try:
                self._heartbeat(stopping=True)
            except Exception as exc:  # the record expires by itself
                log.warning("jobs scheduler %s: cannot record its stop: %s", self.id, exc)

    def _requeue(self, held: dict[str, str]) -> None:
        put_back_held(self.ws.catalog, held, f"scheduler {self.id} stopped")

    def tick(self) -> dict[str, int]:
        """One pass; returns what it did. Errors are logged, never raised (the loop goes on)."""
        done: dict[str, int] = {}
        for step in (
            self._heartbeat,
            self._collect,
            self._renew_and_recover,
            self._cron,
            self._release,
            self._dispatch,
            self._housekeeping,
        ):
            try:
                done[step.__name__.strip("_")] = step() or 0
            except Exception as exc:
                self.stats["errors"] += 1
                self.last_error = f"{step.__name__.strip('_')}: {type(exc).__name__}: {exc}"
                log.exception("jobs scheduler %s: %s failed", self.id, step.__name__)
        self.stats["ticks"] += 1
        return done

    def status(self) -> dict:
        return {
            "id": self.id,
            "running": self._thread is not None and self._thread.is_alive(),
            "executor": self.executor.describe(),
            "stats": dict(self.stats),
            "last_error": self.last_error,
            "poll_interval": self.poll_interval,
        }

    # -- 1. outcomes ------------------------------------------------------------------------
    def _collect(self) -> int:
        outcomes = self.executor.poll()
        lost = 0
        for o in outcomes:
            self._run_resources.pop(o.run_id, None)
            if o.state == "lost":
                lost += self._recover_one(o.run_id, o.slot, o.detail or "the worker was lost")
        if outcomes and self._use_doorbell:
            # processes following these runs (run --wait) look at once, not at their next poll
            ring_run_waiters(self.ws)
        return len(outcomes)

    def _recover_one(self, run_id: str, slot: str | None, why: str) -> int:
        with self.ws.catalog.session() as s:
            stmt = select(Run).where(Run.id == run_id, Run.state == RunState.RUNNING.value)
            if slot is not None:
                stmt = stmt.where(Run.worker == slot)
            run = s.scalar(stmt.with_for_update())  # one scheduler recovers it
            if run is None:
                return 0
            if requeue_unstarted(run, why):
                # claimed, but no cell of it ran: back in the queue, the attempt not spent
                s.add(
                    RunLogLine(
                        run_id=run_id,
                        at=utcnow(),
                        stream="log",
                        text=f"recovered by scheduler {self.id}: {why} before its "
                        f"first cell -> queued again (attempt {run.attempt})",
                    )
                )
                self.stats["recovered"] += 1
                return 1
            error = {"type": "WorkerLost", "message": why}
            state = end_attempt(run, RunState.FAILED.value, error)
            s.add(
                RunLogLine(
                    run_id=run_id,
                    at=utcnow(),
                    stream="log",
                    text=f"recovered by scheduler {self.id}: {why} -> {state}",
                )
            )
        self.stats["recovered"] += 1
        return 1

    # -- 0. the scheduler's own record ---------------------------------------------------------
    def _heartbeat(self, stopping: bool = False) -> int:
        """Say in the catalog that this scheduler is alive (every HEARTBEAT_EVERY seconds),
        or that it stopped: ``run --wait`` and the health endpoint read it."""
        if stopping and not self._heartbeat_at:
            return 0  # it never ran a pass: nothing to record
        if not stopping and time.monotonic() - self._heartbeat_at < HEARTBEAT_EVERY:
            return 0
        self._heartbeat_at = time.monotonic()
        now = utcnow()
        expires = now + timedelta(seconds=max(3 * HEARTBEAT_EVERY, 3 * self.poll_interval))
        with self.ws.catalog.session() as s:
            record = s.get(SchedulerRecord, self.id)
            if record is None:
                record = SchedulerRecord(
                    id=self.id,
                    host=os.uname().nodename,
                    pid=os.getpid(),
                    executor=str(getattr(self.executor, "kind", "?")),
                    serving=self.only_runs is None,
                    started_at=now,
                )
                s.add(record)
            record.heartbeat_at = now
            record.doorbell_port = (
                None if stopping or self._doorbell is None else self._doorbell.port
            )
            record.expires_at = now if stopping else expires
            record.stopped_at = now if stopping else None
        return 1

    # -- 6. housekeeping ---------------------------------------------------------------------
    def _housekeeping(self) -> int:
        """Once per ``artifacts_gc_every`` across the catalog's serving schedulers: collect
        the artifact blobs nothing refers to, on a thread of its own (a listing of an S3
        bucket must not hold up dispatch)."""
        every = float(self.ws.config.settings.artifacts_gc_every or 0)
        if (
            self.only_runs is not None
            or every <= 0
            or time.monotonic() - self._housekeeping_at < HOUSEKEEPING_EVERY
            or (self._gc_thread is not None and self._gc_thread.is_alive())
        ):
            return 0
        self._housekeeping_at = time.monotonic()
        if not self.ws.catalog.claim_turn("artifacts_gc_at", every):
            return 0
        self._gc_thread = threading.Thread(
            target=self._collect_garbage, daemon=True, name="mlinfra-artifacts-gc"
        )
        self._gc_thread.start()
        return 1

    def _collect_garbage(self) -> None:
        try:
            removed = self.ws.artifacts.gc(
                min_age=float(self.ws.config.settings.artifacts_gc_min_age)
            )
            log.info(
                "jobs scheduler %s: artifact gc removed %d unreferenced blob(s)", self.id, removed
            )
        except Exception as exc:
            log.warning("jobs scheduler %s: artifact gc failed: %s", self.id, exc)

    # -- 2. leases --------------------------------------------------------------------------
    def _renew_and_recover(self) -> int:
        now = utcnow()
        held = self.executor.in_flight()
        if held:
            expires = now + timedelta(seconds=self.lease_seconds)
            ids = list(held.values())
            with self.ws.catalog.session() as s:
                for start in range(0, len(ids), 500):
                    s.execute(
                        update(Run)
                        .where(
                            Run.id.in_(ids[start : start + 500]),
                            Run.state == RunState.RUNNING.value,
                        )
                        .values(lease_expires_at=expires)
                    )
        with self.ws.catalog.read_session() as s:
            expired = s.execute(
                select(Run.id, Run.worker).where(
                    Run.state == RunState.RUNNING.value, Run.lease_expires_at < now
                )
            ).all()
        mine = set(held.values())
        n = 0
        for run_id, worker in expired:
            if run_id in mine:
                continue
            n += self._recover_one(
                run_id,
                worker,
                f"the lease of worker {worker} expired (its scheduler or worker stopped)",
            )
        return n

    # -- 3. cron ----------------------------------------------------------------------------
    def _cron(self) -> int:
        if self.only_runs is not None:
            return 0
        now = self.clock()
        with self.ws.catalog.read_session() as s:
            due = list(
                s.scalars(
                    select(JobDefinition).where(
                        JobDefinition.active.is_(True),
                        JobDefinition.schedule.is_not(None),
                        JobDefinition.next_fire_at <= now,
                    )
                )
            )
        created = 0
        grace = timedelta(seconds=max(5.0, 3 * self.poll_interval))
        for job in due:
            ticks = v.fire_times_between(
                job.schedule, job.timezone, job.next_fire_at - timedelta(microseconds=1), now
            )
            if job.catchup == "none":
                chosen = [t for t in ticks if now - t <= grace][-1:]
            elif job.catchup == "all":
                chosen = ticks
            else:
                chosen = ticks[-1:]
            for tick in chosen:
                created += self._create_tick(job, tick)
            nxt = v.next_fire_times(job.schedule, job.timezone, after=now, count=1)[0]
            with self.ws.catalog.session() as s:
                s.execute(
                    update(JobDefinition)
                    .where(
                        JobDefinition.id == job.id, JobDefinition.next_fire_at == job.next_fire_at
                    )
                    .values(next_fire_at=nxt, last_tick_at=now)
                )
        return created

    def _create_tick(self, job: JobDefinition, tick: datetime) -> int:
        key = f"{job.id}@{tick.astimezone(timezone.utc).isoformat()}"
        with self.ws.catalog.read_session() as s:
            if s.scalar(select(Run.id).where(Run.tick_key == key)) is not None:
                self.stats["duplicate_ticks"] += 1
                return 0
        try:
            with self.ws.catalog.session() as s:
                fresh = s.get(JobDefinition, job.id)
                if fresh is None or not fresh.active:
                    return 0
                create_pipeline(
                    self.ws, s, fresh, now=utcnow(), trigger=Trigger.SCHEDULE.value, tick_key=key
                )
        except SQLIntegrityError:
            self.stats["duplicate_ticks"] += 1  # another scheduler created this tick's run
            return 0
        except MLInfraError as exc:
            log.warning("job %s: tick %s skipped: %s", job.name, key, exc.message)
            self.last_error = f"job {job.name}: tick skipped: {exc.message}"
            return 0
        self.stats["scheduled"] += 1
        return 1

    # -- 4. DAG release ---------------------------------------------------------------------
    def _release(self) -> int:
        with self.ws.catalog.read_session() as s:
            waiting = s.execute(
                select(Run.id, Run.upstream_run_ids).where(Run.state == RunState.WAITING.value)
            ).all()
            if not waiting:
                return 0
            upstream = sorted({u for _, ups in waiting for u in (ups or [])})
            states: dict[str, str] = {}
            for start in range(0, len(upstream), 900):
                states.update(
                    s.execute(
                        select(Run.id, Run.state).where(Run.id.in_(upstream[start : start + 900]))
                    ).all()
                )
        release, failed = [], []
        for run_id, ups in waiting:
            ups = ups or []
            if any(states.get(u) in _FAILED_UPSTREAM for u in ups):
                failed.append(run_id)
            elif all(
                states.get(u, RunState.SUCCEEDED.value) == RunState.SUCCEEDED.value for u in ups
            ):
                release.append(run_id)
        if not release and not failed:
            return 0
        now = utcnow()
        with self.ws.catalog.session() as s:
            for start in range(0, len(release), 500):
                s.execute(
                    update(Run)
                    .where(
                        Run.id.in_(release[start : start + 500]),
                        Run.state == RunState.WAITING.value,
                    )
                    .values(state=RunState.QUEUED.value, queued_at=now)
                )
            for start in range(0, len(failed), 500):
                s.execute(
                    update(Run)
                    .where(
                        Run.id.in_(failed[start : start + 500]), Run.state == RunState.WAITING.value
                    )
                    .values(
                        state=RunState.UPSTREAM_FAILED.value,
                        finished_at=now,
                        error={
                            "type": "UpstreamFailed",
                            "message": "an upstream run did not succeed",
                        },
                    )
                )
        self.stats["released"] += len(release)
        self.stats["upstream_failed"] += len(failed)
        return len(release) + len(failed)

    # -- 5. dispatch ------------------------------------------------------------------------
    def _dispatch(self) -> int:
        slots = self.executor.free_slots()
        if not slots:
            return 0
        slot_iter = iter(slots)
        n_free = len(slots)
        now = utcnow()
        held = self.executor.in_flight()
        used_cpus = sum(self._run_resources.get(r, (0.0, 0))[0] for r in held.values())
        used_mem = sum(self._run_resources.get(r, (0.0, 0))[1] for r in held.values())
        chosen: list[tuple[str, str, float, int]] = []
        expires = now + timedelta(seconds=self.lease_seconds)
        # One write transaction: the queue is read and claimed together (SQLite holds the
        # write lock from BEGIN IMMEDIATE; PostgreSQL locks the rows it reads, skipping rows
        # another scheduler is claiming), so no run is ever given to two workers.
        with self.ws.catalog.session() as s:
            running = dict(
                s.execute(
                    select(Run.owner, func.count())
                    .where(Run.state == RunState.RUNNING.value)
                    .group_by(Run.owner)
                ).all()
            )
            offset, page = 0, max(200, min(n_free * 2, 20_000))
            quotas: dict[str, int] = {}
            published = quotas_in_force(self.ws, s)
            while len(chosen) < n_free:
                stmt = select(Run.id, Run.owner, Run.cpus, Run.memory_mb).where(
                    Run.state == RunState.QUEUED.value,
                    (Run.not_before.is_(None)) | (Run.not_before <= now),
                )
                if self.only_runs is not None:
                    stmt = stmt.where(Run.id.in_(sorted(self.only_runs)))
                rows = s.execute(
                    stmt.order_by(Run.priority.desc(), Run.created_at, Run.id)
                    .limit(page)
                    .offset(offset)
                    .with_for_update(skip_locked=True)
                ).all()
                if not rows:
                    break
                offset += page
                for run_id, owner, cpus, mem in rows:
                    if len(chosen) >= n_free:
                        break
                    if owner not in quotas:
                        quotas[owner] = quota_for(owner, published)["max_running"]
                    limit = quotas[owner]
                    if limit and running.get(owner, 0) >= limit:
                        continue
                    # requested resources must fit in what this executor has left; a run
                    # bigger than the whole executor still runs, alone
                    if used_cpus > 0 and used_cpus + cpus > self.cpus + 1e-9:
                        continue
                    if self.memory_mb and used_mem > 0 and used_mem + mem > self.memory_mb:
                        continue
                    used_cpus += cpus
                    used_mem += mem
                    running[owner] = running.get(owner, 0) + 1
                    chosen.append((run_id, next(slot_iter), cpus, mem))
                if offset >= 100_000:
                    break
            if chosen:
                t = cast(Table, Run.__table__)
                s.connection().execute(
                    update(t)
                    .where(t.c.id == bindparam("rid"), t.c.state == RunState.QUEUED.value)
                    .values(
                        state=RunState.RUNNING.value,
                        worker=bindparam("slot"),
                        started_at=now,
                        lease_expires_at=expires,
                        not_before=None,
                    ),
                    [{"rid": r, "slot": sl} for r, sl, _, _ in chosen],
                )
        if not chosen:
            return 0
        claimed = chosen
        for run_id, slot, cpus, mem in claimed:
            self._run_resources[run_id] = (cpus, mem)
            try:
                self.executor.submit(slot, run_id)
            except Exception as exc:
                log.exception("executor refused run %s", run_id)
                self._run_resources.pop(run_id, None)
                with self.ws.catalog.session() as s:
                    s.execute(
                        update(Run)
                        .where(
                            Run.id == run_id,
                            Run.worker == slot,
                            Run.state == RunState.RUNNING.value,
                        )
                        .values(
                            state=RunState.QUEUED.value,
                            worker=None,
                            lease_expires_at=None,
                            started_at=None,
                        )
                    )
                self.last_error = f"executor: {type(exc).__name__}: {exc}"
        self.stats["dispatched"] += len(claimed)
        return len(claimed)


def run_until_idle(scheduler: Scheduler, timeout: float = 120.0, interval: float = 0.05) -> None:
    """Tick until no run is queued, waiting or running (tests, benchmarks, the demo)."""
    deadline = time.monotonic() + timeout
    active = (RunState.QUEUED.value, RunState.WAITING.value, RunState.RUNNING.value)
    while True:
        scheduler.tick()
        with scheduler.ws.catalog.read_session() as s:
            left = s.scalar(select(func.count()).select_from(Run).where(Run.state.in_(active)))
        if not left:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{left} run(s) still pending after {timeout} s")
        scheduler.wait_for_event(interval)
