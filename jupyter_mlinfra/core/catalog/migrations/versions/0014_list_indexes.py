"""Lists paged by the database: the indexes their keyset pages walk.

- ``mlinfra_model_versions``: (created_at DESC, model_name, version DESC), the order of the
  model version search (newest first), with the status and owner its filters read, so a page
  and its count read the index instead of the versions' rows (wide: their JSON).
- ``mlinfra_jobs``: (name, id), the order of the jobs list.

Also merges the models branch into the jobs one (the version index belongs to the first,
this revision follows the second).

Revision ID: 0014_list_indexes
Revises: 0013_run_text_index, 0004_models
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_list_indexes"
down_revision = ("0013_run_text_index", "0004_models")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_mlinfra_model_versions_created",
        "mlinfra_model_versions",
        [sa.text("created_at DESC"), "model_name", sa.text("version DESC"), "status", "owner"],
    )
    op.create_index(
        "ix_mlinfra_model_versions_of_model",
        "mlinfra_model_versions",
        ["model_name", "status", "owner"],
    )
    op.create_index("ix_mlinfra_jobs_name", "mlinfra_jobs", ["name", "id"])


def downgrade() -> None:
    op.drop_index("ix_mlinfra_jobs_name", table_name="mlinfra_jobs")
    op.drop_index("ix_mlinfra_model_versions_of_model", table_name="mlinfra_model_versions")
    op.drop_index("ix_mlinfra_model_versions_created", table_name="mlinfra_model_versions")
