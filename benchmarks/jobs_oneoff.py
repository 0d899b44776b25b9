"""One-off runs and sweeps: jupyter_mlinfra against the tools a user would pick instead, in one
run, interleaved (round after round, each tool once per round), on the same two-cell
parameterized notebook:

- one-off from a shell: ``jupyter mlinfra run NB -p x 1 --wait`` with no scheduler running,
  and with a warm scheduler (``jupyter mlinfra scheduler``) alive, against
  ``papermill NB out.ipynb -p x 1``;
- in-process: ``jobs.run(NB, parameters=..., wait=True)`` against
  ``papermill.execute_notebook``, the first call from a new process and the next ones;
- a sweep of 40 runs: ``jupyter mlinfra sweep NB -g x 0,...,39 --wait`` against the
  papermill API loop one run at a time and ``xargs -P 2 papermill`` (same cores).

Wall time and the CPU time of the whole process tree (``getrusage(RUSAGE_CHILDREN)`` of this
parent, which waits for every child and so for their waited descendants; for the warm
scheduler, its own tree's CPU by psutil is added; in-process calls, psutil over the calling
process's tree, kernel templates included). Medians over the rounds.

    .venv/bin/python benchmarks/jobs_oneoff.py [--rounds 3] [--runs 40] [--calls 4]

Targets (issue 13): one-off <= 0.6x papermill's wall (warm scheduler <= 0.3x), in-process
<= 0.5x papermill's API, sweep CPU <= 0.35 s per run and wall >= 4x faster than the API loop.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

VENV_BIN = str(Path(sys.executable).parent)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _targets import verdict  # noqa: E402
from jobs_throughput import write_notebook  # noqa: E402  (the same two-cell notebook)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def tree_cpu(pid: int) -> float:
    """CPU of a live process, its live descendants and the children they waited for."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def timed(
    cmd: list[str] | str, cwd: Path, env: dict, extra_pid: int | None = None, shell: bool = False
) -> tuple[float, float, str]:
    """(wall, CPU of the process tree, stdout) of one command."""
    cpu0 = children_cpu()
    extra0 = tree_cpu(extra_pid) if extra_pid else 0.0
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, shell=shell)
    wall = time.perf_counter() - started
    cpu = children_cpu() - cpu0 + ((tree_cpu(extra_pid) - extra0) if extra_pid else 0.0)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return wall, cpu, proc.stdout


IN_PROCESS = r"""
import json, resource, sys, time
calls, kind, nb, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
import psutil
def cpu():   # this process, its live descendants (a kernel template) and the waited ones
    procs = [psutil.Process()]
    procs += procs[0].children(recursive=True)
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total
res = []
for i in range(calls):
    t0, c0 = time.perf_counter(), cpu()
    if kind == "mlinfra":
        from jupyter_mlinfra import jobs
        run = jobs.run(nb, parameters={"x": i}, wait=True)
        assert run["state"] == "succeeded", run
    else:
        import papermill
        papermill.execute_notebook(nb, f"{out}/inproc-{i}.ipynb", parameters={"x": i},
                                   progress_bar=False, log_output=False)
    res.append((time.perf_counter() - t0, cpu() - c0))
print(json.dumps(res))
"""


