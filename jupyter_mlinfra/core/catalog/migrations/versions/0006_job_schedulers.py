"""Jobs: the schedulers serving the catalog, with their heartbeats.

Revision ID: 0006_job_schedulers
Revises: 0003_jobs
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_job_schedulers"
down_revision = "0003_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlinfra_job_schedulers",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("executor", sa.String(32), nullable=False),
        sa.Column("serving", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False, index=True),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("mlinfra_job_schedulers")
