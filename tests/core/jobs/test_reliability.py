"""SIGKILL of the scheduler daemon mid-run, then a restart: no run lost or stuck, and a run
whose kernel had not started a cell does not spend an attempt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _start_scheduler(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_mlinfra.cli.main",
            "scheduler",
            "--workers",
            "2",
            "--poll-interval",
            "0.2",
            "--lease-seconds",
            "3",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


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


def test_sigkill_of_the_scheduler_then_restart_loses_no_run(jobs, jobs_ws, nb_root, wait_until):
    env = {
        **os.environ,
        "MLINFRA_ROOT_DIR": str(nb_root),
        "MLINFRA_JOBS_RECORD_PROVENANCE": "false",
    }
    runs = [
        jobs.submit("slow.ipynb", parameters={"seconds": 3.0}, retries=1, retry_backoff=0)["id"]
        for _ in range(3)
    ]
    # the default policy (retries=0): still retried once after a lost worker
    fragile = jobs.submit("slow.ipynb", parameters={"seconds": 3.0}, priority=10)["id"]
    runs.append(fragile)
    first = _start_scheduler(env)
    try:

        def two_going() -> list[str]:
            going = [
                r
                for r in runs
                if jobs.get_run(r)["state"] == "running"
                and jobs.get_run(r)["progress"].get("executed", 0) >= 2
            ]
            return going if len(going) == 2 else []

        running = wait_until(two_going, "two runs to get going", timeout=90)
        descendants = _children(first.pid)
        assert descendants, "the scheduler has worker processes and kernels"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
        first.stdout.close()
    # the workers notice and take their kernels (and the kernels' children) down
    wait_until(
        lambda: not any(_alive(p) for p in descendants),
        "the dead scheduler's workers and kernels to exit",
        timeout=15,
    )
    assert fragile in running

    second = _start_scheduler(env)
    try:
        final = [jobs.wait(r, timeout=120) for r in runs]
    finally:
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=30)
    assert second.returncode == 0, out
    states = {r["id"]: r for r in final}
    # every run was recovered and succeeded; none is left running
    for run_id in runs:
        assert states[run_id]["state"] == "succeeded", states[run_id]["error"]
    # the two that were executing spent an attempt, the lost one
    assert sorted(states[r]["attempt"] for r in running) == [2, 2]
    lost = states[fragile]["history"][0]
    assert lost["error"]["type"] == "WorkerLost" and "lease" in lost["error"]["message"]


def _slow_starting_kernel(folder: Path) -> tuple[Path, Path]:
    """A kernelspec whose first kernel never gets ready (it sleeps; its pid in a file);
    the next ones are ordinary ipykernels."""
    marker, pidfile = folder / "first-start", folder / "sleeper.pid"
    script = (
        f'if [ -e "{marker}" ]; then exec "{sys.executable}" -m ipykernel_launcher '
        f'-f "$0"; else touch "{marker}"; echo $$ > "{pidfile}"; exec sleep 300; fi'
    )
    spec = folder / "kernels" / "slowstart"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": ["bash", "-c", script, "{connection_file}"],
                "display_name": "slowstart",
                "language": "python",
            }
        )
    )
    return marker, pidfile


def test_a_run_whose_kernel_never_started_a_cell_costs_no_attempt(
    jobs, nb_root, tmp_path, wait_until
):
    from .notebooks import write

    marker, pidfile = _slow_starting_kernel(tmp_path / "jupyter-data")
    write(nb_root / "slowstart.ipynb", "x = 1", "print('ran', x)", kernel="slowstart")
    env = {
        **os.environ,
        "MLINFRA_ROOT_DIR": str(nb_root),
        "MLINFRA_JOBS_RECORD_PROVENANCE": "false",
        "JUPYTER_PATH": str(tmp_path / "jupyter-data"),
    }
    run_id = jobs.submit("slowstart.ipynb")["id"]  # the default policy: retries=0
    first = _start_scheduler(env)
    try:
        # claimed, and its kernel is starting (it never gets ready): no cell has started
        wait_until(
            lambda: pidfile.exists() and pidfile.read_text().strip(),
            "the run's kernel to start",
            timeout=90,
        )
        claimed = jobs.get_run(run_id)
        assert claimed["state"] == "running" and claimed["attempt"] == 1
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
        first.stdout.close()
        if pidfile.exists() and pidfile.read_text().strip():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
    second = _start_scheduler(env)
    try:
        final = jobs.wait(run_id, timeout=120)
    finally:
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=30)
    assert second.returncode == 0, out
    # recovered before its first cell: back in the queue on the same attempt, then run
    assert final["state"] == "succeeded", final["error"]
    assert final["attempt"] == 1
    assert [h["state"] for h in final["history"]] == ["requeued"]
    assert "lease" in final["history"][0]["error"]["message"]
