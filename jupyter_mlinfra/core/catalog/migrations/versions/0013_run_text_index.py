"""Jobs: run text search (``q``) answered by an index instead of a scan of every run's text.

SQLite: a contentless FTS5 table with the ``trigram`` tokenizer over the runs' notebook path
and text (``output_text``), both lowered with SQLite's own ``lower()`` (ASCII only, as the
``lower(...) LIKE`` scan it replaces) and indexed case-sensitively, so that a phrase query of
the lowered term matches exactly the runs the scan matches (substrings of >= 3 characters;
shorter terms still scan). ``mlinfra_run_text_rows`` gives each run an integer key for the
FTS rowid (the runs' own rowid may change on VACUUM). Triggers keep both in step with every
insert, update of the notebook or text, and delete; existing runs are indexed here.

PostgreSQL: ``pg_trgm`` GIN indexes on ``lower(notebook)`` and ``lower(output_text)``, the
expressions the ``lower(...) LIKE`` search uses, so the same query uses them. If the extension
cannot be created (no permission, not installed), the migration still succeeds and search
scans as before.

Revision ID: 0013_run_text_index
Revises: 0011_run_search
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_run_text_index"
down_revision = "0011_run_search"
branch_labels = None
depends_on = None

ROWS = "mlinfra_run_text_rows"
FTS = "mlinfra_run_text"
_RID = f"(SELECT rid FROM {ROWS} WHERE run_id = {{0}}.id)"
_VALUES = "lower(coalesce({0}.notebook, '')), lower(coalesce({0}.output_text, ''))"

_SQLITE_TRIGGERS = {
    "mlinfra_run_text_insert": f"""
        CREATE TRIGGER mlinfra_run_text_insert AFTER INSERT ON mlinfra_runs BEGIN
            INSERT INTO {ROWS} (run_id) VALUES (new.id);
            INSERT INTO {FTS} (rowid, notebook, output_text)
                VALUES ({_RID.format("new")}, {_VALUES.format("new")});
        END""",
    "mlinfra_run_text_update": f"""
        CREATE TRIGGER mlinfra_run_text_update AFTER UPDATE OF notebook, output_text
        ON mlinfra_runs BEGIN
            INSERT INTO {FTS} ({FTS}, rowid, notebook, output_text)
                VALUES ('delete', {_RID.format("old")}, {_VALUES.format("old")});
            INSERT INTO {FTS} (rowid, notebook, output_text)
                VALUES ({_RID.format("new")}, {_VALUES.format("new")});
        END""",
    "mlinfra_run_text_delete": f"""
        CREATE TRIGGER mlinfra_run_text_delete AFTER DELETE ON mlinfra_runs BEGIN
            INSERT INTO {FTS} ({FTS}, rowid, notebook, output_text)
                VALUES ('delete', {_RID.format("old")}, {_VALUES.format("old")});
            DELETE FROM {ROWS} WHERE run_id = old.id;
        END""",
}
_PG_INDEXES = {
    "ix_mlinfra_runs_notebook_trgm": "notebook",
    "ix_mlinfra_runs_output_text_trgm": "output_text",
}


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        op.execute(
            f"CREATE TABLE {ROWS} (rid INTEGER PRIMARY KEY, run_id VARCHAR(32) NOT NULL UNIQUE)"
        )
        op.execute(
            f"CREATE VIRTUAL TABLE {FTS} USING fts5(notebook, output_text, "
            f"content='', tokenize='trigram case_sensitive 1')"
        )
        # existing runs (oldest first), then the triggers for every later change
        op.execute(
            f"INSERT INTO {ROWS} (run_id) SELECT id FROM mlinfra_runs ORDER BY created_at, id"
        )
        op.execute(
            f"INSERT INTO {FTS} (rowid, notebook, output_text) "
            f"SELECT t.rid, {_VALUES.format('r')} FROM {ROWS} t "
            f"JOIN mlinfra_runs r ON r.id = t.run_id"
        )
        for ddl in _SQLITE_TRIGGERS.values():
            op.execute(ddl)
    elif conn.dialect.name == "postgresql":
        # in a savepoint: a refused CREATE EXTENSION must not abort the upgrade's transaction
        savepoint = conn.begin_nested()
        try:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            for name, col in _PG_INDEXES.items():
                conn.execute(
                    sa.text(
                        f"CREATE INDEX {name} ON mlinfra_runs USING gin (lower({col}) gin_trgm_ops)"
                    )
                )
        except sa.exc.DBAPIError:
            savepoint.rollback()  # no index: the search scans, as before
        else:
            savepoint.commit()


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
        op.execute(f"DROP TABLE IF EXISTS {ROWS}")
    elif conn.dialect.name == "postgresql":
        for name in _PG_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
