"""Provenance against ipyflow: what each costs per cell, and whether each flags a stale cell.

ipyflow (a dataflow kernel that traces every cell to keep its dependency graph) is the tool a
user would pick to be told which cells are stale. It runs in its own venv
(``benchmarks/.venvs/ipyflow``, ``make bench-venvs``), so it gets its own plain kernel as a
baseline: that venv's ipykernel, started by the same interpreter.

Four kernels get the same cell stream (``provenance_overhead.small_cells``: assignments, list
appends, function definitions and calls, prints), one cell at a time in rotation (who goes
first rotates too), so load changes hit all alike:

- plain: this venv's ipykernel (``python3``);
- recording: the same with ``%load_ext jupyter_mlinfra`` (throwaway SQLite catalog);
- ipyflow's plain: ipyflow's venv's ipykernel;
- ipyflow: ``python -m ipyflow.kernel`` from that venv.

Per cell: the execute round trip (ms, median) and the kernel process's CPU (psutil from
outside, all threads, mean per cell over the run; the recording kernel is read once it has
written every cell to the catalog). Added = kernel minus its own plain kernel.

Stale-cell scenario, on fresh kernels: cell ``a: x = 1`` runs, then ``b: y = x + 1``, then
``a`` is edited to ``x = 5`` and run again (each request carries its cell id, as JupyterLab
sends it). Cell b is now stale (y was computed from the old x). Each tool is asked
what it knows: ours with ``provenance.check(cells=...)`` in the kernel, ipyflow with its own
dataflow state (the cells it holds as waiting, i.e. needing re-execution, the way its
front-end asks).

Run: ``python benchmarks/provenance_ipyflow.py [--cells 200] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _venvs
from provenance_overhead import small_cells

VENV_BIN = str(Path(sys.executable).parent)
KERNELS = ("plain", "recording", "ipyflow-plain", "ipyflow")
BASELINE = {"recording": "plain", "ipyflow": "ipyflow-plain"}

# Run a, then b, then edit a and run it again: b's y was computed from the old x.
STALE_RUNS = [("a", "x = 1"), ("b", "y = x + 1"), ("a", "x = 5")]
STALE_NOTEBOOK = [("a", "x = 5"), ("b", "y = x + 1")]
OURS_QUERY = """
import json
from jupyter_mlinfra import provenance
_r = provenance.check(cells=CELLS)
print("STALE=" + json.dumps(_r.stale))
"""
# ipyflow's own dataflow state, as its front-end asks for it after each execution: "ready"
# cells (an input changed since they ran: re-run them) and "waiting" cells (they read a value
# that is itself out of date), and the symbols it holds as waiting.
IPYFLOW_QUERY = """
import json
from ipyflow.singletons import flow as _flow
_res = _flow().check_and_link_multiple_cells()
_syms = sorted(str(s.readable_name) for s in list(_flow().global_scope.all_symbols_this_indentation())
               if getattr(s, "is_waiting", False))
print("STALE=" + json.dumps({"ready_cells": sorted(map(str, _res.ready_cells)),
                             "waiting_cells": sorted(map(str, _res.waiting_cells)),
                             "waiting_symbols": _syms}))
