"""A process that follows a run another process's scheduler executes (``run --wait`` while
``jupyter mlinfra scheduler`` serves the catalog) learns of the run's end when that scheduler
rings its run-end bell, not at its next poll."""

from __future__ import annotations

import threading

import pytest

from jupyter_mlinfra.core.jobs.doorbell import WAITERS_FOLDER, ring_run_waiters
from jupyter_mlinfra.core.jobs.executors import NoopExecutor
from jupyter_mlinfra.core.jobs.local import wait_with_local_scheduler
from jupyter_mlinfra.core.jobs.scheduler import Scheduler


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_waiting_process_is_woken_by_the_serving_scheduler_when_its_run_ends(
    backend, request, mlinfra_env, nb_root, monkeypatch, wait_until
):
    from jupyter_mlinfra.core.workspace import Workspace

    if backend == "postgresql":
        monkeypatch.setenv("MLINFRA_CATALOG_URL", request.getfixturevalue("pg_catalog_url"))
    monkeypatch.setenv("MLINFRA_ROOT_DIR", str(nb_root))
    ws = Workspace.open()
    jobs = ws.service("jobs")
    # a serving scheduler that passes only when told to here (it polls every 2 minutes)
    scheduler = Scheduler(ws, NoopExecutor(ws), poll_interval=120)
    run = jobs.submit("ok.ipynb", parameters={"x": 3})
    scheduler.tick()  # records itself as serving, and starts the run
    assert jobs.get_run(run["id"])["state"] == "running"
    waited: list = []
    # the waiter looks at the run every 10 minutes unless it is rung
    waiter = threading.Thread(
        target=lambda: waited.extend(wait_with_local_scheduler(ws, [run["id"]], poll=600)),
        daemon=True,
    )
    waiter.start()
    try:
        if backend == "sqlite":  # its bell is listed in the workspace home
            folder = ws.config.home / WAITERS_FOLDER
            wait_until(lambda: folder.is_dir() and any(folder.iterdir()), "the waiter's bell")
        scheduler.tick()  # the run's end is collected: the scheduler rings the waiters
        assert jobs.get_run(run["id"])["state"] == "succeeded"
        if backend == "postgresql":  # a NOTIFY before the waiter's LISTEN is not kept
            wait_until(
                lambda: (ring_run_waiters(ws), not waiter.is_alive())[1], "the waiter to end"
            )
        waiter.join(60)
        assert not waiter.is_alive(), "the waiter still sleeps: nobody rang its bell"
        assert [r["state"] for r in waited] == ["succeeded"]
        if backend == "sqlite":  # closed with the wait
            assert list(folder.iterdir()) == []
    finally:
        scheduler.stop()
        ws.close()


def test_ringing_forgets_the_bells_of_processes_that_are_gone(mlinfra_env):
    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace.open()
    folder = ws.config.home / WAITERS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()
    (folder / f"{gone}-9").touch()
    ring_run_waiters(ws)
    assert list(folder.iterdir()) == []
    ws.close()
