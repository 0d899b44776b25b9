"""Verify: re-run a notebook top to bottom in a fresh kernel and compare every cell's outputs
with the ones stored in it (what nbval does for CI, through the shared papermill runner).

Compared per code cell: ``text/plain`` of results and displays, stdout and stderr streams,
and errors (``ename: evalue``; tracebacks differ by machine). Rich outputs without text
(images, HTML-only) are compared by their MIME types only. Before comparing, both sides go
through sanitizers (memory addresses, timestamps and dates, durations, temporary paths, plus
any the caller gives), and numbers are compared with a tolerance (integers exactly).

Cell tags: ``mlinfra-skip`` (also ``nbval-skip``, ``skip-verify``): not run, not compared;
``mlinfra-ignore-output`` (also ``nbval-ignore-output``): run, not compared;
``raises-exception``: expected to fail (the run goes on). A cell whose stored outputs contain an
error is run as ``raises-exception`` too, so a notebook saved with a failing cell can still be
verified to fail the same way.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import nbformat

from .model import METADATA_KEY
from .sanitize import sanitize_outputs

SKIP_TAGS = frozenset({"mlinfra-skip", "nbval-skip", "skip-verify"})
IGNORE_OUTPUT_TAGS = frozenset({"mlinfra-ignore-output", "nbval-ignore-output"})

_TMP_ROOTS = sorted({tempfile.gettempdir(), "/tmp", "/var/tmp", "/var/folders",
                     "/private/var/folders"}, key=len, reverse=True)

DEFAULT_SANITIZERS: list[tuple[str, str]] = [
    (r"0x[0-9a-fA-F]{4,}", "0x<address>"),
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", "<timestamp>"),
    (r"\b\d{4}-\d{2}-\d{2}\b", "<date>"),
    (r"\b\d{1,2}:\d{2}:\d{2}(\.\d+)?\b", "<time>"),
    (r"(?:" + "|".join(re.escape(r) for r in _TMP_ROOTS) + r")/[^\s'\"),\]]*", "<tmp path>"),
    (r"\b\d+(\.\d+)?\s?(ns|µs|us|ms|s)\b ± \d+(\.\d+)?\s?(ns|µs|us|ms|s)\b", "<timing>"),
    (r"(Wall time|CPU times)[^\n]*", r"\1: <timing>"),
]

_ALREADY_LOADED = re.compile(r"The jupyter_mlinfra extension is already loaded\. To reload it, "
                             r"use:\n\s*%reload_ext jupyter_mlinfra\n?")
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")


@dataclass
class VerifyOptions:
    rtol: float = 1e-6
    atol: float = 1e-9
    compare_stderr: bool = True
    sanitizers: list[tuple[str, str]] = field(default_factory=list)  # extra (regex, repl)


def sanitize(text: str, extra: Iterable[tuple[str, str]] = ()) -> str:
    text = sanitize_outputs(text)  # progress bars, %timeit, warnings, widgets, sets
    for pattern, repl in list(DEFAULT_SANITIZERS) + list(extra):
        text = re.sub(pattern, repl, text)
    return text


def _numbers_close(a: str, b: str, opts: VerifyOptions) -> bool:
    if a == b:
        return True
    is_int = not any(ch in s for s in (a, b) for ch in ".eE")
    if is_int:
        return int(a) == int(b)
    try:
        return math.isclose(float(a), float(b), rel_tol=opts.rtol, abs_tol=opts.atol)
    except ValueError:
        return False


def texts_match(expected: str, actual: str, opts: VerifyOptions) -> bool:
    """Equal after sanitizing, with numbers compared under the tolerance."""
    if expected == actual:
        return True
    if _NUMBER.sub("#", expected) != _NUMBER.sub("#", actual):
        return False
    return all(_numbers_close(a, b, opts)
               for a, b in zip(_NUMBER.findall(expected), _NUMBER.findall(actual)))


def outputs_text(outputs: list[dict[str, Any]], opts: VerifyOptions | None = None) -> str:
    """The comparable text of a cell's outputs (consecutive stream chunks merged)."""
    opts = opts or VerifyOptions()
    parts: list[str] = []
    last_stream: str | None = None
    for out in outputs or []:
        kind = out.get("output_type")
        if kind == "stream":
            name = out.get("name", "stdout")
            if name == "stderr" and not opts.compare_stderr:
                continue
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            # A run that loaded the extension first (the runner records provenance) makes
            # the notebook's own %load_ext print this; it says nothing about the notebook.
            text = _ALREADY_LOADED.sub("", text)
            if not text:
                continue
            if last_stream == name:
                parts[-1] += text
            else:
                parts.append(f"[{name}]\n{text}")
            last_stream = name
            continue
        last_stream = None
        if kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "text/plain" in data:
                text = data["text/plain"]
                parts.append("[result]\n" + ("".join(text) if isinstance(text, list) else text))
            else:
                parts.append("[display] " + ", ".join(sorted(data)))
        elif kind == "error":
            parts.append(f"[error]\n{out.get('ename')}: {out.get('evalue')}")
    return sanitize("\n".join(p.rstrip("\n") for p in parts), opts.sanitizers)


