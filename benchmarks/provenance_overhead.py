"""Provenance overhead: what recording every execution costs per cell, and whether it grows.

Notebooks of 200 and 400 small cells (assignments, list appends, function definitions and
calls, prints) are executed with nbclient on a plain kernel (the baseline) and on a kernel with
recording on (``%load_ext jupyter_mlinfra`` in the first cell, writing to a throwaway catalog).
Both kernels run side by side and get the cells alternately, one cell at a time (who goes first
alternates too), so that the load of the shared machine hits both alike. Per-cell time is measured around each execute request (nbclient's ``on_cell_execute`` to
``on_cell_executed`` hooks), i.e. the round trip a user waits for.

Reported:
- added ms per cell: median per-cell time with recording minus the plain kernel's, per pair of
  runs, then the median over the pairs;
- growth: median per-cell time of cells 350-400 divided by that of cells 1-50 (400-cell runs),
  for both kernels: recording adds no growth when the two ratios are the same.

Kernel CPU (issue 13): each kernel's process CPU time (user + system, every thread: the
recorder's background thread included), read with psutil from outside the kernel, so the
measurement itself costs the kernel nothing:
- CPU per cell added: (recording kernel's CPU over the n cells - the plain kernel's) / n, the
  mean over 400 cells; read once the recording kernel has written every cell to the catalog
  (both kernels idle equally long before the reading);
- set-up CPU added: the first cell (``%load_ext jupyter_mlinfra`` vs a plain ``import os``)
  until the recorder has registered its session in the catalog;
- first write: in a fresh process with IPython already imported (as in a kernel), the CPU of
  what the recorder's first write costs: opening its catalog writer (imports included),
  registering the session and writing one execution, on a catalog created beforehand.
The machine is shared, so the load average is printed beside the figures.

Targets: at most 0.3 ms added latency per cell (issue 3) and no growth with session length (a
tracing kernel measured on this machine adds about 50 ms per cell, growing to 120 ms by cell
400); at most 0.5 ms of kernel CPU added per cell and at most 0.1 s for the first write
(issue 13).

    .venv/bin/python benchmarks/provenance_overhead.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil  # ipykernel's dependency
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _targets import verdict

VENV_BIN = str(Path(sys.executable).parent)


def small_cells(n: int) -> list[str]:
    cells = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            cells.append(f"x{i} = {i}")
        elif kind == 1:
            cells.append(f"lst.append({i})")
        elif kind == 2:
            cells.append(f"def f{i}(a):\n    return a + x{i - 2}")
        elif kind == 3:
            cells.append(f"y = f{i - 1}(len(lst))")
        else:
            cells.append("print(y)")
    return cells


def build(n: int, record: bool) -> nbformat.NotebookNode:
    first = "%load_ext jupyter_mlinfra\nlst = []" if record else "import os\nlst = []"
    cells = [new_code_cell(first)] + [new_code_cell(src) for src in small_cells(n)]
    return new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )


def _kernel_cpu(client: NotebookClient) -> float:
    """The kernel process's CPU seconds so far (user + system, all its threads)."""
    t = psutil.Process(client.km.provisioner.pid).cpu_times()
    return t.user + t.system


def _catalog_counts(home: str) -> tuple[int, int]:
    """(sessions, executions) in the throwaway catalog (0, 0 before it exists)."""
    path = Path(home) / "catalog.db"
    if not path.exists():
        return 0, 0
    conn = sqlite3.connect(path, timeout=30)
    try:
        return (
            conn.execute("select count(*) from mlinfra_provenance_sessions").fetchone()[0],
            conn.execute("select count(*) from mlinfra_provenance_executions").fetchone()[0],
        )
    except sqlite3.OperationalError:  # tables not there yet
        return 0, 0
    finally:
        conn.close()


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the recording kernel did not write to the catalog in time")
        time.sleep(0.05)


