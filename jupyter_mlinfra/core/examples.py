"""The example notebooks (the repository's ``example_notebooks/``, shipped in the wheel as
``jupyter_mlinfra/example_notebooks``), listed and copied into a user's server root on
request (the launcher tour's "Copy the examples"). A copy never overwrites: a file already in
the user's folder is kept as it is."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import NotFound
from .paging import page_rows

# Where the copies go, relative to the server root (the tour names them by this path).
FOLDER = "example_notebooks"


def examples_source() -> Path:
    """The folder holding the example notebooks: inside the installed package (a wheel), or
    the repository's own folder (an editable install, a checkout)."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "example_notebooks", package.parent / "example_notebooks"):
        if candidate.is_dir() and any(candidate.glob("*.ipynb")):
            return candidate
    raise NotFound("the example notebooks are not installed with this copy of jupyter_mlinfra")


def list_examples(
    root_dir: str | os.PathLike,
    *,
    limit: int | str | None = None,
    offset: int | str | None = None,
    cursor: str | None = None,
) -> dict:
    """A page of the example notebooks, by name, each with the path its copy has under
    ``root_dir`` and whether a file is there already."""
    source, root = examples_source(), Path(root_dir)
    items = []
    for notebook in sorted(source.glob("*.ipynb")):
        path = f"{FOLDER}/{notebook.name}"
        items.append({"name": notebook.name, "path": path, "in_root": (root / path).exists()})
    return page_rows(items, key=lambda i: (i["name"],), limit=limit, offset=offset, cursor=cursor)


def copy_examples(root_dir: str | os.PathLike) -> dict:
    """Copy the example notebooks into ``root_dir``/example_notebooks; a file already there
    is kept (never overwritten). Returns the paths copied and the paths kept."""
    source, root = examples_source(), Path(root_dir)
    target = root / FOLDER
    target.mkdir(parents=True, exist_ok=True)
    copied, kept = [], []
    for notebook in sorted(source.glob("*.ipynb")):
        path = f"{FOLDER}/{notebook.name}"
        try:
            # "x": create only; a file that appeared since the listing is not replaced either
            with (target / notebook.name).open("xb") as out, notebook.open("rb") as src:
                shutil.copyfileobj(src, out)
        except FileExistsError:
            kept.append(path)
            continue
        copied.append(path)
    return {"folder": FOLDER, "copied": copied, "kept": kept}
