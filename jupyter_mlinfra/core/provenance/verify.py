"""Verify: re-run a notebook top to bottom in a fresh kernel and compare every cell's outputs
with the ones stored in it (what nbval does for CI, through the shared papermill runner).

Compared per code cell: ``text/plain`` of results and displays, stdout and stderr (each
stream on its own: how the two interleave depends on buffering, not on the notebook), and
errors (``ename: evalue``; tracebacks differ by machine). An output carrying an image (a
figure) and rich outputs without text are compared by their MIME types only, never by their
``text/plain`` placeholder (``<Figure size 640x480 with 1 Axes>``). Before comparing, both
sides go through sanitizers (memory addresses, timestamps and dates, durations, temporary
paths, plus any the caller gives), and numbers are compared with a tolerance (integers
exactly), whatever padding numpy puts around them.

A verify never passes a run that failed: a cell that raises without being expected to (even
one with no saved output), a kernel that dies, a timeout, a ``UsageError``, ``sys.exit()``, a
kernel that does not exist: each makes the verdict "fail" and says why, naming the cell.

Cell markers, as nbclient and nbval read them (tags, or nbval's comment lines such as
``# NBVAL_SKIP``):

- not run, not compared: tags ``skip-execution`` (nbclient), ``nbval-skip``, ``mlinfra-skip``,
  ``skip-verify``; comment ``NBVAL_SKIP``;
- run, not compared: tags ``nbval-ignore-output``, ``mlinfra-ignore-output``; comment
  ``NBVAL_IGNORE_OUTPUT``;
- compared even in lax mode (``VerifyOptions.lax``, nbval's ``--nbval-lax``) and even when
  the saved notebook has no output for it: tag ``nbval-check-output``; comment
  ``NBVAL_CHECK_OUTPUT``;
- expected to raise (the run goes on; an error is not a failure): tags ``raises-exception``,
  ``nbval-raises-exception``; comment ``NBVAL_RAISES_EXCEPTION``. A cell whose stored outputs
  contain an error is run this way too, so a notebook saved with a failing cell can still be
  verified to fail the same way.

Length (over ~500 lines): verify's comparison rules (markers, sanitizers, tolerances, verdicts) are read together with the run they judge.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .model import METADATA_KEY
from .sanitize import sanitize_outputs

if TYPE_CHECKING:
    import nbformat

# nbformat is imported where a notebook is read or run, never at import: importing it costs
# over a second of CPU (jsonschema's format checkers build grammars), and this module is
# imported by jupyter_mlinfra.provenance, which the first `%mlinfra check` in a kernel loads.

SKIP_TAGS = frozenset({"mlinfra-skip", "nbval-skip", "skip-verify", "skip-execution"})
IGNORE_OUTPUT_TAGS = frozenset({"mlinfra-ignore-output", "nbval-ignore-output"})
CHECK_OUTPUT_TAGS = frozenset({"mlinfra-check-output", "nbval-check-output"})
RAISES_TAGS = frozenset({"raises-exception", "nbval-raises-exception"})
# nbval's comment markers: a line of the cell that is only ``# MARKER``
NBVAL_COMMENT_MARKERS = {
    "NBVAL_SKIP": "skip",
    "NBVAL_IGNORE_OUTPUT": "ignore_output",
    "PYTEST_VALIDATE_IGNORE_OUTPUT": "ignore_output",
    "NBVAL_CHECK_OUTPUT": "check_output",
    "NBVAL_RAISES_EXCEPTION": "raises",
}

_TMP_ROOTS = sorted(
    {tempfile.gettempdir(), "/tmp", "/var/tmp", "/var/folders", "/private/var/folders"},
    key=len,
    reverse=True,
)

DEFAULT_SANITIZERS: list[tuple[str, str]] = [
    (r"0x[0-9a-fA-F]{4,}", "0x<address>"),
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", "<timestamp>"),
    (r"\b\d{4}-\d{2}-\d{2}\b", "<date>"),
    # the same as Python reprs: dt.datetime.now() and dt.date.today() shown as results
    (
        r"datetime\.datetime\(\d{4}, \d{1,2}, \d{1,2}(?:, \d+){0,5}"
        r"(?:, tzinfo=[^()]*(?:\([^()]*\))?)?\)",
        "<timestamp>",
    ),
    (r"datetime\.date\(\d{4}, \d{1,2}, \d{1,2}\)", "<date>"),
    (r"\b\d{1,2}:\d{2}:\d{2}(\.\d+)?\b", "<time>"),
    (r"(?:" + "|".join(re.escape(r) for r in _TMP_ROOTS) + r")/[^\s'\"),\]]*", "<tmp path>"),
    (r"\b\d+(\.\d+)?\s?(ns|µs|us|ms|s)\b ± \d+(\.\d+)?\s?(ns|µs|us|ms|s)\b", "<timing>"),
    (r"(Wall time|CPU times)[^\n]*", r"\1: <timing>"),
]

_ALREADY_LOADED = re.compile(
    r"The jupyter_mlinfra extension is already loaded\. To reload it, "
    r"use:\n\s*%reload_ext jupyter_mlinfra\n?"
)
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")


@dataclass
class VerifyOptions:
    rtol: float = 1e-6
    atol: float = 1e-9
    compare_stderr: bool = True
    sanitizers: list[tuple[str, str]] = field(default_factory=list)  # extra (regex, repl)
    lax: bool = False  # compare only cells marked NBVAL_CHECK_OUTPUT (nbval's --nbval-lax)


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


# the spaces numpy pads columns with, around a number or a bracket or separator
_PADDING = re.compile(r"[ \t]*([\x00\[\](),;])[ \t]*")


def _skeleton(text: str) -> str:
    """The text with every number replaced by one placeholder and the padding around
    numbers, brackets and separators removed."""
    return _PADDING.sub(r"\1", _NUMBER.sub("\x00", text))


def texts_match(expected: str, actual: str, opts: VerifyOptions) -> bool:
    """Equal after sanitizing, with numbers compared under the tolerance (and however numpy
    padded them)."""
    if expected == actual:
        return True
    if _skeleton(expected) != _skeleton(actual):
        return False
    return all(
        _numbers_close(a, b, opts)
        for a, b in zip(_NUMBER.findall(expected), _NUMBER.findall(actual))
    )


def _is_figure(data: dict[str, Any]) -> bool:
    return any(mime.startswith("image/") or mime == "application/pdf" for mime in data)


def outputs_text(outputs: list[dict[str, Any]], opts: VerifyOptions | None = None) -> str:
    """The comparable text of a cell's outputs: each stream's text in one piece (stdout, then
    stderr, however the chunks interleaved), then results, displays and errors in order."""
    opts = opts or VerifyOptions()
    streams: dict[str, str] = {"stdout": "", "stderr": ""}
    parts: list[str] = []
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
            streams[name] = streams.get(name, "") + _ALREADY_LOADED.sub("", text)
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "text/plain" in data and not _is_figure(data):
                text = data["text/plain"]
                parts.append("[result]\n" + ("".join(text) if isinstance(text, list) else text))
            else:  # a figure: its text/plain is a placeholder; compare what it is drawn as
                parts.append("[display] " + ", ".join(sorted(data)))
        elif kind == "error":
            parts.append(f"[error]\n{out.get('ename')}: {out.get('evalue')}")
    parts = [f"[{name}]\n{text}" for name, text in streams.items() if text] + parts
    return sanitize("\n".join(p.rstrip("\n") for p in parts), opts.sanitizers)


@dataclass
class CellVerdict:
    index: int  # position in the notebook
    cell_id: str
    status: str  # match | mismatch | error | skipped | not_run
    reason: str = ""
    diff: str = ""
    origin: dict | None = None  # replay cells: the execution they reproduce

    def to_dict(self) -> dict[str, Any]:
        data = {
            "index": self.index,
            "cell_id": self.cell_id,
            "status": self.status,
            "reason": self.reason,
            "diff": self.diff,
        }
        if self.origin is not None:
            data["origin"] = self.origin
        return data


@dataclass
class VerifyResult:
    notebook: str
    cells: list[CellVerdict]
    replay: bool = False
    duration_s: float = 0.0
    run_error: str | None = None  # why the run stopped, in one line (None: it did not)
    stop: dict | None = None  # the same as data: RunStop.to_dict()

    @property
    def counts(self) -> dict[str, int]:
        counts = {k: 0 for k in ("match", "mismatch", "error", "skipped", "not_run")}
        for c in self.cells:
            counts[c.status] = counts.get(c.status, 0) + 1
        return counts

    @property
    def ok(self) -> bool:
        counts = self.counts
        return (
            counts["mismatch"] == 0
            and counts["error"] == 0
            and counts["not_run"] == 0
            and self.run_error is None
        )

    @property
    def verdict(self) -> str:
        return "pass" if self.ok else "fail"

    def to_dict(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "replay": self.replay,
            "verdict": self.verdict,
            "ok": self.ok,
            "counts": self.counts,
            "duration_s": round(self.duration_s, 3),
            "duration_seconds": round(self.duration_s, 3),
            "run_error": self.run_error,
            "stop": self.stop,
            "cells": [c.to_dict() for c in self.cells],
        }

    def to_text(self) -> str:
        head = (
            f"verify {'replay of ' if self.replay else ''}{self.notebook}: {self.verdict.upper()}"
        )
        if self.stop and self.stop.get("cell_index") is None:
            # nothing ran (no such kernel...): one line says it all
            return f"{head}  the run did not start: {self.run_error}"
        lines = [
            head
            + "  "
            + "  ".join(f"{k}={v}" for k, v in self.counts.items() if v)
            + f"  ({self.duration_s:.1f} s)"
        ]
        cells = list(self.cells)
        i = 0
        while i < len(cells):
            c = cells[i]
            if c.status == "not_run":  # one line for the cells after a stop
                j = i
                while j + 1 < len(cells) and cells[j + 1].status == "not_run":
                    j += 1
                where = (
                    f"cell {c.index + 1}" if j == i else f"cells {c.index + 1}-{cells[j].index + 1}"
                )
                lines.append(f"  {where:<16} not_run: {c.reason}")
                i = j + 1
                continue
            where = f"cell {c.index + 1}"
            if c.origin:
                where += f" (replays #{c.origin.get('seq')} of {c.origin.get('cell_id')})"
            lines.append(f"  {where:<16} {c.status}{': ' + c.reason if c.reason else ''}")
            if c.diff:
                lines.extend("      " + line for line in c.diff.splitlines())
            i += 1
        stop_cell = (self.stop or {}).get("cell_id")
        if self.run_error and not any(c.cell_id == stop_cell for c in self.cells):
            lines.append(f"  run stopped: {self.run_error}")
        return "\n".join(lines)


def _tags(cell: Any) -> set[str]:
    tags = (cell.get("metadata") or {}).get("tags") or []
    return set(tags) if isinstance(tags, list) else set()


@dataclass(frozen=True)
class CellMarkers:
    """What a cell's tags and nbval comment markers ask of verify."""

    skip: bool = False  # not run, not compared
    raises: bool = False  # an error is expected
    check: bool | None = None  # compare (True) / do not (False) / the default (None)
    why: str = ""  # the marker that decided ``skip`` or ``check``