def run_pair(
    n: int, home: str
) -> tuple[list[float], list[float], dict[bool, float], dict[bool, float]]:
    """Per-cell times in ms (cells 1..n; the set-up cell 0 excluded) of a plain kernel and a
    recording kernel, both started at once and fed the same cells alternately (cell i goes to
    one then the other, who goes first alternating), so load changes hit both alike; and each
    kernel's CPU seconds for the set-up cell (until the recorder's session is in the catalog)
    and for the n cells (until every one is in the catalog)."""
    clients = {
        record: NotebookClient(build(n, record), timeout=60, kernel_name="python3")
        for record in (False, True)
    }
    times: dict[bool, list[float]] = {False: [], True: []}
    setup_cpu: dict[bool, float] = {}
    cells_cpu: dict[bool, float] = {}
    sessions0, executions0 = _catalog_counts(home)
    with clients[False].setup_kernel(), clients[True].setup_kernel():
        # the kernels' own start-up is over before the first reading
        start = {r: _kernel_cpu(c) for r, c in clients.items()}
        for i in range(n + 1):
            for record in (False, True) if i % 2 == 0 else (True, False):
                client = clients[record]
                started = time.perf_counter()
                client.execute_cell(client.nb.cells[i], i)
                if i:
                    times[record].append((time.perf_counter() - started) * 1000.0)
            if i == 0:
                _wait_for(lambda: _catalog_counts(home)[0] > sessions0)
                time.sleep(0.5)  # both idle alike; the recorder's first write is done
                after = {r: _kernel_cpu(c) for r, c in clients.items()}
                setup_cpu = {r: after[r] - start[r] for r in clients}
                start = after
        _wait_for(lambda: _catalog_counts(home)[1] >= executions0 + n)
        time.sleep(0.5)
        cells_cpu = {r: _kernel_cpu(c) - start[r] for r, c in clients.items()}
    return times[False], times[True], setup_cpu, cells_cpu


FIRST_WRITE = """
import sys, time
import IPython  # a kernel has IPython loaded before the recorder starts
from jupyter_mlinfra.core.provenance.model import Execution, KernelSession
from jupyter_mlinfra.kernel.provenance_recorder import _default_service, new_session_id
sid, now = new_session_id(), time.time()
t0 = time.process_time()
writer = _default_service()
writer.register_session(KernelSession(session_id=sid, notebook_path="/bench/first.ipynb",
                                      started_at=now))
writer.record([Execution(seq=1, cell_id="c1", source="x = 1", session_id=sid,
                         notebook_path="/bench/first.ipynb", started_at=now, ended_at=now,
                         binds=frozenset({"x"}))])
print(time.process_time() - t0, type(writer).__name__, "sqlalchemy.orm" in sys.modules)
"""


