"""Jobs throughput: 40 runs of a two-cell parameterized notebook through jupyter_mlinfra (local
executor, 2 workers) against papermill's CLI in a loop and papermill's Python API in a loop,
in one run; plus the scheduler's dispatch cost (no-op executor, 10,000 queued runs in a
1,000-node DAG), cron lateness, and how long a run submitted from another process (a kernel's
``%mlinfra run``, the CLI) waits for the scheduler with its doorbell against polling only.

    .venv/bin/python benchmarks/jobs_throughput.py [--runs 40] [--skip-cli]

Targets (issue 4): >= 6x faster than the CLI loop, >= 2x faster than the API loop,
dispatch <= 1 ms per run, cron lateness <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

VENV_BIN = str(Path(sys.executable).parent)


def write_notebook(path: Path) -> None:
    nb = new_notebook(
        cells=[
            new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
            new_code_cell("y = x * 2\nprint(y)"),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "language": "python",
        "display_name": "Python 3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)


def bench_cli(nb: Path, out: Path, runs: int) -> float:
    started = time.perf_counter()
    for i in range(runs):
        subprocess.run(
            [
                os.path.join(VENV_BIN, "papermill"),
                str(nb),
                str(out / f"cli-{i}.ipynb"),
                "-p",
                "x",
                str(i),
                "--log-level",
                "ERROR",
            ],
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - started


def bench_api(nb: Path, out: Path, runs: int) -> float:
    import papermill

    started = time.perf_counter()
    for i in range(runs):
        papermill.execute_notebook(
            str(nb),
            str(out / f"api-{i}.ipynb"),
            parameters={"x": i},
            progress_bar=False,
            log_output=False,
        )
    return time.perf_counter() - started


def bench_mlinfra(root: Path, runs: int) -> tuple[float, float]:
    """Wall time from submission to the last run's end (worker start-up included), and the
    same once the workers are warm."""
    from jupyter_mlinfra.core.jobs.executors import LocalExecutor
    from jupyter_mlinfra.core.jobs.scheduler import Scheduler, run_until_idle
    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace.open()
    ws.config.settings.root_dir = str(root)
    jobs = ws.service("jobs")
    # The default poll interval (1 s): the scheduler passes when a run is queued or ends.
    scheduler = Scheduler(ws, LocalExecutor(ws, 2))
    try:
        times = []
        for _ in range(2):  # cold (workers start), then warm
            started = time.perf_counter()
            sweep = jobs.sweep("two_cells.ipynb", {"x": list(range(runs))})
            run_until_idle(scheduler, timeout=600, interval=scheduler.poll_interval)
            times.append(time.perf_counter() - started)
            df = jobs.sweep_results(sweep["id"])
            assert (df["state"] == "succeeded").all(), df["state"].value_counts()
    finally:
        scheduler.stop()
        ws.close()
    return times[0], times[1]


def bench_dispatch(n_nodes: int = 1000, pipelines: int = 10) -> tuple[float, int]:
    """A random 1,000-job DAG, 10 pipeline runs of it (10,000 runs) inserted straight into the
    catalog, then scheduler passes with a no-op executor until every run succeeded."""
    from sqlalchemy import insert

    from jupyter_mlinfra.core.catalog.schema import utcnow
    from jupyter_mlinfra.core.jobs.executors import NoopExecutor
    from jupyter_mlinfra.core.jobs.scheduler import Scheduler, run_until_idle
    from jupyter_mlinfra.core.jobs.tables import Run
    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace.open()
    rng = random.Random(4)
    parents = {i: sorted(rng.sample(range(i), k=min(i, rng.randint(0, 3)))) for i in range(n_nodes)}
    now = utcnow()
    rows = []
    for p in range(pipelines):
        ids = [f"{p:04d}{i:028d}" for i in range(n_nodes)]
        for i in range(n_nodes):
            rows.append(
                dict(
                    id=ids[i],
                    owner="bench",
                    notebook="two_cells.ipynb",
                    cwd="/tmp",
                    snapshot_key="bench/snapshot.ipynb",
                    parameters={},
                    state="waiting" if parents[i] else "queued",
                    trigger="dependency" if parents[i] else "manual",
                    priority=0,
                    cpus=1.0,
                    memory_mb=0,
                    retries=0,
                    retry_backoff=0.0,
                    tags=[],
                    attempt=1,
                    pipeline_id=f"{p:032d}",
                    upstream_run_ids=[ids[j] for j in parents[i]],
                    created_at=now + timedelta(microseconds=p * n_nodes + i),
                    progress={},
                    history=[],
                    environment={},
                    output_text="",
                    cancel_requested=False,
                )
            )
    with ws.catalog.session() as s:
        for start in range(0, len(rows), 2000):
            s.execute(insert(Run), rows[start : start + 2000])
    scheduler = Scheduler(ws, NoopExecutor(ws), poll_interval=0)
    scheduler.cpus = float("inf")  # no resource limit: measure the queue itself
    started = time.perf_counter()
    run_until_idle(scheduler, timeout=600, interval=0)
    elapsed = time.perf_counter() - started
    ticks = scheduler.stats["ticks"]
    ws.close()
    return elapsed / len(rows), ticks


def bench_cron_lateness(root: Path, seconds: float = 12.0) -> list[float]:
    """A job firing every second; lateness = run creation time - tick time."""
    from jupyter_mlinfra.core.jobs.executors import NoopExecutor
    from jupyter_mlinfra.core.jobs.scheduler import Scheduler
    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace.open()
    ws.config.settings.root_dir = str(root)
    jobs = ws.service("jobs")
    jobs.create_job("every-second", "two_cells.ipynb", schedule="* * * * * *")
    scheduler = Scheduler(ws, NoopExecutor(ws), poll_interval=0.1).start()
    time.sleep(seconds)
    scheduler.stop()
    runs = jobs.list_runs(job="every-second", limit=1000)["items"]
    ws.close()
    late = []
    for r in runs:
        tick = datetime.fromisoformat(r["tick_key"].split("@", 1)[1])
        late.append((datetime.fromisoformat(r["created_at"]) - tick).total_seconds())
    return late


SUBMITTER = """
import sys, time
from jupyter_mlinfra.core.workspace import Workspace
ws = Workspace.open()
ws.config.settings.root_dir = sys.argv[1]
jobs = ws.service("jobs")
for i in range(int(sys.argv[2])):
    jobs.submit("two_cells.ipynb", parameters={"x": i}, tags=[sys.argv[3]])
    time.sleep(0.37)    # not in step with the scheduler's 1 s poll
