"""Jobs: run search answered by the database. Side tables of run tags and parameters (filled
here for existing runs, then on every run insert), and indexes that page runs newest first
by (created_at, id), alone or within a state, job, sweep or owner, and answer the
reader's visibility from the index.

Revision ID: 0011_run_search
Revises: 0009_runs_visibility
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0011_run_search"
down_revision = "0009_runs_visibility"
branch_labels = None
depends_on = None

# (each also holds who may read the run: pages and totals never read the wide run rows)
_READ = ["owner", "visibility", "team"]
_INDEXES = {
    "ix_mlinfra_runs_created": ["created_at", "id", *_READ],
    "ix_mlinfra_runs_state_created": ["state", "created_at", "id", *_READ],
    "ix_mlinfra_runs_job_created": ["job_id", "created_at", "id", *_READ],
    "ix_mlinfra_runs_sweep_created": ["sweep_id", "created_at", "id", *_READ],
    "ix_mlinfra_runs_owner_created": ["owner", "created_at", "id", "visibility", "team"],
    "ix_mlinfra_runs_id_search": ["id", "created_at", *_READ, "state", "job_id", "sweep_id"],
}


def _loads(value):
    if value is None:
        return None
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    op.create_table(
        "mlinfra_run_tags",
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("mlinfra_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tag", sa.String(200), primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_mlinfra_run_tags_tag", "mlinfra_run_tags", ["tag", "created_at", "run_id"])
    op.create_table(
        "mlinfra_run_params",
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("mlinfra_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("value_text", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ix_mlinfra_run_params_value",
        "mlinfra_run_params",
        ["name", "value_text", "created_at", "run_id"],
    )
    for name, columns in _INDEXES.items():
        op.create_index(name, "mlinfra_runs", columns)

    # existing runs: the same rows the jobs tables' insert event writes (tables.search_rows)
    conn = op.get_bind()
    runs = sa.table(
        "mlinfra_runs",
        sa.column("id"),
        sa.column("created_at"),
        sa.column("tags"),
        sa.column("parameters"),
    )
    tags_t = sa.table(
        "mlinfra_run_tags", sa.column("run_id"), sa.column("tag"), sa.column("created_at")
    )
    params_t = sa.table(
        "mlinfra_run_params",
        sa.column("run_id"),
        sa.column("name"),
        sa.column("value_text"),
        sa.column("created_at"),
    )
    rows = conn.execute(
        sa.select(runs.c.id, runs.c.created_at, runs.c.tags, runs.c.parameters)
    ).fetchall()
    for start in range(0, len(rows), 2000):
        chunk = rows[start : start + 2000]
        tag_rows, param_rows = [], []
        for run_id, at, tags, params in chunk:
            tag_rows += [
                {"run_id": run_id, "tag": str(t)[:200], "created_at": at}
                for t in dict.fromkeys(_loads(tags) or [])
            ]
            param_rows += [
                {
                    "run_id": run_id,
                    "name": str(k)[:200],
                    "value_text": str(v)[:500],
                    "created_at": at,
                }
                for k, v in (_loads(params) or {}).items()
            ]
        if tag_rows:
            conn.execute(sa.insert(tags_t), tag_rows)
        if param_rows:
            conn.execute(sa.insert(params_t), param_rows)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="mlinfra_runs")
    op.drop_table("mlinfra_run_params")
    op.drop_table("mlinfra_run_tags")