def start_scheduler(cwd: Path, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [os.path.join(VENV_BIN, "jupyter"), "mlinfra", "scheduler", "--poll-interval", "1"],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # serving once it is listed as alive
        out = subprocess.run(
            [os.path.join(VENV_BIN, "jupyter"), "mlinfra", "scheduler", "--status", "--json"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
        ).stdout
        try:
            if any(s.get("serving") for s in json.loads(out or "[]")):
                return proc
        except ValueError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the scheduler did not start")


def med(values: list[float]) -> float:
    return statistics.median(values)


def line(label: str, wall: list[float], cpu: list[float], per: int = 1) -> str:
    return f"  {label:<48} wall {med(wall):6.2f} s  CPU {med(cpu):6.2f} s" + (
        f"  ({med(cpu) / per:.2f} s CPU/run, {med(wall) / per:.2f} s wall/run)" if per > 1 else ""
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=40, help="runs in a sweep")
    parser.add_argument("--calls", type=int, default=4, help="in-process calls per process")
    parser.add_argument(
        "--skip", action="append", default=[], choices=["oneoff", "warm", "inprocess", "sweep"]
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mlinfra-bench-oneoff-"))
    root, out = tmp / "root", tmp / "out"
    root.mkdir()
    out.mkdir()
    nb = root / "nb.ipynb"
    write_notebook(nb)
    env = {
        **os.environ,
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
        "MLINFRA_HOME": str(tmp / "home"),
        "MLINFRA_ROOT_DIR": str(root),
    }
    jupyter, papermill = os.path.join(VENV_BIN, "jupyter"), os.path.join(VENV_BIN, "papermill")
    mlinfra_run = [jupyter, "mlinfra", "run", "nb.ipynb", "-p", "x", "1", "--wait"]
    pm_cli = [papermill, "nb.ipynb", str(out / "cli.ipynb"), "-p", "x", "1", "--log-level", "ERROR"]
    loads: list[float] = []
    res: dict[str, tuple[list[float], list[float]]] = {}

    def record(key: str, wall: float, cpu: float) -> None:
        res.setdefault(key, ([], []))[0].append(wall)
        res[key][1].append(cpu)

    timed(mlinfra_run, root, env)  # the catalog is created once, not in a round
    print(
        f"jobs one-off and sweep benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} "
        f"UTC, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; "
        f"{args.rounds} interleaved rounds, medians",
        flush=True,
    )
    n = args.runs
    grid = ",".join(str(i) for i in range(n))
    for rnd in range(args.rounds):
        loads.append(os.getloadavg()[0])
        if "oneoff" not in args.skip:
            record("oneoff", *timed(mlinfra_run, root, env)[:2])
            record("pm_cli", *timed(pm_cli, root, env)[:2])
        if "inprocess" not in args.skip:
            for kind in ("mlinfra", "papermill"):
                _w, _c, text = timed(
                    [sys.executable, "-c", IN_PROCESS, str(args.calls), kind, str(nb), str(out)],
                    root,
                    env,
                )
                calls = json.loads(text)
                record(f"{kind}_first", *calls[0])
                for w, c in calls[1:]:
                    record(f"{kind}_steady", w, c)
        if "sweep" not in args.skip:
            record(
                "sweep",
                *timed(
                    [jupyter, "mlinfra", "sweep", "nb.ipynb", "-g", "x", grid, "--wait"], root, env
                )[:2],
            )
            record(
                "pm_loop",
                *timed(
                    [sys.executable, "-c", IN_PROCESS, str(n), "papermill", str(nb), str(out)],
                    root,
                    env,
                )[:2],
            )
            xargs = (
                f"seq 0 {n - 1} | xargs -P 2 -I{{}} {papermill} nb.ipynb "
                f"{out}/x-{{}}.ipynb -p x {{}} --log-level ERROR"
            )
            record("pm_xargs", *timed(xargs, root, env, shell=True)[:2])
        print(
            f"  round {rnd + 1}/{args.rounds} done, load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    if "warm" not in args.skip:
        sched = start_scheduler(root, env)
        try:
            for _ in range(args.rounds):
                loads.append(os.getloadavg()[0])
                record("warm", *timed(mlinfra_run, root, env, extra_pid=sched.pid)[:2])
                record("pm_cli_w", *timed(pm_cli, root, env)[:2])
        finally:
            sched.terminate()
            sched.wait(30)
    print(
        f"load average during the rounds: min {min(loads):.1f}, median {med(loads):.1f}, "
        f"max {max(loads):.1f} ({os.cpu_count()} cores)"
    )

    def ratio(a: str, b: str, i: int = 0) -> float:
        return med(res[a][i]) / med(res[b][i])

    if "oneoff" in res:
        print("one-off from a shell, no scheduler running:")
        print(line("jupyter mlinfra run NB -p x 1 --wait", *res["oneoff"]))
        print(line("papermill NB out.ipynb -p x 1", *res["pm_cli"]))
        print(
            f"  ratio: {ratio('oneoff', 'pm_cli'):.2f}x papermill's wall "
            f"{verdict(ratio('oneoff', 'pm_cli'), 0.6, 'x')}; {ratio('oneoff', 'pm_cli', 1):.2f}x "
            "its CPU"
        )
    if "warm" in res:
        print("one-off from a shell, a warm scheduler alive (its CPU counted):")
        print(line("jupyter mlinfra run NB -p x 1 --wait", *res["warm"]))
        print(line("papermill NB out.ipynb -p x 1", *res["pm_cli_w"]))
        print(
            f"  ratio: {ratio('warm', 'pm_cli_w'):.2f}x papermill's wall "
            f"{verdict(ratio('warm', 'pm_cli_w'), 0.3, 'x')}; "
            f"{ratio('warm', 'pm_cli_w', 1):.2f}x its CPU"
        )
    if "mlinfra_first" in res:
        print("in-process, no scheduler running:")
        for when in ("first", "steady"):
            print(line(f"jobs.run(NB, wait=True), {when} call", *res[f"mlinfra_{when}"]))
            print(line(f"papermill.execute_notebook, {when} call", *res[f"papermill_{when}"]))
            print(
                f"  ratio ({when}): {ratio(f'mlinfra_{when}', f'papermill_{when}'):.2f}x "
                f"papermill's wall "
                f"{verdict(ratio(f'mlinfra_{when}', f'papermill_{when}'), 0.5, 'x')}; "
                f"{ratio(f'mlinfra_{when}', f'papermill_{when}', 1):.2f}x its CPU"
            )
    if "sweep" in res:
        print(f"sweep of {n} runs (2 cores):")
        print(line("jupyter mlinfra sweep NB -g x ... --wait", *res["sweep"], per=n))
        print(line("papermill API loop, one at a time", *res["pm_loop"], per=n))
        print(line("xargs -P 2 papermill", *res["pm_xargs"], per=n))
        speed_up, per_run = 1 / ratio("sweep", "pm_loop"), med(res["sweep"][1]) / n
        print(
            f"  speed-up: {speed_up:.2f}x the API loop's wall "
            f"{verdict(speed_up, 4, 'x', at_least=True)}; "
            f"{1 / ratio('sweep', 'pm_xargs'):.2f}x xargs -P 2's"
        )
        print(
            f"  CPU per run {per_run:.3f} s {verdict(per_run, 0.35, ' s')}; the API loop "
            f"{med(res['pm_loop'][1]) / n:.2f} s, xargs -P 2 {med(res['pm_xargs'][1]) / n:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
