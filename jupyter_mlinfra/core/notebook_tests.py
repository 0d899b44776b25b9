"""Notebooks as tests (``jupyter mlinfra test``): each notebook top to bottom in a fresh kernel
in its own folder, like nbmake; a notebook passes when every cell ran without an error."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidInput


@dataclass(frozen=True)
class NotebookTestResult:
    path: Path
    passed: bool
    seconds: float
    error: dict | None = None  # type, message and (when known) cell_index of the failure

    def line(self) -> str:
        if self.passed:
            return f"PASSED {self.path} ({self.seconds:.1f} s)"
        err = self.error or {}
        where = f" in cell {err['cell_index']}" if "cell_index" in err else ""
        return f"FAILED {self.path}{where}: {err.get('type')}: {err.get('message')}"


def collect_notebooks(paths: Iterable[str]) -> list[Path]:
    """The notebooks named, and those under the folders named (checkpoints left out)."""
    paths = list(paths)
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(
                sorted(q for q in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
            )
        elif p.suffix == ".ipynb" and p.is_file():
            found.append(p)
        else:
            raise InvalidInput(f"{raw} is not a notebook or a folder")
    if not found:
        raise InvalidInput("no notebooks found in " + ", ".join(paths))
    return found


def notebook_kernel(path: Path) -> str:
    """The kernel a notebook names (python3 when it names none)."""
    try:
        meta = json.loads(path.read_text()).get("metadata", {})
        return meta.get("kernelspec", {}).get("name") or "python3"
    except (OSError, ValueError):
        return "python3"


def run_notebook_test(
    path: Path, *, kernel_name: str | None = None, timeout: float | None = None
) -> NotebookTestResult:
    """Run one notebook in a fresh kernel, in its own folder (the output is thrown away)."""
    from .jobs.execution import describe_error, ensure_kernel_metadata
    from .notebook_execution import execute_notebook, load_notebook

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.ipynb"
        try:
            kernel = kernel_name or notebook_kernel(path)
            nb = load_notebook(path)
            ensure_kernel_metadata(nb, kernel)
            execute_notebook(
                nb,
                out,
                kernel_name=kernel,
                cwd=path.parent,
                execution_timeout=timeout,
                notebook_path=str(path),
                record_provenance=False,
            )
        except Exception as exc:
            return NotebookTestResult(
                path, False, time.perf_counter() - started, describe_error(exc, out)
            )
    return NotebookTestResult(path, True, time.perf_counter() - started)


def run_notebook_tests(
    paths: Iterable[str], *, kernel_name: str | None = None, timeout: float | None = None
) -> Iterator[NotebookTestResult]:
    """Each notebook of ``paths`` (files or folders) as a test, one after the other (all
    paths are checked before the first runs)."""
    for path in collect_notebooks(paths):
        yield run_notebook_test(path, kernel_name=kernel_name, timeout=timeout)


__all__ = [
    "NotebookTestResult",
    "collect_notebooks",
    "notebook_kernel",
    "run_notebook_test",
    "run_notebook_tests",
]
