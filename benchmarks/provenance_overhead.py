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

Target (issue 3): at most 0.3 ms added per cell, and no growth with session length (a tracing
kernel measured on this machine adds about 50 ms per cell, growing to 120 ms by cell 400).

    .venv/bin/python benchmarks/provenance_overhead.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

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
    return new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})


def run_pair(n: int) -> tuple[list[float], list[float]]:
    """Per-cell times in ms (cells 1..n; the set-up cell 0 excluded) of a plain kernel and a
    recording kernel, both started at once and fed the same cells alternately (cell i goes to
    one then the other, who goes first alternating), so load changes hit both alike."""
    clients = {record: NotebookClient(build(n, record), timeout=60, kernel_name="python3")
               for record in (False, True)}
    times: dict[bool, list[float]] = {False: [], True: []}
    with clients[False].setup_kernel(), clients[True].setup_kernel():
        for i in range(n + 1):
            for record in ((False, True) if i % 2 == 0 else (True, False)):
                client = clients[record]
                started = time.perf_counter()
                client.execute_cell(client.nb.cells[i], i)
                if i:
                    times[record].append((time.perf_counter() - started) * 1000.0)
    return times[False], times[True]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ["PATH"] = VENV_BIN + os.pathsep + os.environ.get("PATH", "")
    home = tempfile.mkdtemp(prefix="mlinfra-bench-prov-")
    os.environ["MLINFRA_HOME"] = home  # the recording kernels write to a throwaway catalog
    os.environ.pop("MLINFRA_CATALOG_URL", None)

    results: dict[tuple[int, bool], list[list[float]]] = {}
    started = time.perf_counter()
    for r in range(args.rounds):
        for n in (200, 400):
            plain, rec = run_pair(n)
            results.setdefault((n, False), []).append(plain)
            results.setdefault((n, True), []).append(rec)
            print(f"round {r + 1} n={n}: plain median {statistics.median(plain):.3f} ms/cell, "
                  f"recording {statistics.median(rec):.3f} ms/cell", flush=True)

    print(f"\nprovenance overhead ({args.rounds} rounds, alternating; "
          f"{time.perf_counter() - started:.0f} s; other processes share the CPU)")
    print(f"{'cells':>6} {'plain ms/cell':>14} {'recording ms/cell':>18} {'added ms/cell':>14}")
    for n in (200, 400):
        plain = [statistics.median(t) for t in results[(n, False)]]
        rec = [statistics.median(t) for t in results[(n, True)]]
        added = statistics.median([b - a for a, b in zip(plain, rec)])
        print(f"{n:>6} {statistics.median(plain):>14.3f} {statistics.median(rec):>18.3f} "
              f"{added:>+14.3f}")

    def growth(record: bool) -> float:
        ratios = []
        for times in results[(400, record)]:
            early = statistics.median(times[0:50])      # cells 1-50
            late = statistics.median(times[349:400])    # cells 350-400
            ratios.append(late / early)
        return statistics.median(ratios)

    g_plain, g_rec = growth(False), growth(True)
    print(f"\ngrowth, cells 350-400 vs 1-50 (400 cells): plain {g_plain:.3f}x, "
          f"recording {g_rec:.3f}x (recording / plain: {g_rec / g_plain:.3f})")
    catalog = Path(home) / "catalog.db"
    if catalog.exists():
        import sqlite3

        rows = sqlite3.connect(catalog).execute(
            "select count(*) from mlinfra_provenance_executions").fetchone()[0]
        expected = args.rounds * (200 + 400)  # the %load_ext cell itself is not recorded
        print(f"recorded executions in the catalog: {rows} (expected {expected})")
    hook_cost()
    return 0


def hook_cost(n: int = 400) -> None:
    """The recorder's own time on the kernel thread (pre_run_cell + post_run_cell), measured
    in-process around the hooks, for cells 1-50 and 350-400 of a 400-cell session."""
    from IPython.testing.globalipapp import start_ipython

    from jupyter_mlinfra.kernel.provenance_recorder import ProvenanceRecorder

    from IPython import get_ipython

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
    print(f"\nrecorder time on the kernel thread (in-process, {n} cells, "
          f"{len(shell.user_ns)} names in the namespace at the end): median "
          f"{statistics.median(us):.1f} us/cell; cells 1-50 {early:.1f} us, cells 350-400 "
          f"{late:.1f} us ({late / early:.2f}x); records built: {len(rec.builder.executions)}")


if __name__ == "__main__":
    sys.exit(main())
