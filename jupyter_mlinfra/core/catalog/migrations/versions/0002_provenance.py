"""Provenance: recorded cell executions.

Revision ID: 0002_provenance
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_provenance"
down_revision = "0001_foundation"
branch_labels = ("provenance",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlinfra_provenance_executions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("notebook_path", sa.String(1024), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.String(256), nullable=False),
        sa.Column("execution_count", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_type", sa.String(256), nullable=True),
        sa.Column("effects", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.UniqueConstraint("session_id", "seq", name="uq_mlinfra_prov_session_seq"),
    )
    op.create_index(
        "ix_mlinfra_prov_path_session",
        "mlinfra_provenance_executions",
        ["notebook_path", "session_id", "seq"],
    )


def downgrade() -> None:
    op.drop_index("ix_mlinfra_prov_path_session", table_name="mlinfra_provenance_executions")
    op.drop_table("mlinfra_provenance_executions")
