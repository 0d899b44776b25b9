"""Jobs: a scheduler's doorbell, the loopback UDP port on which other processes of its host
wake it when they queue a run.

Revision ID: 0007_scheduler_doorbell
Revises: 0006_job_schedulers
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_scheduler_doorbell"
down_revision = "0006_job_schedulers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mlinfra_job_schedulers") as batch:
        batch.add_column(sa.Column("doorbell_port", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mlinfra_job_schedulers") as batch:
        batch.drop_column("doorbell_port")
