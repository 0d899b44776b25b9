"""Waiting for runs, executing them here when no scheduler serves the catalog.

``jupyter mlinfra run --wait``, ``jobs.run(wait=True)`` and ``%mlinfra run --wait`` use this:
if a scheduler (server or daemon) has taken the run it is simply followed; otherwise, after
a short grace period, a scheduler is started in this process until the runs end.
"""

from __future__ import annotations

import time
from typing import Callable

from .states import FINAL_STATES, PENDING_STATES


def wait_with_local_scheduler(workspace, run_ids: list[str], *, timeout: float | None = None,
                              execute_here: bool | None = None, grace: float = 2.0,
                              on_update: Callable[[dict], None] | None = None,
                              workers: int | None = None) -> list[dict]:
    svc = workspace.service("jobs")
    deadline = None if timeout is None else time.monotonic() + timeout
    scheduler = None
    started_waiting = time.monotonic()
    last: dict[str, tuple] = {}
    try:
        if execute_here:
            scheduler = _start(workspace, workers, run_ids)
        while True:
            runs = [svc.get_run(r) for r in run_ids]
            for run in runs:
                marker = (run["state"], tuple(sorted(run["progress"].items())))
                if on_update is not None and last.get(run["id"]) != marker:
                    on_update(run)
                last[run["id"]] = marker
            if all(r["state"] in FINAL_STATES for r in runs):
                return runs
            if scheduler is None and execute_here is None and \
                    time.monotonic() - started_waiting > grace and \
                    all(r["state"] in PENDING_STATES for r in runs):
                scheduler = _start(workspace, workers, run_ids)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"runs still going after {timeout} s: " + ", ".join(
                    f"{r['id']} ({r['state']})" for r in runs if r["state"] not in FINAL_STATES))
            if scheduler is not None:
                scheduler.tick()
                time.sleep(0.1)
            else:
                time.sleep(0.2)
    finally:
        if scheduler is not None:
            scheduler.stop()


def _start(workspace, workers: int | None, run_ids: list[str]):
    from .executors import LocalExecutor
    from .scheduler import Scheduler

    settings = workspace.config.settings
    count = workers or max(1, min(int(settings.jobs_workers or 1), len(run_ids)))
    executor = LocalExecutor(workspace, count, lease_seconds=settings.jobs_lease_seconds)
    return Scheduler(workspace, executor, poll_interval=0.1, only_runs=set(run_ids))
