"""Jobs: who may read a run (its visibility and its owner's team), for runs without a job; a
run of a job follows its job's. Earlier runs become "team" runs of no team: their owner's.

Revision ID: 0009_runs_visibility
Revises: 0008_jobs_visibility
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_runs_visibility"
down_revision = "0008_jobs_visibility"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mlinfra_runs") as batch:
        batch.add_column(
            sa.Column("visibility", sa.String(16), nullable=False, server_default="team")
        )
        batch.add_column(sa.Column("team", sa.String(128), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("mlinfra_runs") as batch:
        batch.drop_column("team")
        batch.drop_column("visibility")