def cell_markers(cell: Any) -> CellMarkers:
    """Tags first, then nbval's comment lines (``# NBVAL_SKIP``...), which win, as in nbval."""
    tags = _tags(cell)
    skip = bool(tags & SKIP_TAGS)
    raises = bool(tags & RAISES_TAGS)
    check: bool | None = None
    why = next(iter(sorted(tags & SKIP_TAGS)), "")
    if tags & IGNORE_OUTPUT_TAGS:
        check, why = False, why or min(tags & IGNORE_OUTPUT_TAGS)
    if tags & CHECK_OUTPUT_TAGS:
        check, why = True, why or min(tags & CHECK_OUTPUT_TAGS)
    source = cell.get("source") or ""
    source = "".join(source) if isinstance(source, list) else source
    for line in source.splitlines():
        line = line.strip()
        if not line.startswith("#"):
            continue
        marker = NBVAL_COMMENT_MARKERS.get(line.lstrip("#").strip())
        if marker == "skip":
            skip, why = True, "# NBVAL_SKIP"
        elif marker == "raises":
            raises = True
        elif marker in ("ignore_output", "check_output"):
            check = marker == "check_output"
            if not skip:
                why = "# NBVAL_" + ("CHECK_OUTPUT" if check else "IGNORE_OUTPUT")
    return CellMarkers(skip=skip, raises=raises, check=check, why=why)