@dataclass
class CellVerdict:
    index: int                 # position in the notebook
    cell_id: str
    status: str                # match | mismatch | error | skipped | not_run
    reason: str = ""
    diff: str = ""
    origin: dict | None = None  # replay cells: the execution they reproduce

    def to_dict(self) -> dict[str, Any]:
        data = {"index": self.index, "cell_id": self.cell_id, "status": self.status,
                "reason": self.reason, "diff": self.diff}
        if self.origin is not None:
            data["origin"] = self.origin
        return data


@dataclass
class VerifyResult:
    notebook: str
    cells: list[CellVerdict]
    replay: bool = False
    duration_s: float = 0.0
    run_error: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        counts = {k: 0 for k in ("match", "mismatch", "error", "skipped", "not_run")}
        for c in self.cells:
            counts[c.status] = counts.get(c.status, 0) + 1
        return counts

    @property
    def ok(self) -> bool:
        counts = self.counts
        return counts["mismatch"] == 0 and counts["error"] == 0 and counts["not_run"] == 0

    @property
    def verdict(self) -> str:
        return "pass" if self.ok else "fail"

    def to_dict(self) -> dict[str, Any]:
        return {"notebook": self.notebook, "replay": self.replay, "verdict": self.verdict,
                "ok": self.ok, "counts": self.counts, "duration_s": round(self.duration_s, 3),
                "run_error": self.run_error, "cells": [c.to_dict() for c in self.cells]}

    def to_text(self) -> str:
        lines = [f"verify {'replay of ' if self.replay else ''}{self.notebook}: "
                 f"{self.verdict.upper()}  "
                 + "  ".join(f"{k}={v}" for k, v in self.counts.items() if v)
                 + f"  ({self.duration_s:.1f} s)"]
        for c in self.cells:
            where = f"cell {c.index + 1}"
            if c.origin:
                where += f" (replays #{c.origin.get('seq')} of {c.origin.get('cell_id')})"
            lines.append(f"  {where:<16} {c.status}{': ' + c.reason if c.reason else ''}")
            if c.diff:
                lines.extend("      " + line for line in c.diff.splitlines())
        if self.run_error:
            lines.append(f"  run stopped: {self.run_error}")
        return "\n".join(lines)


def _tags(cell: Any) -> set[str]:
    return set((cell.get("metadata") or {}).get("tags") or [])


def _has_error(outputs: list[dict[str, Any]]) -> bool:
    return any(o.get("output_type") == "error" for o in outputs or [])