"""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def write_kernelspecs(root: Path) -> None:
    """Kernel specs for ipyflow's venv: its plain ipykernel and ipyflow's kernel."""
    py = str(_venvs.python("ipyflow"))
    for name, argv in (
        ("ipyflow-plain", [py, "-m", "ipykernel_launcher", "-f", "{connection_file}"]),
        ("ipyflow", [py, "-m", "ipyflow.kernel", "-f", "{connection_file}"]),
    ):
        d = root / "kernels" / f"bench-{name}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "kernel.json").write_text(
            json.dumps({"argv": argv, "display_name": name, "language": "python"})
        )


def spec_name(kind: str) -> str:
    return "python3" if kind in ("plain", "recording") else f"bench-{kind}"


def notebook(kind: str, sources: list[str]):
    first = "%load_ext jupyter_mlinfra\nlst = []" if kind == "recording" else "import os\nlst = []"
    cells = [new_code_cell(first)] + [new_code_cell(s) for s in sources]
    return new_notebook(
        cells=cells, metadata={"kernelspec": {"name": spec_name(kind), "display_name": kind}}
    )


def kernel_cpu(client: NotebookClient) -> float:
    t = psutil.Process(client.km.provisioner.pid).cpu_times()
    return t.user + t.system


def executions(home: str) -> int:
    path = Path(home) / "catalog.db"
    if not path.exists():
        return 0
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute("select count(*) from mlinfra_provenance_executions").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the recording kernel did not write every cell in time")
        time.sleep(0.05)


def run_round(kinds: list[str], n: int, home: str) -> dict[str, tuple[list[float], float]]:
    """Per-cell ms and kernel CPU ms per cell for each kernel, fed the same cells in turn."""
    sources = small_cells(n)
    clients = {
        k: NotebookClient(notebook(k, sources), timeout=120, kernel_name=spec_name(k))
        for k in kinds
    }
    times: dict[str, list[float]] = {k: [] for k in kinds}
    before = executions(home)
    from contextlib import ExitStack

    with ExitStack() as stack:
        for c in clients.values():
            stack.enter_context(c.setup_kernel())
        for i in range(n + 1):
            order = kinds[i % len(kinds) :] + kinds[: i % len(kinds)]
            for k in order:
                c = clients[k]
                t0 = time.perf_counter()
                c.execute_cell(c.nb.cells[i], i)
                if i:
                    times[k].append((time.perf_counter() - t0) * 1000.0)
            if i == 0:
                time.sleep(1.0)  # set-up (the recorder's first write) over for every kernel
                start = {k: kernel_cpu(c) for k, c in clients.items()}
        if "recording" in kinds:
            wait_for(lambda: executions(home) >= before + n)
        time.sleep(0.5)
        return {k: (times[k], (kernel_cpu(c) - start[k]) * 1000.0 / n) for k, c in clients.items()}


def stale_scenario(kind: str) -> str:
    """Run the stale-cell scenario on a fresh kernel, sending each cell's id in the request's
    metadata (``cellId``) as JupyterLab does, and return what the tool reports."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name=spec_name(kind))
    try:

        def run(code: str, cell_id: str) -> str:
            content = {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            }
            msg = kc.session.msg("execute_request", content, metadata={"cellId": cell_id})
            kc.shell_channel.send(msg)
            text = []
            while True:
                out = kc.get_iopub_msg(timeout=120)
                if out["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                    continue
                c = out["content"]
                if out["msg_type"] == "stream":
                    text.append(c["text"])
                elif out["msg_type"] == "error":
                    text.append(f"error: {c['ename']}: {c['evalue']}")
                elif out["msg_type"] == "status" and c["execution_state"] == "idle":
                    return "".join(text)

        run("%load_ext jupyter_mlinfra" if kind == "recording" else "import os", "setup")
        for cell_id, source in STALE_RUNS:
            run(source, cell_id)
        if kind == "recording":
            query = OURS_QUERY.replace(
                "CELLS", json.dumps([{"id": c, "source": s} for c, s in STALE_NOTEBOOK])
            )
        else:
            query = IPYFLOW_QUERY
        answer = run(query, "query")
        return answer.split("STALE=", 1)[1].strip() if "STALE=" in answer else answer.strip()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ["PATH"] = VENV_BIN + os.pathsep + os.environ.get("PATH", "")
    home = tempfile.mkdtemp(prefix="mlinfra-bench-ipyflow-")
    os.environ["MLINFRA_HOME"] = home
    os.environ.pop("MLINFRA_CATALOG_URL", None)
    specs = Path(home) / "jupyter"
    missing = _venvs.unavailable("ipyflow")
    kinds = list(KERNELS)
    if missing is None:
        write_kernelspecs(specs)
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            p for p in (str(specs), os.environ.get("JUPYTER_PATH", "")) if p
        )
    else:
        kinds = ["plain", "recording"]
    from jupyter_mlinfra.core.workspace import get_workspace

    get_workspace().catalog.ensure_schema()

    print(
        f"provenance vs ipyflow: {args.cells} small cells, {args.rounds} rounds, kernels fed "
        f"in rotation; {_now()}; load average {_load()}"
        + (f"; ipyflow {_venvs.status('ipyflow').get('version')}" if missing is None else "")
    )
    per: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    for r in range(args.rounds):
        res = run_round(kinds, args.cells, home)
        for k, (times, cpu) in res.items():
            per[k].append((statistics.median(times), cpu))
        print(
            f"  round {r + 1}: "
            + ", ".join(
                f"{k} {statistics.median(t):.2f} ms/cell CPU {c:.2f} ms"
                for k, (t, c) in res.items()
            )
            + f"; load average {_load()}",
            flush=True,
        )
    med = {
        k: (statistics.median(a for a, _ in v), statistics.median(c for _, c in v))
        for k, v in per.items()
    }
    print(f"\nper cell (medians over rounds; {_now()}; load average {_load()}):")
    print(f"  {'kernel':34} {'ms/cell':>8} {'CPU ms/cell':>11} {'added ms':>9} {'added CPU':>9}")
    for k in kinds:
        wall, cpu = med[k]
        base = BASELINE.get(k)
        if base is None:
            print(f"  {k:34} {wall:8.3f} {cpu:11.3f}")
            continue
        aw, ac = wall - med[base][0], cpu - med[base][1]
        label = "jupyter_mlinfra recording" if k == "recording" else "ipyflow kernel"
        print(f"  {label:34} {wall:8.3f} {cpu:11.3f} {aw:+9.3f} {ac:+9.3f}")
    if "ipyflow" in med:
        rw, rc = med["recording"]
        iw, ic = med["ipyflow"]
        print(
            f"  ratio ours / ipyflow: ms/cell {rw / iw:.3f}x, kernel CPU/cell {rc / ic:.3f}x; "
            f"ours / plain kernel: ms/cell {rw / med['plain'][0]:.3f}x, CPU "
            f"{rc / med['plain'][1]:.3f}x; ipyflow / its plain kernel: ms/cell "
            f"{iw / med['ipyflow-plain'][0]:.3f}x, CPU {ic / med['ipyflow-plain'][1]:.3f}x"
        )
    if missing:
        print(f"  {missing}")

    print(
        "\nstale-cell scenario (run a: x = 1, b: y = x + 1, then a edited to x = 5 and run "
        "again: cell b is stale):"
    )
    print(f"  jupyter_mlinfra provenance.check: stale = {stale_scenario('recording')}")
    if missing:
        print(f"  {missing}")
    else:
        print(f"  ipyflow: {stale_scenario('ipyflow')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
