"""Re-creates ``provenance_demo.ipynb``: a messy interactive session, as a person has it.

A real kernel receives the cells with their cell ids (as JupyterLab sends them) in the order a
person might run them: the outlier filter after the mean, a scratch cell later deleted, an edit
not re-run, a cell never run. The notebook is saved with the outputs of that session and its
execution log in ``metadata.jupyter_mlinfra`` (what the side panel writes on save), so
``jupyter mlinfra check provenance_demo.ipynb`` finds the hazards on any machine.

    .venv/bin/python example_notebooks/provenance_demo_session.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, output_from_msg

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "provenance_demo.ipynb"

CELLS = [
    (
        "intro",
        "md",
        "# Provenance demo: hazards found and fixed\n\n"
        "A small price analysis, as it looks after an interactive session: cells ran out of "
        "order, one was edited and not re-run, a scratch cell was deleted, one never ran. "
        "The kernel's state no longer matches the notebook. `%mlinfra check` (last cell) says "
        "where and why; the *Fix* section at the end says what to do.",
    ),
    ("setup", "code", "%load_ext jupyter_mlinfra"),
    ("load", "code", "prices = [10.0, 12.5, 11.0, 40.0]"),
    ("clean", "code", "prices = [p for p in prices if p < 30]  # drop the outlier"),
    (
        "mean",
        "code",
        "import statistics\nmean_price = statistics.mean(prices)\n"
        'print(f"mean price: {mean_price:.2f}")',
    ),
    ("describe", "code", 'print(len(prices), "prices")'),
    (
        "report",
        "code",
        'summary = {"n": len(prices), "mean": round(mean_price, 2), "currency": currency}\nsummary',
    ),
    (
        "check-md",
        "md",
        "## Check\n\n`%mlinfra check` compares the kernel's execution history "
        "with the notebook as it is now.",
    ),
    ("check", "code", "%mlinfra check"),
    (
        "fix-md",
        "md",
        "## Fix\n\n1. `currency` lives only in the kernel (its cell was deleted): "
        'define it in a cell, e.g. `currency = "EUR"` above the report.\n'
        "2. Restart the kernel and run all cells top to bottom: the stale `mean`, the "
        "out-of-order runs and the edited cell are then all consistent.\n"
        "3. `%mlinfra check` reports no hazard; `jupyter mlinfra verify provenance_demo.ipynb` "
        "re-runs it in a fresh kernel and compares every output.\n\n"
        "`make demo` does exactly this on a copy (see `run_demo.py`, `step_provenance`).",
    ),
]

# (cell id, source run) in the order the person ran them; "scratch" is later deleted.
SESSION = [
    ("setup", None),
    ("load", None),
    ("mean", "import statistics\nmean_price = statistics.mean(prices)"),  # edited later
    ("scratch", 'currency = "EUR"'),
    ("clean", None),
    ("report", None),
    ("check", None),
]


def build_notebook() -> nbformat.NotebookNode:
    cells = []
    for cid, kind, src in CELLS:
        cell = new_markdown_cell(src, id=cid) if kind == "md" else new_code_cell(src, id=cid)
        if cid == "check":  # its output describes the session, not the computation
            cell.metadata["tags"] = ["mlinfra-ignore-output"]
        cells.append(cell)
    return new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )


def run_session(nb: nbformat.NotebookNode, path: Path) -> nbformat.NotebookNode:
    from jupyter_client.manager import start_new_kernel

    by_id = {c.get("id"): c for c in nb.cells}
    env = dict(os.environ, JPY_SESSION_NAME=str(path))
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(path.parent))
    try:
        for cid, source in SESSION:
            cell = by_id.get(cid)
            code = source if source is not None else cell.source
            outputs = []

            def hook(msg, outputs=outputs):
                if msg["msg_type"] in ("stream", "execute_result", "display_data", "error"):
                    outputs.append(output_from_msg(msg))

            msg = kc.session.msg(
                "execute_request",
                {
                    "code": code,
                    "silent": False,
                    "store_history": True,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
                metadata={"cellId": cid},
            )
            kc.shell_channel.send(msg)
            while True:
                io = kc.get_iopub_msg(timeout=60)
                if io["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                    continue
                if io["msg_type"] == "status" and io["content"]["execution_state"] == "idle":
                    break
                hook(io)
            while True:
                reply = kc.get_shell_msg(timeout=60)
                if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                    break
            if cell is not None:
                cell.outputs = outputs
                cell.execution_count = reply["content"].get("execution_count")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    return nb


def main() -> int:
    home = tempfile.mkdtemp(prefix="mlinfra-demo-session-")
    os.environ["MLINFRA_HOME"] = home
    from jupyter_mlinfra.core.provenance.model import attach_log
    from jupyter_mlinfra.core.workspace import Workspace

    nb = build_notebook()
    nbformat.write(nb, NOTEBOOK)  # saved before the session, as JupyterLab has it on disk
    nb = run_session(nb, NOTEBOOK)
    ws = Workspace.open()
    log = ws.service("provenance").stored_log(str(NOTEBOOK))
    assert log is not None and len(log.executions) == len(SESSION) - 1, "session not recorded"
    log.notebook_path = "provenance_demo.ipynb"
    for e in log.executions:
        e.notebook_path = "provenance_demo.ipynb"
    attach_log(nb, log)
    nbformat.validate(nb)
    nbformat.write(nb, NOTEBOOK)
    ws.close()
    print(f"wrote {NOTEBOOK} ({len(log.executions)} recorded executions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
