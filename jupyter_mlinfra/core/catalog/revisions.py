"""The migration heads this package ships, without importing SQLAlchemy or alembic.

A test checks them against alembic's. A catalog already at these heads is opened without
importing alembic, and the kernel's provenance recorder writes to a SQLite catalog at these
heads with the standard ``sqlite3`` module (see ``core/provenance/writer.py``).
"""

HEAD_REVISIONS = frozenset(
    {
        "0010_provenance_sessions",
        "0016_pg_param_statistics",
        "0012_audit",
    }
)