def _has_error(outputs: list[dict[str, Any]] | None) -> bool:
    return any(o.get("output_type") == "error" for o in outputs or [])


def _never_run(cell: Any) -> bool:
    return cell.get("execution_count") is None and not cell.get("outputs")


def prepare_for_run(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy to execute: skipped cells become raw cells (not run); cells expected to raise
    (by a marker, or saved with an error) are tagged ``raises-exception`` for nbclient."""
    run = copy.deepcopy(nb)
    for cell in run.cells:
        if cell.cell_type != "code":
            continue
        markers = cell_markers(cell)
        if markers.skip:
            cell.cell_type = "raw"
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        if (markers.raises or _has_error(cell.get("outputs"))) and "raises-exception" not in _tags(
            cell
        ):
            meta = cell.setdefault("metadata", {})
            meta["tags"] = [*_tags(cell), "raises-exception"]
        cell.outputs = []
        cell.execution_count = None
    return run


_NETWORK_ERRORS = (
    "URLError",
    "ConnectionError",
    "ConnectionRefusedError",
    "gaierror",
    "ConnectTimeout",
    "ConnectTimeoutError",
    "MaxRetryError",
    "HTTPError",
    "NewConnectionError",
    "socket.timeout",
    "TimeoutError",
)


def _error_text(outputs: list[dict[str, Any]]) -> str:
    """The cell's error, led by what the cell needs when the error says so: a missing file
    ("needs data/train.csv"), a missing package, or the network."""
    errors = [o for o in outputs if o.get("output_type") == "error"]
    text = outputs_text(errors).replace("[error]\n", "")
    need = _needs(outputs)
    return f"needs {need}: {text}" if need else text


def _needs(outputs: list[dict[str, Any]]) -> str | None:
    errors = [o for o in outputs or [] if o.get("output_type") == "error"]
    if not errors:
        return None
    ename, evalue = str(errors[-1].get("ename", "")), str(errors[-1].get("evalue", ""))
    if ename == "FileNotFoundError":
        match = re.search(r"No such file or directory: '([^']+)'", evalue)
        return match.group(1) if match else "a file that is not there"
    if ename == "ModuleNotFoundError":
        match = re.search(r"No module named '([^']+)'", evalue)
        return f"the package {match.group(1)}" if match else "a package that is not installed"
    if (
        ename in _NETWORK_ERRORS
        or "Connection refused" in evalue
        or "Name or service not known" in evalue
    ):
        return "the network"
    return None


def compare_cells(
    expected_nb: Any,
    executed_nb: Any,
    opts: VerifyOptions | None = None,
    expected_outputs: dict[str, list] | None = None,
    failed_cell_id: str | None = None,
    stop: Any = None,
) -> list[CellVerdict]:
    """Per-cell verdicts. Cells are matched by id. ``expected_outputs`` (cell id -> outputs)
    overrides the outputs stored in ``expected_nb`` (used for replays). ``stop`` (a
    ``RunStop``) or ``failed_cell_id``: where the run stopped; that cell is an error and the
    cells after it were not run."""
    opts = opts or VerifyOptions()
    executed = {c.get("id"): c for c in executed_nb.cells}
    stop_cell = getattr(stop, "cell_id", None) or failed_cell_id
    verdicts: list[CellVerdict] = []
    reached_stop = stop is not None and getattr(stop, "cell_index", None) is None
    for index, cell in enumerate(expected_nb.cells):
        if cell.cell_type != "code":
            continue
        cid = cell.get("id")
        origin = ((cell.get("metadata") or {}).get(METADATA_KEY) or {}).get("origin")
        markers = cell_markers(cell)
        verdict = CellVerdict(index=index, cell_id=cid, status="match", origin=origin)
        verdicts.append(verdict)
        if markers.skip:
            verdict.status, verdict.reason = "skipped", f"skipped ({markers.why})"
            continue
        if not "".join(cell.get("source") or "").strip():
            verdict.status, verdict.reason = "skipped", "empty cell"
            continue
        ran = executed.get(cid)
        if reached_stop or ran is None:
            verdict.status, verdict.reason = "not_run", "the run stopped before this cell"
            continue
        new_outputs = ran.get("outputs", [])
        if cid == stop_cell:
            reached_stop = True
            verdict.status = "error"
            verdict.reason = (
                getattr(stop, "message", None) or _error_text(new_outputs) or "the cell failed"
            )
            need = _needs(new_outputs)
            if need and not verdict.reason.startswith("needs "):
                verdict.reason = f"needs {need}: {verdict.reason}"
            continue
        if _never_run(ran):
            verdict.status, verdict.reason = "not_run", "the run stopped before this cell"
            continue
        if expected_outputs is not None:
            old_outputs = expected_outputs.get(cid)
        elif _never_run(cell) and markers.check is not True:
            old_outputs = None
        else:
            old_outputs = cell.get("outputs", [])
        expects_error = markers.raises or _has_error(old_outputs)
        if _has_error(new_outputs) and not expects_error:
            verdict.status, verdict.reason = "error", _error_text(new_outputs)
            continue
        if old_outputs is None:
            verdict.status = "skipped"
            verdict.reason = (
                "no recorded output to compare"
                if expected_outputs is not None
                else "never run in the saved notebook"
            )
            continue
        compare = markers.check if markers.check is not None else not opts.lax
        if not compare:
            verdict.status = "skipped"
            verdict.reason = (
                f"output not compared ({markers.why})"
                if markers.why
                else "output not compared (lax)"
            )
            continue
        old_text, new_text = outputs_text(old_outputs, opts), outputs_text(new_outputs, opts)
        if not texts_match(old_text, new_text, opts):
            verdict.status = "mismatch"
            verdict.reason = "outputs differ"
            verdict.diff = "\n".join(
                difflib.unified_diff(
                    old_text.splitlines(),
                    new_text.splitlines(),
                    "stored",
                    "re-run",
                    lineterm="",
                    n=1,
                )
            )
    return verdicts


def run_until_stop(
    nb: nbformat.NotebookNode, output_path: str | Path | None = None, **kwargs: Any
) -> tuple[nbformat.NotebookNode, Any]:
    """Run ``nb`` with the shared runner, writing ``output_path`` (if any) once at the end.
    Cells tagged ``raises-exception`` may fail; anything else that stops the run (a cell's
    error, a dead kernel, a timeout, no such kernel) comes back as a ``RunStop``. Returns the
    executed notebook (as far as it ran) and the stop, or None. ``kernel_env``: the kernel
    process's whole environment (the central service's: without its credentials)."""
    from ..notebook_execution import RunOutcome, execute_notebook

    outcome = RunOutcome()
    kernel_env = kwargs.pop("kernel_env", None)
    km = None
    try:
        if kernel_env is not None:
            from ..jobs.kernels import start_kernel

            km = start_kernel(kwargs.get("kernel_name") or "python3", env=kernel_env)
            kwargs["kernel_manager"] = km
        execute_notebook(nb, output_path, save_every_cell=False, outcome=outcome, **kwargs)
    except Exception:  # papermill's PapermillExecutionError, DeadKernelError, NoSuchKernel...
        pass  # ...all described by outcome.stop
    finally:
        if km is not None:
            from ..jobs.kernels import kill_kernel

            kill_kernel(km)
    executed = outcome.notebook if outcome.notebook is not None else nb
    return executed, outcome.stop


def run_notebook(
    nb: nbformat.NotebookNode, output_path: str | Path | None = None, **kwargs: Any
) -> tuple[nbformat.NotebookNode, str | None, str | None]:
    """``run_until_stop`` with the stop as a message and a cell id (or None, None)."""
    executed, stop = run_until_stop(nb, output_path, **kwargs)
    if stop is None:
        return executed, None, None
    return executed, stop.message, stop.cell_id


def default_kernel_name(nb: Any, kernel_name: str | None = None) -> str:
    """The kernel to run ``nb`` on, as ``jupyter execute`` picks it: the one asked for, else
    the notebook's kernelspec, else the default kernel (``python3``)."""
    if kernel_name:
        return kernel_name
    spec = (nb.get("metadata") or {}).get("kernelspec") or {}
    if isinstance(spec, dict) and spec.get("name"):
        return str(spec["name"])
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME

    return NATIVE_KERNEL_NAME


