"""A ``sqlite3`` connection to a catalog already at the package's migration heads.

The hot paths that must not import SQLAlchemy (a kernel's provenance writer, a new process's
first training frame) read and write a SQLite catalog with Python's ``sqlite3``. They may do so
only when the file exists and its schema is exactly the one this package's migrations make;
anything else (another backend, an in-memory database, a catalog not created or not migrated
yet) goes through the catalog service, which creates or upgrades it.

    conn = connect_at_heads(url)          # None: use the service instead
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from urllib.parse import quote

from .revisions import HEAD_REVISIONS


def _stored(d: datetime) -> str:
    return (
        f"{d.year:04d}-{d.month:02d}-{d.day:02d} "
        f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}.{d.microsecond:06d}"
    )


def sqlite_datetime(ts: float | None) -> str | None:
    """An epoch time as SQLAlchemy's SQLite ``DateTime`` stores it (naive UTC, microseconds):
    what the writers that use ``sqlite3`` put in a DateTime column (``None``: NULL)."""
    return None if ts is None else _stored(datetime.fromtimestamp(ts, timezone.utc))


def sqlite_now() -> str:
    """Now, as :func:`sqlite_datetime` stores it."""
    return _stored(datetime.now(timezone.utc))


def sqlite_path(url: str) -> str | None:
    """The database file of a plain ``sqlite:///path`` URL; None for anything else (another
    backend, an in-memory database, a URL with options)."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            path = url[len(prefix) :]
            return path if path and path != ":memory:" and "?" not in path else None
    return None


def connect_at_heads(url: str, *, synchronous_normal: bool = False) -> sqlite3.Connection | None:
    """An autocommit connection (usable from any thread, 30 s busy timeout, as the catalog's
    engine sets it; ``synchronous=NORMAL`` for a writer) to the SQLite file of ``url``, or
    None when ``url`` is not such a file or its schema is not at the migration heads."""
    path = sqlite_path(url)
    if path is None:
        return None
    try:  # mode=rw: never create an empty database file where no catalog is yet
        conn = sqlite3.connect(
            f"file:{quote(path)}?mode=rw",
            uri=True,
            timeout=30,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error:
        return None
    try:
        revisions = {r for (r,) in conn.execute("SELECT version_num FROM alembic_version")}
        if revisions != HEAD_REVISIONS:
            conn.close()
            return None
        conn.execute("PRAGMA busy_timeout=30000")
        if synchronous_normal:  # WAL is a property of the file already
            conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error:
        conn.close()
        return None
    return conn