ws.close()
"""


def bench_cross_process_wait(root: Path, runs: int = 15) -> dict[str, list[float]]:
    """Runs submitted one by one from another process to a scheduler polling every second
    (the default), with its doorbell and without: seconds from submission to claim."""
    from jupyter_mlinfra.core.jobs.executors import NoopExecutor
    from jupyter_mlinfra.core.jobs.scheduler import Scheduler
    from jupyter_mlinfra.core.workspace import Workspace

    waits: dict[str, list[float]] = {}
    for mode in ("doorbell", "poll"):
        ws = Workspace.open()
        ws.config.settings.root_dir = str(root)
        ws.config.settings.jobs_doorbell = mode == "doorbell"
        scheduler = Scheduler(ws, NoopExecutor(ws), poll_interval=1.0)
        scheduler.cpus = float("inf")  # no resource limit: measure the wake-up itself
        scheduler.start()
        try:
            time.sleep(0.5)  # its first pass records it (and its doorbell) in the catalog
            subprocess.run(
                [sys.executable, "-c", SUBMITTER, str(root), str(runs), mode], check=True
            )
            time.sleep(1.5)
        finally:
            scheduler.stop()
        runs_done = ws.service("jobs").list_runs(tag=mode, limit=1000)["items"]
        ws.close()
        waits[mode] = [
            (
                datetime.fromisoformat(r["started_at"]) - datetime.fromisoformat(r["created_at"])
            ).total_seconds()
            for r in runs_done
            if r["started_at"]
        ]
    return waits


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument(
        "--no-provenance",
        action="store_true",
        help="also time jupyter_mlinfra runs without provenance recording",
    )
    args = parser.parse_args()
    os.environ["PATH"] = VENV_BIN + os.pathsep + os.environ.get("PATH", "")
    tmp = Path(tempfile.mkdtemp(prefix="mlinfra-bench-jobs-"))
    os.environ["MLINFRA_HOME"] = str(tmp / "home")
    root = tmp / "root"
    root.mkdir()
    out = tmp / "out"
    out.mkdir()
    nb = root / "two_cells.ipynb"
    write_notebook(nb)
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(other processes share them)"
    )

    n = args.runs
    cold, warm = bench_mlinfra(root, n)
    print(
        f"jupyter_mlinfra, local executor, 2 workers: {n} runs in {cold:.1f} s cold "
        f"({cold / n:.2f} s/run, worker start-up included), {warm:.1f} s warm "
        f"({warm / n:.2f} s/run)"
    )
    if args.no_provenance:
        os.environ["MLINFRA_JOBS_RECORD_PROVENANCE"] = "false"
        np_cold, np_warm = bench_mlinfra(root, n)
        del os.environ["MLINFRA_JOBS_RECORD_PROVENANCE"]
        print(
            f"  same without provenance recording: {np_cold:.1f} s cold "
            f"({np_cold / n:.2f} s/run), {np_warm:.1f} s warm ({np_warm / n:.2f} s/run)"
        )
    api = bench_api(nb, out, n)
    print(f"papermill API loop:  {n} runs in {api:.1f} s ({api / n:.2f} s/run)")
    if not args.skip_cli:
        cli = bench_cli(nb, out, n)
        print(f"papermill CLI loop:  {n} runs in {cli:.1f} s ({cli / n:.2f} s/run)")
        print(f"ratio vs CLI loop:   {cli / cold:.1f}x cold, {cli / warm:.1f}x warm (target >= 6x)")
    print(f"ratio vs API loop:   {api / cold:.1f}x cold, {api / warm:.1f}x warm (target >= 2x)")

    per_run, ticks = bench_dispatch()
    print(
        f"dispatch, no-op executor, 10,000 runs in a 1,000-node DAG: {per_run * 1000:.3f} ms "
        f"per run ({ticks} scheduler passes) (target <= 1 ms)"
    )
    late = bench_cron_lateness(root)
    print(
        f"cron lateness, every-second job, poll 0.1 s: {len(late)} ticks, median "
        f"{statistics.median(late):.3f} s, max {max(late):.3f} s (target <= 1 s)"
    )
    waits = bench_cross_process_wait(root)
    bell, poll = waits["doorbell"], waits["poll"]
    print(
        f"wait from another process's submission to dispatch, poll 1 s: doorbell median "
        f"{statistics.median(bell) * 1000:.0f} ms (max {max(bell) * 1000:.0f} ms), polling "
        f"only median {statistics.median(poll) * 1000:.0f} ms (max {max(poll) * 1000:.0f} "
        f"ms): {statistics.median(poll) / statistics.median(bell):.0f}x less waiting"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
