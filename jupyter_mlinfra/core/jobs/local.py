"""Waiting for runs, executing them here when no scheduler serves the catalog.

``jupyter mlinfra run --wait``, ``jobs.run(wait=True)`` and ``%mlinfra run --wait`` use this:
if a scheduler (server or daemon) serves the catalog, the runs are simply followed; when none
is alive (by the catalog's scheduler records), a scheduler is started in this process at
once, and also when the runs are still pending after a grace period (a scheduler that is
alive but busy or blocked by quotas). One run is executed on a thread of this process
(``InlineExecutor``); more, by worker processes (``LocalExecutor``).
"""

from __future__ import annotations

import time
from typing import Callable

from .states import FINAL_STATES, PENDING_STATES


def wait_with_local_scheduler(workspace, run_ids: list[str], *, timeout: float | None = None,
                              execute_here: bool | None = None, grace: float = 2.0,
                              on_update: Callable[[dict], None] | None = None,
                              workers: int | None = None) -> list[dict]:
    """Follow the runs until they end; returns them. ``execute_here``: True runs them in this
    process, False only follows them, None (default) runs them here when no scheduler
    serves the catalog (checked now and every ``grace`` seconds while they are pending)."""
    svc = workspace.service("jobs")
    deadline = None if timeout is None else time.monotonic() + timeout
    scheduler = None
    checked_at = None
    last: dict[str, tuple] = {}

    def nobody_serves() -> bool:
        return not any(r["serving"] for r in svc.schedulers())

    try:
        while True:
            runs = [svc.get_run(r) for r in run_ids]
            for run in runs:
                marker = (run["state"], tuple(sorted(run["progress"].items())))
                if on_update is not None and last.get(run["id"]) != marker:
                    on_update(run)
                last[run["id"]] = marker
            if all(r["state"] in FINAL_STATES for r in runs):
                return runs
            if scheduler is None and (execute_here or (
                    execute_here is None
                    and all(r["state"] in PENDING_STATES for r in runs)
                    and (checked_at is None or time.monotonic() - checked_at > grace))):
                checked_at = time.monotonic()
                if execute_here or nobody_serves():
                    scheduler = _start(workspace, workers, run_ids,
                                       runs[0].get("kernel_name") if len(runs) == 1 else None)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"runs still going after {timeout} s: " + ", ".join(
                    f"{r['id']} ({r['state']})" for r in runs if r["state"] not in FINAL_STATES))
            if scheduler is not None:
                scheduler.tick()
                scheduler.wait_for_event(0.1)
            else:
                time.sleep(0.2)
    finally:
        if scheduler is not None:
            scheduler.stop()


def _start(workspace, workers: int | None, run_ids: list[str], kernel_name: str | None = None):
    from .executors import InlineExecutor, LocalExecutor
    from .scheduler import Scheduler

    settings = workspace.config.settings
    count = workers or max(1, min(int(settings.jobs_workers or 1), len(run_ids)))
    if count == 1 and not workers:
        # one run at a time: on a thread of this process, its kernel starting right now
        executor = InlineExecutor(workspace, lease_seconds=settings.jobs_lease_seconds,
                                  kernel_name=kernel_name or "python3")
    else:
        executor = LocalExecutor(workspace, count, lease_seconds=settings.jobs_lease_seconds)
    return Scheduler(workspace, executor, poll_interval=0.1, only_runs=set(run_ids))
