"""Engine, sessions and automatic migrations for the catalog."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..audit import attach as audit_attach
from ..config import redact
from ..errors import ConfigurationError
from .revisions import HEAD_REVISIONS  # a catalog at these heads opens without alembic
from .schema import CatalogInfo, utcnow

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Any fixed 64-bit number: serialises concurrent first-use migrations on PostgreSQL.
_PG_MIGRATION_LOCK = 0x6D6C696E6672


def _postgres_settings(dbapi_connection, _record) -> None:
    # No JIT compilation: a catalog query reads a page of rows, and compiling one that the
    # planner costs high (a list page with a tag and metric filter) took 100-200 ms, more
    # than running it. Set outside a transaction, so that it lasts for the connection.
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SET jit = off")
        except Exception:  # a server without JIT (before PostgreSQL 11)
            pass
        finally:
            cursor.close()
    finally:
        dbapi_connection.autocommit = autocommit


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Autocommit at the driver level; SQLAlchemy's "begin" event below issues BEGIN itself,
    # so a write transaction takes the write lock up front (BEGIN IMMEDIATE) and waits on
    # busy_timeout instead of failing with "database is locked" on a lock upgrade.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # list and search pages look rows up by index at random (a run's visibility by its id,
    # a tag by its run): read the file through the OS page cache mapped (no copy per page)
    # and keep more pages per connection than SQLite's default 2 MB
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.execute("PRAGMA cache_size=-16000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


class Catalog:
    """The SQL catalog shared by every process of a deployment.

    ``session()`` yields an ORM session inside one transaction (committed on success, rolled
    back on error); ``read_session()`` one that only reads (on SQLite it does not take the
    write lock). The schema is created or upgraded on first use.
    """

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigurationError(f"invalid catalog URL {redact(url)!r}: {exc}") from exc
        self.url = url
        self.backend = parsed.get_backend_name()
        kwargs: dict = {"future": True}
        if self.backend == "sqlite":
            database = parsed.database
            if database and database != ":memory:":
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except (ArgumentError, ImportError) as exc:
            raise ConfigurationError(f"cannot use catalog URL {redact(url)!r}: {exc}") from exc
        if self.backend == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        elif self.backend == "postgresql":
            event.listen(self.engine, "connect", _postgres_settings)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False
        )
        self._migrated = False
        self._lock = threading.Lock()

    # -- sessions ---------------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[Session]:
        self.ensure_schema()
        with self._sessions.begin() as session:
            yield session
            # the audit entry of the shared write in progress commits with its change
            audit_attach(session, self)

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        self.ensure_schema()
        with self._read_sessions() as session:
            yield session

    # -- schema -----------------------------------------------------------------------------
    def _alembic_config(self, connection: Connection | None = None):
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["connection"] = connection
        return cfg

    def _head_revisions(self) -> set[str]:
        from alembic.script import ScriptDirectory

        return set(ScriptDirectory.from_config(self._alembic_config()).get_heads())

    @staticmethod
    def _current_revisions(conn: Connection) -> set[str]:
        from alembic.runtime.migration import MigrationContext

        return set(MigrationContext.configure(conn).get_current_heads())

    def ensure_schema(self) -> None:
        """Create or upgrade the schema to every migration head, once per process."""
        if self._migrated:
            return
        with self._lock:
            if self._migrated:
                return
            if self._stamped_revisions() == HEAD_REVISIONS:
                self._migrated = True
                return
            heads = self._head_revisions()
            try:
                with self.engine.connect() as conn:
                    current = self._current_revisions(conn)
                    conn.rollback()
            except OperationalError as exc:
                raise ConfigurationError(
                    f"cannot open catalog {redact(self.url)}: {exc.orig}"
                ) from exc
            if current != heads:
                self._upgrade(heads)
            self._migrated = True

    def _stamped_revisions(self) -> set[str] | None:
        """The revisions in alembic's version table, read with plain SQL (None when the
        table or the database is not there yet)."""
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
                found = set(rows)
                conn.rollback()
                return found
        except DBAPIError:
            return None

    def _upgrade(self, heads: set[str]) -> None:
        from alembic import command

        # One transaction: SQLite takes the write lock at BEGIN IMMEDIATE, PostgreSQL an
        # advisory lock; whoever comes second sees the schema already at head.
        with self.engine.begin() as conn:
            if self.backend == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            if self._current_revisions(conn) != heads:
                command.upgrade(self._alembic_config(conn), "heads")
                session = Session(bind=conn)
                if session.get(CatalogInfo, "catalog_id") is None:
                    session.add(
                        CatalogInfo(key="catalog_id", value=uuid.uuid4().hex, updated_at=utcnow())
                    )
                    session.add(
                        CatalogInfo(
                            key="created_at", value=utcnow().isoformat(), updated_at=utcnow()
                        )
                    )
                session.flush()

    def schema_revisions(self) -> list[str]:
        self.ensure_schema()
        # a read: it must not wait for (or take) the write lock
        with self.engine.execution_options(sqlite_begin="DEFERRED").connect() as conn:
            revs = sorted(self._current_revisions(conn))
            conn.rollback()
        return revs

    def claim_turn(self, key: str, every: float) -> bool:
        """True for exactly one caller per ``every`` seconds across all the processes on this
        catalog (periodic housekeeping that one of several schedulers should do): the turn is
        a row of the catalog's info table, taken under the write lock."""
        from sqlalchemy.exc import IntegrityError as SQLIntegrityError

        now = utcnow()
        try:
            with self.session() as session:
                row = session.get(CatalogInfo, key, with_for_update=True)
                if row is None:
                    session.add(CatalogInfo(key=key, value=now.isoformat(), updated_at=now))
                elif (now - row.updated_at).total_seconds() < every:
                    return False
                else:
                    row.value, row.updated_at = now.isoformat(), now
        except SQLIntegrityError:  # another process inserted the first turn meanwhile
            return False
        return True

    def info(self) -> dict[str, str]:
        with self.read_session() as session:
            return {row.key: row.value for row in session.scalars(select(CatalogInfo))}

    def describe(self) -> dict:
        """What the health endpoint and ``info`` show: backend and a redacted URL."""
        return {"backend": self.backend, "url": redact(self.url)}

    def dispose(self) -> None:
        self.engine.dispose()
