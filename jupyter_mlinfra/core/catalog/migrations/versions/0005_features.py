"""Feature store: entities, feature views and their versions, offline files,
materializations, usages.

Revision ID: 0005_features
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_features"
down_revision = "0001_foundation"
branch_labels = ("features",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlinfra_feature_entities",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("join_keys", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "mlinfra_feature_views",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False, index=True),
        sa.Column("team", sa.String(128), nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("ttl_seconds", sa.Float(), nullable=True),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    fk = dict(ondelete="CASCADE")
    op.create_table(
        "mlinfra_feature_view_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "view_name",
            sa.String(128),
            sa.ForeignKey("mlinfra_feature_views.name", **fk),
            nullable=False,
            index=True,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("entities", sa.Text(), nullable=False),
        sa.Column("join_keys", sa.Text(), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("event_timestamp_column", sa.String(128), nullable=False),
        sa.Column("created_timestamp_column", sa.String(128), nullable=False),
        sa.Column("source_kind", sa.String(32), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=False),
        sa.Column("transform_name", sa.String(256), nullable=False),
        sa.Column("transform_source", sa.Text(), nullable=False),
        sa.Column("transform_key", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("view_name", "version"),
    )
    op.create_table(
        "mlinfra_feature_offline_files",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "view_name",
            sa.String(128),
            sa.ForeignKey("mlinfra_feature_views.name", **fk),
            nullable=False,
            index=True,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("partition", sa.String(32), nullable=False),
        sa.Column("artifact_key", sa.Text(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("min_event_ts", sa.DateTime(), nullable=False),
        sa.Column("max_event_ts", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "mlinfra_feature_materializations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "view_name",
            sa.String(128),
            sa.ForeignKey("mlinfra_feature_views.name", **fk),
            nullable=False,
            index=True,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "mlinfra_feature_usages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "view_name",
            sa.String(128),
            sa.ForeignKey("mlinfra_feature_views.name", **fk),
            nullable=False,
            index=True,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("consumer", sa.String(256), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("view_name", "version", "consumer"),
    )


def downgrade() -> None:
    for table in (
        "mlinfra_feature_usages",
        "mlinfra_feature_materializations",
        "mlinfra_feature_offline_files",
        "mlinfra_feature_view_versions",
        "mlinfra_feature_views",
        "mlinfra_feature_entities",
    ):
        op.drop_table(table)
