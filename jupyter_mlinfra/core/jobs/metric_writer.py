"""``log_metric`` on a SQLite catalog, written with ``sqlite3``: one INSERT per metric.

A job notebook calls ``log_metric`` in its training loop; through the catalog's ORM session
(a session, a ``get`` of the run, an INSERT, a commit) each call cost ~1.5 ms, thirty times the
INSERT itself. This writer does the INSERT alone, on a connection made by
:func:`~..catalog.direct_sqlite.connect_at_heads` (only for a SQLite file at the package's
migration heads; anything else goes through the service). The run must exist: the metrics
table's foreign key (enforced on this connection) refuses an unknown run, with the same
``NotFound`` as the service's.
"""

from __future__ import annotations

import sqlite3
import threading

from ..catalog.direct_sqlite import connect_at_heads, sqlite_now, sqlite_path
from ..errors import InvalidInput, NotFound

_INSERT = (
    "INSERT INTO mlinfra_run_metrics (run_id, name, value, step, logged_at) VALUES (?, ?, ?, ?, ?)"
)


def checked_metric(name: str, value: float, step: int | None) -> tuple[str, float, int | None]:
    """The metric as stored, or InvalidInput (``runs.log_metric`` checks with this too)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"metric {name} must be a number, got {value!r}") from None
    if not name or len(name) > 200:
        raise InvalidInput("metric name must be 1 to 200 characters")
    return str(name), number, None if step is None else int(step)


class MetricWriter:
    def __init__(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA foreign_keys=ON")
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url: str) -> MetricWriter | None:
        """A writer for the catalog at ``url``, or None when it is not a SQLite file at the
        migration heads."""
        conn = connect_at_heads(url, synchronous_normal=True)
        return None if conn is None else cls(conn)

    def write(self, run_id: str, name: str, value: float, step: int | None) -> bool:
        """Store one metric (autocommit: one transaction); False when the database refused
        the row for another reason than an unknown run (the caller's service then tries)."""
        try:
            with self._lock:
                self._conn.execute(_INSERT, (run_id, name, value, step, sqlite_now()))
        except sqlite3.IntegrityError as exc:
            if "FOREIGN KEY" in str(exc):
                raise NotFound(f"no run {run_id!r}") from None
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class MetricWriterSlot:
    """The writer of a jobs service, shared with its per-user views (shallow copies):
    opened once, on the first metric, after the catalog was created or upgraded."""

    def __init__(self) -> None:
        self._writer: MetricWriter | None = None
        self._opened = False
        self._lock = threading.Lock()

    def get(self, ws) -> MetricWriter | None:
        if not self._opened:
            with self._lock:
                if not self._opened:
                    url = ws.config.catalog_url
                    if sqlite_path(url) is not None:
                        ws.catalog.ensure_schema()  # created or upgraded: then writable
                        self._writer = MetricWriter.open(url)
                    self._opened = True
        return self._writer

    def close(self) -> None:
        with self._lock:
            writer, self._writer, self._opened = self._writer, None, False
        if writer is not None:
            writer.close()


__all__ = ["MetricWriter", "MetricWriterSlot", "checked_metric"]
