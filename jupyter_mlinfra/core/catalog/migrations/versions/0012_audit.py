"""Audit log: who did what to shared state (alias moves, archives, deletes, cancels, job
changes) and which changes were refused, one row per action, written in the transaction of
the change it records.

Revision ID: 0012_audit
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_audit"
down_revision = "0001_foundation"
branch_labels = ("audit",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlinfra_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False, server_default=""),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
    )
    # pages newest first (by id), alone or for one user / action
    op.create_index("ix_mlinfra_audit_user", "mlinfra_audit", ["user", "id"])
    op.create_index("ix_mlinfra_audit_action", "mlinfra_audit", ["action", "id"])
    op.create_index("ix_mlinfra_audit_at", "mlinfra_audit", ["at"])


def downgrade() -> None:
    op.drop_table("mlinfra_audit")
