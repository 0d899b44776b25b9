"""SIGKILL of the scheduler daemon mid-run, then a restart: no run lost or stuck."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow


def _start_scheduler(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "jupyter_mlinfra.cli.main", "scheduler", "--workers", "2",
         "--poll-interval", "0.2", "--lease-seconds", "3"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid,ppid"], capture_output=True, text=True).stdout
    rows = [tuple(map(int, line.split())) for line in out.splitlines()[1:] if line.strip()]
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for p, pp in rows:
            if pp == parent:
                found.append(p)
                frontier.append(p)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def test_sigkill_of_the_scheduler_then_restart_loses_no_run(jobs, jobs_ws, nb_root):
    env = {**os.environ, "MLINFRA_ROOT_DIR": str(nb_root),
           "MLINFRA_JOBS_RECORD_PROVENANCE": "false"}
    runs = [jobs.submit("slow.ipynb", parameters={"seconds": 3.0}, retries=1,
                        retry_backoff=0)["id"] for _ in range(3)]
    fragile = jobs.submit("slow.ipynb", parameters={"seconds": 3.0}, priority=10)["id"]
    runs.append(fragile)
    first = _start_scheduler(env)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            running = [r for r in runs if jobs.get_run(r)["state"] == "running"
                       and jobs.get_run(r)["progress"].get("executed", 0) >= 2]
            if len(running) == 2:
                break
            time.sleep(0.1)
        else:
            pytest.fail("two runs never got going")
        descendants = _children(first.pid)
        assert descendants, "the scheduler has worker processes and kernels"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
        first.stdout.close()
    # the workers notice and take their kernels (and the kernels' children) down
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in descendants) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in descendants if _alive(p)]
    assert fragile in running

    second = _start_scheduler(env)
    try:
        final = [jobs.wait(r, timeout=120) for r in runs]
    finally:
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=30)
    assert second.returncode == 0, out
    states = {r["id"]: r for r in final}
    # the runs with a retry left were recovered and succeeded; none is left running
    for run_id in runs[:3]:
        assert states[run_id]["state"] == "succeeded", states[run_id]["error"]
    assert [states[r]["attempt"] for r in running if r != fragile] == [2]
    assert states[fragile]["state"] == "failed"
    assert states[fragile]["error"]["type"] == "WorkerLost"
    assert "lease" in states[fragile]["error"]["message"]
