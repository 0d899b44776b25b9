"""Pseudo-names: state outside the namespace that cells read and change like variables.

- a library's global random state is ``<rng:random>``, ``<rng:numpy>``, ``<rng:torch>``,
  ``<rng:tensorflow>``;
- a file is ``<file:data.csv>`` (a literal path), or ``<file?:name|suffix>`` when its path is
  held by a variable the kernel resolves later (see recording.py).
"""

from __future__ import annotations

import os

RNG_LIBS = ("random", "numpy", "torch", "tensorflow")


def rng_name(lib: str) -> str:
    """The pseudo-name of a library's global random state (``<rng:numpy>``)."""
    return f"<rng:{lib}>"


def is_pseudo_name(name: str) -> bool:
    return name.startswith("<")


def file_path(name: str) -> str | None:
    """The path of a file pseudo-name (``<file:/abs/data.csv>``), else None."""
    return name[6:-1] if name.startswith("<file:") else None


def pseudo_label(name: str) -> str:
    """How a pseudo-name reads in a sentence."""
    path = file_path(name)
    if path is not None:
        try:
            rel = os.path.relpath(path)
            shown = rel if not rel.startswith("..") else path
        except ValueError:
            shown = path
        return f"the file `{shown}`"
    if name.startswith("<rng:"):
        lib = name[5:-1]
        return "Python's global random state" if lib == "random" else f"{lib}'s global random state"
    return name