def first_write_cost(rounds: int = 5) -> None:
    """CPU of the recorder's first write in a fresh process (median of ``rounds``)."""
    costs = []
    for _ in range(rounds):
        # not run from the checkout (sys.path[0] = ''): PYTHONPATH chooses the package
        out = subprocess.run(
            [sys.executable, "-c", FIRST_WRITE],
            check=True,
            capture_output=True,
            text=True,
            cwd=os.environ["MLINFRA_HOME"],
        ).stdout.split()
        costs.append(float(out[0]))
    print(
        f"\nfirst write (fresh process, IPython loaded; open the writer, register a "
        f"session, write one execution): median {statistics.median(costs) * 1000:.0f} ms "
        f"CPU over {rounds} (writer {out[1]}, sqlalchemy.orm imported: {out[2]}; "
        f"load average {_load()}) {verdict(statistics.median(costs), 0.1, ' s')}"
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ["PATH"] = VENV_BIN + os.pathsep + os.environ.get("PATH", "")
    home = tempfile.mkdtemp(prefix="mlinfra-bench-prov-")
    os.environ["MLINFRA_HOME"] = home  # the recording kernels write to a throwaway catalog
    os.environ.pop("MLINFRA_CATALOG_URL", None)

    # the catalog exists and is migrated before the kernels start (as with the server)
    from jupyter_mlinfra.core.workspace import get_workspace

    get_workspace().catalog.ensure_schema()
    results: dict[tuple[int, bool], list[list[float]]] = {}
    setup_added: list[float] = []
    cpu_added: dict[int, list[float]] = {}
    started = time.perf_counter()
    for r in range(args.rounds):
        for n in (200, 400):
            plain, rec, setup_cpu, cells_cpu = run_pair(n, home)
            results.setdefault((n, False), []).append(plain)
            results.setdefault((n, True), []).append(rec)
            setup_added.append(setup_cpu[True] - setup_cpu[False])
            added = (cells_cpu[True] - cells_cpu[False]) * 1000.0 / n
            cpu_added.setdefault(n, []).append(added)
            print(
                f"round {r + 1} n={n}: plain median {statistics.median(plain):.3f} ms/cell, "
                f"recording {statistics.median(rec):.3f} ms/cell; kernel CPU plain "
                f"{cells_cpu[False] * 1000 / n:.3f} ms/cell, recording "
                f"{cells_cpu[True] * 1000 / n:.3f} ms/cell ({added:+.3f}); set-up CPU "
                f"plain {setup_cpu[False] * 1000:.0f} ms, recording "
                f"{setup_cpu[True] * 1000:.0f} ms; load average {_load()}",
                flush=True,
            )

    print(
        f"\nprovenance overhead ({args.rounds} rounds, alternating; "
        f"{time.perf_counter() - started:.0f} s; other processes share the CPU)"
    )
    print(f"{'cells':>6} {'plain ms/cell':>14} {'recording ms/cell':>18} {'added ms/cell':>14}")
    for n in (200, 400):
        plain = [statistics.median(t) for t in results[(n, False)]]
        rec = [statistics.median(t) for t in results[(n, True)]]
        added = statistics.median([b - a for a, b in zip(plain, rec)])
        print(
            f"{n:>6} {statistics.median(plain):>14.3f} {statistics.median(rec):>18.3f} "
            f"{added:>+14.3f}  latency added {verdict(added, 0.3, ' ms')}"
        )

    print(
        f"\nkernel CPU added per cell (mean over the cells of a run; median over "
        f"{args.rounds} runs): "
        + ", ".join(f"{n} cells {statistics.median(v):+.3f} ms" for n, v in cpu_added.items())
        + f"; set-up CPU added (%load_ext + first write): median "
        f"{statistics.median(setup_added) * 1000:.0f} ms; load average {_load()}"
    )
    worst = max(statistics.median(v) for v in cpu_added.values())
    print(
        f"kernel CPU added per cell, the larger of the two: {worst:+.3f} ms "
        f"{verdict(worst, 0.5, ' ms')}"
    )

    def growth(record: bool) -> float:
        ratios = []
        for times in results[(400, record)]:
            early = statistics.median(times[0:50])  # cells 1-50
            late = statistics.median(times[349:400])  # cells 350-400
            ratios.append(late / early)
        return statistics.median(ratios)

    g_plain, g_rec = growth(False), growth(True)
    print(
        f"\ngrowth, cells 350-400 vs 1-50 (400 cells): plain {g_plain:.3f}x, "
        f"recording {g_rec:.3f}x (recording / plain: {g_rec / g_plain:.3f}; no growth: "
        f"{verdict(g_rec / g_plain, 1.1, 'x')})"
    )
    catalog = Path(home) / "catalog.db"
    if catalog.exists():
        rows = (
            sqlite3.connect(catalog)
            .execute("select count(*) from mlinfra_provenance_executions")
            .fetchone()[0]
        )
        expected = args.rounds * (200 + 400)  # the %load_ext cell itself is not recorded
        print(f"recorded executions in the catalog: {rows} (expected {expected})")
    first_write_cost()
    hook_cost()
    return 0


def hook_cost(n: int = 400) -> None:
    """The recorder's own time on the kernel thread (pre_run_cell + post_run_cell), measured
    in-process around the hooks, for cells 1-50 and 350-400 of a 400-cell session."""
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    from jupyter_mlinfra.kernel.provenance_recorder import ProvenanceRecorder

    shell = start_ipython() or get_ipython()
    shell.reset(new_session=False)
    rec = ProvenanceRecorder(shell, notebook_path="/bench/hooks.ipynb", write_to_catalog=False)
    spent: list[float] = []
    pre, post = rec.pre_run_cell, rec.post_run_cell

    def timed_pre(info):
        t = time.perf_counter()
        pre(info)
        spent.append(time.perf_counter() - t)

    def timed_post(result):
        t = time.perf_counter()
        post(result)
        spent[-1] += time.perf_counter() - t

    rec.pre_run_cell, rec.post_run_cell = timed_pre, timed_post
    rec.start()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            shell.run_cell("lst = []", cell_id="setup")
            for i, src in enumerate(small_cells(n)):
                shell.run_cell(src, cell_id=f"c{i}", store_history=True)
        rec.flush()
    finally:
        rec.stop()
    us = [s * 1e6 for s in spent[1:]]
    early, late = statistics.median(us[0:50]), statistics.median(us[349:400])
    print(
        f"\nrecorder time on the kernel thread (in-process, {n} cells, "
        f"{len(shell.user_ns)} names in the namespace at the end): median "
        f"{statistics.median(us):.1f} us/cell; cells 1-50 {early:.1f} us, cells 350-400 "
        f"{late:.1f} us ({late / early:.2f}x); records built: {len(rec.builder.executions)}"
    )


if __name__ == "__main__":
    sys.exit(main())
