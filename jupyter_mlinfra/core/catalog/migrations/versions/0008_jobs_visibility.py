"""Jobs: who may depend on a job (its visibility, as for feature views, and its owner's team).

Revision ID: 0008_jobs_visibility
Revises: 0007_scheduler_doorbell
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_jobs_visibility"
down_revision = "0007_scheduler_doorbell"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mlinfra_jobs") as batch:
        batch.add_column(
            sa.Column("visibility", sa.String(16), nullable=False, server_default="team")
        )
        batch.add_column(sa.Column("team", sa.String(128), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("mlinfra_jobs") as batch:
        batch.drop_column("team")
        batch.drop_column("visibility")