def run_and_compare(
    nb: nbformat.NotebookNode,
    *,
    name: str,
    expected_nb: Any = None,
    expected_outputs: dict[str, list] | None = None,
    cwd: str | None = None,
    kernel_name: str | None = None,
    timeout: float | None = None,
    notebook_path: str | None = None,
    record_provenance: bool = True,
    options: VerifyOptions | None = None,
    replay: bool = False,
    output_path: str | Path | None = None,
    provenance_sink: Any = None,
    kernel_env: dict[str, str] | None = None,
) -> VerifyResult:
    """Execute ``nb`` with the shared runner and compare with ``expected_nb`` (default: ``nb``).
    ``timeout``: seconds per cell; ``provenance_sink``: where the run's provenance records go
    (see ``execute_notebook``). The output notebook is written (once) only if
    ``output_path`` is given."""
    from ..notebook_execution import load_notebook

    nb = load_notebook(nb)  # ids normalised once, so both sides match by id
    expected_nb = nb if expected_nb is None else expected_nb
    to_run = prepare_for_run(nb)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlinfra-verify-") as tmp:
        executed, stop = run_until_stop(
            to_run,
            output_path,
            kernel_name=default_kernel_name(nb, kernel_name),
            cwd=cwd or tmp,
            execution_timeout=timeout,
            notebook_path=notebook_path,
            record_provenance=record_provenance,
            provenance_sink=provenance_sink,
            kernel_env=kernel_env,
        )
    verdicts = compare_cells(expected_nb, executed, options, expected_outputs, stop=stop)
    return VerifyResult(
        notebook=name,
        cells=verdicts,
        replay=replay,
        duration_s=time.perf_counter() - started,
        run_error=stop.message if stop else None,
        stop=stop.to_dict() if stop else None,
    )