def prepare_for_run(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy to execute: skip-tagged cells become raw cells (not run); cells saved with an
    error are expected to raise."""
    run = copy.deepcopy(nb)
    for cell in run.cells:
        if cell.cell_type != "code":
            continue
        tags = _tags(cell)
        if tags & SKIP_TAGS:
            cell.cell_type = "raw"
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        if _has_error(cell.get("outputs")) and "raises-exception" not in tags:
            cell.setdefault("metadata", {}).setdefault("tags", []).append("raises-exception")
        cell.outputs = []
        cell.execution_count = None
    return run


def compare_cells(expected_nb: Any, executed_nb: Any, opts: VerifyOptions | None = None,
                  expected_outputs: dict[str, list] | None = None,
                  failed_cell_id: str | None = None) -> list[CellVerdict]:
    """Per-cell verdicts. Cells are matched by id. ``expected_outputs`` (cell id -> outputs)
    overrides the outputs stored in ``expected_nb`` (used for replays)."""
    opts = opts or VerifyOptions()
    executed = {c.get("id"): c for c in executed_nb.cells}
    verdicts: list[CellVerdict] = []
    reached_failure = False
    for index, cell in enumerate(expected_nb.cells):
        if cell.cell_type != "code":
            continue
        cid = cell.get("id")
        origin = ((cell.get("metadata") or {}).get(METADATA_KEY) or {}).get("origin")
        tags = _tags(cell)
        verdict = CellVerdict(index=index, cell_id=cid, status="match", origin=origin)
        verdicts.append(verdict)
        if tags & SKIP_TAGS:
            verdict.status, verdict.reason = "skipped", "skip tag"
            continue
        if not "".join(cell.get("source") or "").strip():
            verdict.status, verdict.reason = "skipped", "empty cell"
            continue
        ran = executed.get(cid)
        if reached_failure or ran is None or (ran.get("execution_count") is None
                                              and not ran.get("outputs")):
            verdict.status, verdict.reason = "not_run", "the run stopped before this cell"
            continue
        if cid == failed_cell_id:
            reached_failure = True
        new_outputs = ran.get("outputs", [])
        if expected_outputs is not None:
            if cid not in expected_outputs:
                if _has_error(new_outputs) and "raises-exception" not in tags:
                    verdict.status = "error"
                    verdict.reason = outputs_text([o for o in new_outputs
                                                   if o.get("output_type") == "error"])
                else:
                    verdict.status, verdict.reason = "skipped", "no recorded output to compare"
                continue
            old_outputs = expected_outputs[cid]
        else:
            if cell.get("execution_count") is None and not cell.get("outputs"):
                verdict.status, verdict.reason = "skipped", "never run in the saved notebook"
                continue
            old_outputs = cell.get("outputs", [])
        if tags & IGNORE_OUTPUT_TAGS:
            verdict.status, verdict.reason = "skipped", "output ignored by tag"
            continue
        if _has_error(new_outputs) and not _has_error(old_outputs):
            verdict.status = "error"
            verdict.reason = outputs_text([o for o in new_outputs
                                           if o.get("output_type") == "error"]).replace(
                "[error]\n", "")
            continue
        old_text, new_text = outputs_text(old_outputs, opts), outputs_text(new_outputs, opts)
        if not texts_match(old_text, new_text, opts):
            verdict.status = "mismatch"
            verdict.reason = "outputs differ"
            verdict.diff = "\n".join(difflib.unified_diff(
                old_text.splitlines(), new_text.splitlines(), "stored", "re-run", lineterm="",
                n=1))
    return verdicts


def run_notebook(nb: nbformat.NotebookNode, output_path: str | Path, **kwargs: Any,
                 ) -> tuple[nbformat.NotebookNode, str | None, str | None]:
    """Run ``nb`` with the shared runner, tolerating the errors of cells tagged
    ``raises-exception`` (papermill runs past them but raises at the end). Returns the executed
    notebook, the unexpected error (or None) and the id of the cell that raised it."""
    from ..notebook_execution import execute_notebook

    out = Path(output_path)
    try:
        return execute_notebook(nb, out, **kwargs), None, None
    except Exception as exc:  # papermill's PapermillExecutionError, a dead kernel
        if not out.exists():
            return nb, f"{type(exc).__name__}: {exc}", None
        executed = nbformat.read(out, as_version=4)
    for cell in executed.cells:
        if cell.cell_type == "code" and _has_error(cell.get("outputs")) and \
                "raises-exception" not in _tags(cell):
            err = next(o for o in cell.outputs if o.get("output_type") == "error")
            return executed, f"{err.get('ename')}: {err.get('evalue')}", cell.get("id")
    return executed, None, None


def run_and_compare(nb: nbformat.NotebookNode, *, name: str, expected_nb: Any = None,
                    expected_outputs: dict[str, list] | None = None, cwd: str | None = None,
                    kernel_name: str | None = None, timeout: float | None = None,
                    notebook_path: str | None = None, record_provenance: bool = True,
                    options: VerifyOptions | None = None, replay: bool = False,
                    output_path: str | Path | None = None,
                    provenance_sink: Any = None) -> VerifyResult:
    """Execute ``nb`` with the shared runner and compare with ``expected_nb`` (default: ``nb``).
    ``provenance_sink``: where the run's provenance records go (see ``execute_notebook``)."""
    from ..notebook_execution import load_notebook

    nb = load_notebook(nb)  # ids normalised once, so both sides match by id
    expected_nb = nb if expected_nb is None else expected_nb
    to_run = prepare_for_run(nb)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlinfra-verify-") as tmp:
        out = Path(output_path) if output_path else Path(tmp) / "verified.ipynb"
        executed, run_error, failed_cell_id = run_notebook(
            to_run, out, kernel_name=kernel_name, cwd=cwd or tmp, execution_timeout=timeout,
            notebook_path=notebook_path, record_provenance=record_provenance,
            provenance_sink=provenance_sink)
    verdicts = compare_cells(expected_nb, executed, options, expected_outputs, failed_cell_id)
    return VerifyResult(notebook=name, cells=verdicts, replay=replay,
                        duration_s=time.perf_counter() - started, run_error=run_error)
