"""Lists at 10,000 answered from indexes: metric thresholds of model versions and the
feature views' text search.

- ``ix_mlinfra_model_metrics_value``: (key, value, version_id), a metric threshold's versions.
- ``mlinfra_feature_views.search_text``: the view's name, description, tags and its latest
  version's feature names and entities, lowered, one per line; the ``text`` filter reads it
  (no JSON per row). Filled here, then by the feature tables' events. PostgreSQL: a
  ``pg_trgm`` GIN index on it when the extension can be created (else the filter scans).

Also merges the features line into the jobs/models one.

Revision ID: 0015_list_search_text
Revises: 0014_list_indexes, 0005_features
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0015_list_search_text"
down_revision = ("0014_list_indexes", "0005_features")
branch_labels = None
depends_on = None


def _loads(value):
    if value is None:
        return None
    return json.loads(value) if isinstance(value, str) and value else value


def _search_text(name, description, tags, features, entities) -> str:
    # the same text as core/features/tables.search_text (kept here: a migration is frozen)
    parts = [name or "", description or "", *map(str, _loads(tags) or [])]
    parts += [str(f.get("name", "")) for f in _loads(features) or [] if isinstance(f, dict)]
    parts += [str(e) for e in _loads(entities) or []]
    return "\n".join(parts).lower()


def upgrade() -> None:
    op.create_index(
        "ix_mlinfra_model_metrics_value", "mlinfra_model_metrics", ["key", "value", "version_id"]
    )
    with op.batch_alter_table("mlinfra_feature_views") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))

    conn = op.get_bind()
    # existing views: the text the feature tables' events write for new ones
    views = sa.table(
        "mlinfra_feature_views",
        sa.column("name"),
        sa.column("description"),
        sa.column("tags"),
        sa.column("latest_version"),
        sa.column("search_text"),
    )
    view_versions = sa.table(
        "mlinfra_feature_view_versions",
        sa.column("view_name"),
        sa.column("version"),
        sa.column("features"),
        sa.column("entities"),
    )
    found = conn.execute(
        sa.select(
            views.c.name,
            views.c.description,
            views.c.tags,
            view_versions.c.features,
            view_versions.c.entities,
        ).select_from(
            views.outerjoin(
                view_versions,
                (view_versions.c.view_name == views.c.name)
                & (view_versions.c.version == views.c.latest_version),
            )
        )
    ).fetchall()
    for row in found:
        conn.execute(
            sa.update(views).where(views.c.name == row[0]).values(search_text=_search_text(*row))
        )

    if conn.dialect.name == "postgresql":
        # in a savepoint: a refused CREATE EXTENSION must not abort the upgrade (as 0013)
        savepoint = conn.begin_nested()
        try:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            conn.execute(
                sa.text(
                    "CREATE INDEX ix_mlinfra_feature_views_search_trgm ON mlinfra_feature_views "
                    "USING gin (search_text gin_trgm_ops)"
                )
            )
        except sa.exc.DBAPIError:
            savepoint.rollback()
        else:
            savepoint.commit()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_mlinfra_feature_views_search_trgm")
    with op.batch_alter_table("mlinfra_feature_views") as batch:
        batch.drop_column("search_text")
    op.drop_index("ix_mlinfra_model_metrics_value", table_name="mlinfra_model_metrics")
