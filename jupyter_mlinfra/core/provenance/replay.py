"""The replay order: the minimal backward slice of the execution history behind a result.

Walking the history backwards from the target execution, an execution is kept when it wrote
(bound, mutated in place or deleted) a name still needed; keeping it makes the names it read
needed in turn. A name it *bound* is satisfied from there on (unless it also read it, as in
``x = x + 1``); a name it only *mutated* still needs its earlier producer, and a name it deleted
(``del x``) needs the execution that bound it, so the replay does not raise NameError. An
execution whose effects the analysis could not follow (``exec``, ``%run``...) may have written
or read anything: it is kept in every later slice, with every execution before it. The slice
keeps the sources as they were executed (cells edited or deleted since included) and may contain the same
cell several times. Failed executions that contributed partial effects stay, tagged
``raises-exception`` so papermill runs past them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat

from ..errors import Conflict, InvalidInput, NotFound
from .model import METADATA_KEY, Execution, ExecutionLog


def target_execution(
    executions: list[Execution], cell_id: str | None = None, name: str | None = None
) -> Execution:
    """The execution a replay ends with: the last run of ``cell_id``, the last execution that
    bound ``name``, or (neither given) the last execution."""
    if not executions:
        raise NotFound("no executions recorded for this notebook")
    ordered = sorted(executions, key=lambda e: e.seq)
    if cell_id is not None:
        runs = [e for e in ordered if e.cell_id == cell_id]
        if not runs:
            raise NotFound(f"cell {cell_id!r} has no recorded execution")
        return runs[-1]
    if name is not None:
        runs = [e for e in ordered if name in e.binds or name in e.mutates]
        if not runs:
            raise NotFound(f"no recorded execution produced {name!r}")
        return runs[-1]
    for e in reversed(ordered):  # the last execution that is not a %mlinfra command
        if e.source.strip() and not e.source.lstrip().startswith(("%mlinfra", "%%mlinfra")):
            return e
    return ordered[-1]


def replay_slice(
    executions: list[Execution], target: Execution, extra_names: set[str] | None = None
) -> list[Execution]:
    """The executions (in execution order) that reproduce ``target``'s result."""
    ordered = [e for e in sorted(executions, key=lambda e: e.seq) if e.seq <= target.seq]
    needed = set(target.reads) | set(target.mutates) | set(target.deletes) | set(extra_names or ())
    keep_all = bool(target.unfollowed)
    kept = [target]
    for e in reversed(ordered[:-1] if ordered and ordered[-1] is target else ordered):
        if e.seq >= target.seq:
            continue
        if not (keep_all or e.unfollowed or e.writes & needed):
            continue
        kept.append(e)
        keep_all = keep_all or bool(e.unfollowed)
        own = e.binds - e.reads  # bound here before any use: earlier values do not matter
        needed -= own
        needed |= e.reads | (e.mutates - own) | e.deletes
    kept.reverse()
    return kept


def replay_for_name(executions: list[Execution], name: str) -> list[Execution]:
    """The slice that reproduces the current value of a global ``name``."""
    return replay_slice(executions, target_execution(executions, name=name))


def slice_for(
    executions: list[Execution], *, cell_id: str | None = None, name: str | None = None
) -> list[Execution]:
    """The slice that reproduces a global ``name`` (when no cell is given), else the last run
    of ``cell_id`` (neither given: the last execution)."""
    if name is not None and cell_id is None:
        return replay_for_name(executions, name)
    return replay_slice(executions, target_execution(executions, cell_id))


def replay_of(
    log: ExecutionLog,
    *,
    path: str | None = None,
    cell_id: str | None = None,
    name: str | None = None,
    kernel_name: str = "python3",
) -> tuple[list[Execution], nbformat.NotebookNode]:
    """A log's replay slice (see :func:`slice_for`) and the notebook made of it; ``path``
    names the notebook when the log does not."""
    slice_ = slice_for(log.executions, cell_id=cell_id, name=name)
    return slice_, replay_notebook(
        slice_, kernel_name=kernel_name, notebook_path=log.notebook_path or (path or "")
    )


def replay_file(out_path: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Where a replay notebook is written: ``out_path`` must end in .ipynb; with
    ``overwrite=False`` an existing file is a Conflict and stays as it was."""
    out = Path(out_path).expanduser()
    if out.suffix != ".ipynb":
        raise InvalidInput(f"the replay notebook must end in .ipynb, not {out.name!r}")
    if not overwrite and out.exists():
        raise Conflict(f"{out.name} already exists: pick another name (or overwrite)")
    return out


def write_replay(out: Path, slice_: list[Execution], nb: nbformat.NotebookNode) -> dict:
    """Write a replay notebook (see :func:`replay_file`) and say what it holds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return {
        "path": str(out),
        "cells": len(slice_),
        "executions": [
            {"seq": e.seq, "cell_id": e.cell_id, "execution_count": e.execution_count}
            for e in slice_
        ],
    }


def replay_notebook(
    slice_: list[Execution],
    *,
    kernel_name: str = "python3",
    notebook_path: str = "",
    title: str | None = None,
) -> nbformat.NotebookNode:
    """A new notebook with one cell per execution of the slice; each cell's metadata records
    its origin (cell id, sequence number, execution count, session)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": kernel_name,
        "display_name": kernel_name,
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    origin_note = f" of `{notebook_path}`" if notebook_path else ""
    nb.cells.append(
        nbformat.v4.new_markdown_cell(
            title
            or f"# Replay{origin_note}\n\nThe {len(slice_)} executions that reproduce the "
            f"result of execution #{slice_[-1].seq if slice_ else '-'}, in the order they ran, "
            f"with the source each one ran. Generated by jupyter_mlinfra."
        )
    )
    nb.metadata[METADATA_KEY] = {
        "replay": {
            "notebook_path": notebook_path,
            "session_id": slice_[-1].session_id if slice_ else "",
            "target": {"cell_id": slice_[-1].cell_id, "seq": slice_[-1].seq} if slice_ else None,
        }
    }
    for e in slice_:
        cell = nbformat.v4.new_code_cell(e.source)
        cell.metadata[METADATA_KEY] = {
            "origin": {
                "cell_id": e.cell_id,
                "seq": e.seq,
                "execution_count": e.execution_count,
                "session_id": e.session_id,
                "status": e.status,
            }
        }
        if e.status == "error":
            cell.metadata["tags"] = ["raises-exception"]
        nb.cells.append(cell)
    nbformat.validator.normalize(nb)
    return nb


def origin_of(cell: Any) -> dict | None:
    return ((cell.get("metadata") or {}).get(METADATA_KEY) or {}).get("origin")
