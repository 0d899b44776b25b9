"""Executed notebooks from plain Python: the output notebooks finished runs kept (runs of
jobs, sweeps, model reproduce runs), found by text in their cells and outputs.

    from jupyter_mlinfra import notebooks
    found = notebooks.search(q="rmse", job="nightly")     # newest first
    nb = notebooks.read(found[0]["id"])                    # an nbformat NotebookNode
    page = notebooks.html(found[0]["id"])                  # nbconvert's HTML, as str
"""

from __future__ import annotations

from typing import Any

from .core import executed_notebooks
from .core.workspace import get_workspace


def search(*, limit: int | None = None, **filters: Any) -> list[dict]:
    """Every executed notebook matching the filters, newest first: q (text in cells and
    outputs), notebook, job, tag, parameter ("name=value", a list of them, or a dict),
    owner; at most ``limit`` when given. ``page(...)`` gives one page with its total."""
    from .core.paging import walk

    return walk(page, limit=limit, **filters)


def page(**filters: Any) -> dict:
    """One page: {"items", "total", "total_exact", "limit", "offset", "next_cursor"}."""
    return executed_notebooks.list_notebooks(get_workspace(), **filters)


def get(notebook_id: str) -> dict:
    """An executed notebook's metadata (its run, parameters, cells, size)."""
    return executed_notebooks.get_notebook(get_workspace(), notebook_id)


def read(notebook_id: str):
    """The executed notebook as an nbformat NotebookNode."""
    import nbformat

    data = executed_notebooks.notebook_document(get_workspace(), notebook_id, "ipynb")["data"]
    return nbformat.reads(data.decode("utf-8"), as_version=4)


def html(notebook_id: str) -> str:
    """The executed notebook rendered as an HTML page (nbconvert, sanitized)."""
    return executed_notebooks.notebook_document(get_workspace(), notebook_id, "html")[
        "data"
    ].decode("utf-8")
