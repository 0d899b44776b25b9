"""Model store: registered models, versions, aliases and metrics.

Revision ID: 0004_models
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_models"
down_revision = "0001_foundation"
branch_labels = ("models",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlinfra_models",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False, index=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "mlinfra_model_versions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "model_name",
            sa.String(200),
            sa.ForeignKey("mlinfra_models.name", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("flavor", sa.String(64), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("signature", sa.JSON(), nullable=False),
        sa.Column("dependencies", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("code", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("artifacts", sa.JSON(), nullable=False),
        sa.Column("clean", sa.Boolean(), nullable=False),
        sa.Column("dirty_reasons", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True, index=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("model_name", "version", name="uq_mlinfra_model_versions_name_version"),
    )
    op.create_table(
        "mlinfra_model_aliases",
        sa.Column(
            "model_name",
            sa.String(200),
            sa.ForeignKey("mlinfra_models.name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("alias", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "mlinfra_model_metrics",
        sa.Column(
            "version_id",
            sa.String(32),
            sa.ForeignKey("mlinfra_model_versions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(128), primary_key=True, index=True),
        sa.Column("value", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mlinfra_model_metrics")
    op.drop_table("mlinfra_model_aliases")
    op.drop_table("mlinfra_model_versions")
    op.drop_table("mlinfra_models")
