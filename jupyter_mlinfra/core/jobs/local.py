"""Waiting for runs, executing them here when no scheduler serves the catalog.

``jupyter mlinfra run --wait``, ``jobs.run(wait=True)`` and ``%mlinfra run --wait`` use this:
if a scheduler (server or daemon) serves the catalog, the runs are simply followed; when none
is alive (by the catalog's scheduler records), a scheduler is started in this process at
once, and also when the runs are still pending after a grace period (a scheduler that is
alive but busy or blocked by quotas). One run is executed on a thread of this process
(``InlineExecutor``); more, by worker processes (``LocalExecutor``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .states import FINAL_STATES, PENDING_STATES

TICK_EVERY = 1.0  # seconds between two scheduler passes when nothing happened
LOOK_EVERY = 0.1  # seconds between two looks at the runs' states


def wait_with_local_scheduler(
    workspace,
    run_ids: list[str],
    *,
    timeout: float | None = None,
    execute_here: bool | None = None,
    grace: float = 2.0,
    on_update: Callable[[dict], None] | None = None,
    workers: int | None = None,
    poll: float = 0.2,
) -> list[dict]:
    """Follow the runs until they end; returns them (with their metrics). ``execute_here``:
    True runs them in this process, False only follows them, None (default) runs them here
    when no scheduler serves the catalog (checked now and every ``grace`` seconds while they
    are pending). ``on_update(run)`` is called whenever a run's state or progress changes;
    ``poll``: seconds between two looks when no scheduler runs here. TimeoutError after
    ``timeout`` seconds."""
    svc = workspace.service("jobs")
    follow_remote = getattr(svc, "wait_for_runs", None)
    if follow_remote is not None:  # remote mode: the central service's scheduler runs them
        return follow_remote(run_ids, timeout=timeout, on_update=on_update)
    deadline = None if timeout is None else time.monotonic() + timeout
    scheduler = None
    checked_at = None
    last: dict[str, tuple] = {}

    def nobody_serves() -> bool:
        return not any(r["serving"] for r in svc.schedulers())

    # The loop reads only the runs' states and progress (one query); the whole run (metrics,
    # artifacts, access checks) is read first, when one changed and ``on_update`` wants it,
    # and at the end. The scheduler passes when a run ended (its executor wakes it) or every
    # TICK_EVERY seconds (leases, recovery), not at every look at the runs.
    runs = [svc.get_run(r) for r in run_ids]  # NotFound / PermissionDenied first
    states = {r["id"]: (r["state"], r["progress"]) for r in runs}
    ticked_at = looked_at = 0.0
    woken = False
    ended = threading.Event()  # rung by a serving scheduler of another process: a run ended
    bell = None
    try:
        while True:
            for run_id in run_ids:
                state, progress = states[run_id]
                marker = (state, tuple(sorted((progress or {}).items())))
                if last.get(run_id) != marker:
                    if on_update is not None:
                        on_update(svc.get_run(run_id))
                    last[run_id] = marker
            if all(states[r][0] in FINAL_STATES for r in run_ids):
                return [svc.get_run(r) for r in run_ids]
            if scheduler is None and (
                execute_here
                or (
                    execute_here is None
                    and all(states[r][0] in PENDING_STATES for r in run_ids)
                    and (checked_at is None or time.monotonic() - checked_at > grace)
                )
            ):
                checked_at = time.monotonic()
                if execute_here or nobody_serves():
                    scheduler = _start(
                        workspace,
                        workers,
                        run_ids,
                        runs[0].get("kernel_name") if len(runs) == 1 else None,
                    )
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"runs still going after {timeout} s: "
                    + ", ".join(
                        f"{r} ({states[r][0]})" for r in run_ids if states[r][0] not in FINAL_STATES
                    )
                )
            if scheduler is not None:
                if woken or time.monotonic() - ticked_at >= TICK_EVERY:
                    ticked_at = time.monotonic()
                    scheduler.tick()
                woken = scheduler.wait_for_event(LOOK_EVERY)
                if on_update is None and not woken and time.monotonic() - looked_at < TICK_EVERY:
                    # nobody follows the progress, and a run that ends here wakes the
                    # scheduler (its executor's report, or another process's doorbell):
                    # look at the states then, and once a pass otherwise
                    continue
            else:
                if bell is None:
                    bell = _open_bell(workspace, ended.set)
                ended.wait(poll)
                ended.clear()
            states.update(_states(workspace, run_ids))
            looked_at = time.monotonic()
    finally:
        if bell is not None:
            bell.close()
        if scheduler is not None:
            scheduler.stop()


def _open_bell(workspace, on_ring: Callable[[], None]):
    """The run-end bell of this waiting process, or a stand-in (it then just polls)."""
    from .doorbell import open_run_end_bell

    if workspace.config.settings.jobs_doorbell:
        try:
            return open_run_end_bell(workspace, on_ring)
        except Exception:  # no bell: the next poll finds the run's end
            pass
    return _NoBell()


class _NoBell:
    def close(self) -> None:
        pass


def _start(workspace, workers: int | None, run_ids: list[str], kernel_name: str | None = None):
    executor: Any
    from .executors import InlineExecutor, LocalExecutor
    from .scheduler import Scheduler

    settings = workspace.config.settings
    count = workers or max(1, min(int(settings.jobs_workers or 1), len(run_ids)))
    if count == 1 and not workers:
        # one run at a time: on a thread of this process, its kernel starting right now
        executor = InlineExecutor(
            workspace,
            lease_seconds=settings.jobs_lease_seconds,
            kernel_name=kernel_name or "python3",
        )
    else:
        executor = LocalExecutor(workspace, count, lease_seconds=settings.jobs_lease_seconds)
    return Scheduler(workspace, executor, poll_interval=0.1, only_runs=set(run_ids))


def _states(workspace, run_ids: list[str]) -> dict:
    """{run id: (state, progress)} in one query per 500 runs (runs gone keep their last)."""
    from sqlalchemy import select

    from .tables import Run

    out = {}
    with workspace.catalog.read_session() as s:
        for i in range(0, len(run_ids), 500):
            for run_id, state, progress in s.execute(
                select(Run.id, Run.state, Run.progress).where(Run.id.in_(run_ids[i : i + 500]))
            ):
                out[run_id] = (state, progress or {})
    return out
