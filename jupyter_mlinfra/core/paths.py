"""Paths confined to a root folder: what the REST doors accept as a file path."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InvalidInput, quote


def inside_root(
    path: str | os.PathLike,
    root_dir: str | os.PathLike,
    base: str | os.PathLike | None = None,
    *,
    what: str = "path",
) -> tuple[Path, str]:
    """The absolute path (symlinks resolved) and its path relative to ``root_dir``.

    A relative ``path`` is taken relative to ``base`` (the caller's directory) when it is
    given, else to ``root_dir``; an absolute one as it is. A path that leaves the root, by
    ``..``, by being absolute elsewhere or through a symlink, is refused (InvalidInput).
    The file need not exist (a path to write to is checked the same way).
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise InvalidInput(f"{what} must be a non-empty path")
    if "\x00" in str(os.fspath(path)):  # no file system takes it (os calls raise ValueError)
        raise InvalidInput(f"{what} {quote(os.fspath(path))} contains a NUL character")
    try:  # a lone surrogate (valid in JSON) names no file either
        os.fsencode(path)
    except UnicodeError:
        raise InvalidInput(f"{what} {quote(os.fspath(path))} is not a valid file name") from None
    root = Path(root_dir).expanduser().resolve()
    raw = Path(os.fspath(path)).expanduser()
    if not raw.is_absolute():
        raw = Path(base).expanduser().resolve() / raw if base else root / raw
    full = raw.resolve()
    try:
        relative = full.relative_to(root)
    except ValueError:
        raise InvalidInput(
            f"{what} {quote(os.fspath(path))} is outside the server root; "
            "only files under it are served"
        ) from None
    return full, relative.as_posix()
