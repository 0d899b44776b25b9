"""How the kernel's recorder writes its sessions and executions to the catalog.

Every kernel records, so what the first write imports is paid once per kernel, and what each
write costs is paid every few cells. On a SQLite catalog whose schema is already at the
package's migration heads (as whoever created the catalog left it: the server, the CLI, a
previous kernel), the rows are written with the standard ``sqlite3`` module: no SQLAlchemy,
ORM or alembic import in the kernel, and one prepared ``INSERT`` per batch. The rows are the
ones the service writes (same columns, same text for timestamps and effects), so everything
reads them back through :class:`~.service.ProvenanceService` unchanged.

Otherwise (PostgreSQL, a catalog not created yet or not migrated, a URL with options) the
writer is the provenance service itself, which creates or upgrades the schema.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from ..catalog.direct_sqlite import connect_at_heads, sqlite_datetime
from .model import BeforeRecording, Execution, KernelSession

_EXECUTIONS = "mlinfra_provenance_executions"
_SESSIONS = "mlinfra_provenance_sessions"
_INSERT_EXECUTION = (
    f"INSERT INTO {_EXECUTIONS} (notebook_path, session_id, seq, cell_id, execution_count, "
    "source, started_at, ended_at, duration_ms, status, error_type, effects, owner) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, seq) DO NOTHING"
)
_INSERT_SESSION = (
    f"INSERT INTO {_SESSIONS} (session_id, kernel_id, notebook_path, started_at, "
    "executions_before, names_before, owner) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (session_id) DO NOTHING"
)


def effects_json(e: Execution) -> str:
    """The ``effects`` column of one execution (what the service stores and reads back)."""
    return json.dumps(
        {
            "reads": sorted(e.reads),
            "binds": sorted(e.binds),
            "mutates": sorted(e.mutates),
            "deletes": sorted(e.deletes),
            "deferred": e.deferred,
            "assumed": sorted(e.assumed),
            "unfollowed": list(e.unfollowed),
            "files": e.files,
        }
    )


class SQLiteWriter:
    """Writes kernel sessions and executions to a migrated SQLite catalog with ``sqlite3``;
    the same two methods (and results) as the service's ``register_session`` and ``record``."""

    def __init__(self, conn: sqlite3.Connection, owner: str) -> None:
        self._conn = conn
        self.owner = owner

    @classmethod
    def open(cls, url: str, owner: str) -> SQLiteWriter | None:
        """A writer for ``url``, or None when the catalog is not a SQLite file already at the
        package's migration heads (the service then writes, creating or upgrading it)."""
        conn = connect_at_heads(url, synchronous_normal=True)
        if conn is None:
            return None
        return cls(conn, owner)

    def close(self) -> None:
        self._conn.close()

    def _write(self, sql: str, rows: list[tuple]) -> int:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")  # the write lock up front, waiting on busy_timeout
        try:
            before = conn.total_changes
            conn.executemany(sql, rows)
            written = conn.total_changes - before
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return written

    def register_session(self, session: KernelSession, owner: str | None = None) -> bool:
        before = session.before_recording or BeforeRecording()
        return (
            self._write(
                _INSERT_SESSION,
                [
                    (
                        session.session_id,
                        session.kernel_id,
                        session.notebook_path,
                        sqlite_datetime(session.started_at),
                        before.executions,
                        json.dumps(sorted(before.names)),
                        owner or self.owner,
                    )
                ],
            )
            == 1
        )

    def record(self, executions: Iterable[Execution], owner: str | None = None) -> int:
        owner = owner or self.owner
        rows = [
            (
                e.notebook_path,
                e.session_id,
                e.seq,
                e.cell_id,
                e.execution_count,
                e.source,
                sqlite_datetime(e.started_at),
                sqlite_datetime(e.ended_at),
                e.duration_ms,
                e.status,
                e.error_type,
                effects_json(e),
                owner,
            )
            for e in executions
        ]
        return self._write(_INSERT_EXECUTION, rows) if rows else 0


def open_writer(workspace: Any) -> Any:
    """What the recorder writes through: a :class:`SQLiteWriter` when the workspace's catalog
    allows it, else the provenance service (over HTTP in remote mode)."""
    if getattr(workspace, "remote", None) is not None:
        return workspace.service("provenance")
    writer = SQLiteWriter.open(workspace.config.catalog_url, workspace.user)
    return writer if writer is not None else workspace.service("provenance")
