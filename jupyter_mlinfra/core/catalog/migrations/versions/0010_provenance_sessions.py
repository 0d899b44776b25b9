"""Provenance: kernel sessions (one per kernel lifetime), registered when recording starts,
with what ran before recording started.

Revision ID: 0010_provenance_sessions
Revises: 0002_provenance
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_provenance_sessions"
down_revision = "0002_provenance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlinfra_provenance_sessions",
        sa.Column("session_id", sa.String(128), primary_key=True),
        sa.Column("kernel_id", sa.String(128), nullable=True),
        sa.Column("notebook_path", sa.String(1024), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("executions_before", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("names_before", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("owner", sa.String(256), nullable=False),
    )
    op.create_index(
        "ix_mlinfra_prov_sessions_kernel",
        "mlinfra_provenance_sessions",
        ["kernel_id", "started_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_mlinfra_prov_sessions_kernel", table_name="mlinfra_provenance_sessions")
    op.drop_table("mlinfra_provenance_sessions")
