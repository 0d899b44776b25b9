"""Replay share on messy sessions: does the replay slice of the last result reproduce it?

For each notebook of the verify corpus (tests/notebooks/corpus), a messy interactive session is
generated from a seed and run in a real kernel with recording on, in a folder holding the
notebook's inputs (``data/``), as its author would have it:

- the cells run top to bottom up to a random point, then a few of: a cell run twice, a jump
  back to an earlier cell (out of order), an edit (a number in a cell changed, the cell run,
  its dependents not), a deleted cell (removed from the notebook after it ran), a file
  rewritten (a scratch cell, run and then deleted, overwrites a file the notebook wrote or
  reads; half the time the cell that writes it runs again afterwards);
- last, the target: the last cell of the notebook that shows a value (a result or printed
  text) runs once more; its outputs are the live value.

Then the replay notebook of the last execution is taken through the public API inside that
kernel (``provenance.replay(out_path)``), run in a fresh kernel in an empty folder that holds
only the notebook's original inputs (what the session wrote is not there), and its last cell's
outputs are compared with the live ones by verify's comparison (sanitizers, number
tolerance). A session whose target fails live, or that needs what the machine does not have
(data/train.csv, the network), is left out of the share and listed.

    .venv/bin/python benchmarks/provenance_replay_corpus.py [--seed 0] [--workers 2] [names...]

Target (issue 11, item 7): at least 90% of the sessions reproduce.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _targets import verdict  # noqa: E402

CORPUS = ROOT / "tests" / "notebooks" / "corpus"
VENV_BIN = str(Path(sys.executable).parent)
CELL_TIMEOUT = 60
_NUMBER = re.compile(r"(?<![\w.'\"])(\d+)(?![\w.'\"])")
_WRITES_FILE = re.compile(
    r"to_csv\(|write_text\(|open\([^)]*['\"]wb?['\"]|\.dump\(|savefig\(|"
    r"> *[\w.]+\.csv"
)
_FILE_NAME = re.compile(r"['\"]([\w./-]+\.(?:csv|json|pkl|joblib|txt))['\"]|> *([\w.]+\.csv)")


@dataclass
class Session:
    name: str
    runs: list[tuple[str, str]] = field(default_factory=list)  # (cell id, source) in order
    steps: list[str] = field(default_factory=list)  # what happened, for the report
    notebook: list[tuple[str, str]] = field(default_factory=list)  # the cells at the end
    target: str | None = None


def _code_cells(nb) -> list[tuple[str, str]]:
    return [(c.get("id"), "".join(c.source)) for c in nb.cells if c.cell_type == "code"]


def _shows_value(cell) -> bool:
    return any(
        o.get("output_type") == "execute_result"
        or (o.get("output_type") == "stream" and o.get("name") == "stdout")
        for o in cell.get("outputs", [])
    ) and not any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def make_session(path: Path, seed: int) -> Session:
    """The messy session for one notebook, the same for the same seed."""
    nb = nbformat.read(path, as_version=4)
    rng = random.Random(f"{seed}:{path.stem}")
    cells = _code_cells(nb)
    showing = [c.get("id") for c in nb.cells if c.cell_type == "code" and _shows_value(c)]
    s = Session(path.stem)
    if not cells or not showing:
        return s
    s.target = showing[-1]
    current = dict(cells)
    order = [cid for cid, _ in cells]
    number = {cid: i + 1 for i, cid in enumerate(order)}

    def run(cid: str) -> None:
        s.runs.append((cid, current[cid]))

    upto = rng.randint(max(1, len(order) // 2), len(order))
    for cid in order[:upto]:
        run(cid)
    s.steps.append(f"ran cells 1-{upto}")
    ops = ["twice", "jump", "edit", "delete", "file"]
    for op in rng.sample(ops, k=rng.randint(3, 5)):
        candidates = [cid for cid in order if cid != s.target]
        if not candidates:
            break
        if op == "twice":
            cid = rng.choice(order)
            run(cid)
            run(cid)
            s.steps.append(f"ran cell {number[cid]} twice")
        elif op == "jump":
            start = rng.randrange(len(order))
            stop = rng.randint(start + 1, len(order))
            for cid in order[start:stop]:
                run(cid)
            s.steps.append(f"jumped back: ran cells {start + 1}-{stop}")
        elif op == "edit":
            editable = [cid for cid in order if _NUMBER.search(current[cid])]
            if not editable:
                continue
            cid = rng.choice(editable)
            matches = list(_NUMBER.finditer(current[cid]))
            m = rng.choice(matches)
            new = str(int(m.group(1)) + 1)
            current[cid] = current[cid][: m.start()] + new + current[cid][m.end() :]
            run(cid)
            s.steps.append(f"edited cell {number[cid]} ({m.group(1)} -> {new}) and ran it")
        elif op == "delete":
            cid = rng.choice(candidates)
            if cid not in [r[0] for r in s.runs]:
                run(cid)
            order.remove(cid)
            s.steps.append(f"deleted cell {number[cid]} after it ran")
        elif op == "file":
            writers = [cid for cid in order if _WRITES_FILE.search(current[cid])]
            names = [
                f
                for cid in order
                for m in _FILE_NAME.finditer(current[cid])
                for f in m.groups()
                if f
            ]
            target_file = rng.choice(names) if names else "scratch.txt"
            scratch = f"scratch-{len(s.runs)}"
            current[scratch] = (
                f"with open({target_file!r}, 'a') as _f:\n"
                f"    _f.write('')\nprint('touched {target_file}')"
            )
            if target_file.endswith((".csv", ".txt")) and names:
                current[scratch] = (
                    f"with open({target_file!r}) as _f:\n    _text = _f.read()\n"
                    f"with open({target_file!r}, 'w') as _f:\n"
                    f"    _f.write(_text.replace('1', '7'))"
                )
            run(scratch)
            s.steps.append(f"a scratch cell rewrote {target_file}, then was deleted")
            if writers and rng.random() < 0.5:
                cid = rng.choice(writers)
                run(cid)
                s.steps.append(f"ran the writer cell {number[cid]} again")
    run(s.target)
    s.steps.append(f"ran the target cell {number[s.target]}")
    s.notebook = [(cid, current[cid]) for cid in order]
    return s


class Kernel:
    """A real kernel; cells go with their ``cellId`` as JupyterLab sends them."""

    def __init__(self, cwd: Path, env: dict[str, str]):
        from jupyter_client import KernelManager

        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def execute(self, source: str, cell_id: str | None = None, silent: bool = False) -> dict:
        content = {
            "code": source,
            "silent": silent,
            "store_history": not silent,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": False,
        }
        msg = self.kc.session.msg(
            "execute_request", content, metadata={"cellId": cell_id} if cell_id else {}
        )
        self.kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        outputs: list = []
        deadline = time.monotonic() + CELL_TIMEOUT
        while True:
            try:
                reply = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"cell {cell_id} did not finish in {CELL_TIMEOUT} s") from None
            if reply["parent_header"].get("msg_id") != msg_id:
                continue
            kind = reply["msg_type"]
            if kind == "status" and reply["content"]["execution_state"] == "idle":
                break
            if kind in ("stream", "execute_result", "display_data", "error"):
                outputs.append(nbformat.v4.output_from_msg(reply))
            elif kind == "clear_output":
                outputs.clear()
        while True:  # skip replies to other requests (wait_for_ready's extra kernel_info)
            shell = self.kc.get_shell_msg(timeout=CELL_TIMEOUT)
            if shell["parent_header"].get("msg_id") == msg_id:
                return {"outputs": outputs, "status": shell["content"].get("status")}

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@dataclass
class Outcome:
    name: str
    status: str  # reproduced | differs | excluded
    reason: str = ""
    steps: list[str] = field(default_factory=list)
    slice_cells: int = 0


def run_one(path: Path, seed: int, home: Path) -> Outcome:
    from jupyter_mlinfra.core.provenance.verify import (
        VerifyOptions,
        outputs_text,
        run_notebook,
        texts_match,
    )

    session = make_session(path, seed)
    out = Outcome(path.stem, "excluded", steps=session.steps)
    if session.target is None:
        out.reason = "no cell shows a value"
        return out
    with tempfile.TemporaryDirectory(prefix=f"messy-{path.stem}-") as tmp:
        tmp = Path(tmp)
        work, empty = tmp / "work", tmp / "replay"
        shutil.copytree(CORPUS / "data", work / "data")
        shutil.copytree(CORPUS / "data", empty / "data")  # the original inputs only
        nb_path = work / path.name
        shutil.copy(path, nb_path)
        env = dict(
            os.environ,
            MLINFRA_HOME=str(home),
            JPY_SESSION_NAME=str(nb_path),
            PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
        )
        kernel = Kernel(work, env)
        try:
            kernel.execute(
                "import jupyter_mlinfra as _m\n_m.load_ipython_extension(get_ipython())\ndel _m",
                silent=True,
            )
            live = None
            for cid, source in session.runs:
                live = kernel.execute(source, cid)
            replay_path = tmp / "replay.ipynb"
            got = kernel.execute(
                "from jupyter_mlinfra import provenance as _p\n"
                f"print(_p.replay({str(replay_path)!r})['cells'])\ndel _p",
                silent=False,
            )
        finally:
            kernel.close()
        if live["status"] != "ok" or any(o.get("output_type") == "error" for o in live["outputs"]):
            err = next((o for o in live["outputs"] if o.get("output_type") == "error"), {})
            out.reason = f"the target fails live: {err.get('ename')}: {err.get('evalue')}"[:160]
            return out
        if got["status"] != "ok" or not replay_path.exists():
            out.status = "differs"
            out.reason = "no replay notebook: " + outputs_text(got["outputs"])[:160]
            return out
        replay_nb = nbformat.read(replay_path, as_version=4)
        out.slice_cells = sum(1 for c in replay_nb.cells if c.cell_type == "code")
        executed, error, _cell = run_notebook(
            replay_nb,
            tmp / "replayed.ipynb",
            cwd=empty,
            kernel_name="python3",
            record_provenance=False,
            execution_timeout=CELL_TIMEOUT,
        )
    code = [c for c in executed.cells if c.cell_type == "code"]
    replayed = code[-1].get("outputs", []) if code else []
    opts = VerifyOptions()
    want, have = outputs_text(live["outputs"], opts), outputs_text(replayed, opts)
    if texts_match(want, have, opts):
        out.status = "reproduced"
        return out
    out.status = "differs"
    if error:
        out.reason = f"the replay stopped: {error}"[:200]
    else:
        out.reason = f"live {want!r} != replay {have!r}"[:200]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", help="also write the outcomes here")
    ap.add_argument("--verbose", action="store_true", help="list the reproduced sessions too")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args(argv)
    paths = sorted(CORPUS.glob("*.ipynb"))
    if args.names:
        paths = [p for p in paths if p.stem in args.names]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="messy-home-") as home:

        def one(p: Path) -> Outcome:
            try:
                return run_one(p, args.seed, Path(home))
            except Exception as exc:  # a crash of the harness or the tool: reported as such
                return Outcome(
                    p.stem,
                    "differs",
                    f"crash: {type(exc).__name__}: {exc}"[:200],
                    make_session(p, args.seed).steps,
                )

        with ThreadPoolExecutor(args.workers) as pool:
            outcomes = list(pool.map(one, paths))
    counted = [o for o in outcomes if o.status != "excluded"]
    ok = [o for o in counted if o.status == "reproduced"]
    share = len(ok) / len(counted) if counted else 0.0
    print(
        f"notebooks: {len(outcomes)}  sessions compared: {len(counted)}  "
        f"excluded: {len(outcomes) - len(counted)}  reproduced: {len(ok)}  "
        f"share: {share:.1%}  (seed {args.seed}, {time.perf_counter() - started:.0f} s)"
    )
    print(f"reproduced share {share:.1%} {verdict(share * 100, 90, '%', at_least=True)}")
    for o in outcomes:
        if o.status != "reproduced" or args.verbose:
            print(f"  {o.status:<10} {o.name}: {o.reason or f'{o.slice_cells} replay cells'}")
            print(f"             session: {'; '.join(o.steps)}")
    if args.json:
        Path(args.json).write_text(json.dumps([o.__dict__ for o in outcomes], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
