"""Catalog tables of the feature store (migration ``0005_features``; the views' search text:
``0015_list_search_text``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    select,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, mapped_column

from ..catalog.schema import Base, UTCDateTime, utcnow


class EntityRecord(Base):
    """A thing features describe (a customer, a driver): its name and join keys."""

    __tablename__ = "mlinfra_feature_entities"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    join_keys: Mapped[str] = mapped_column(Text)  # JSON list of column names
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeatureViewRecord(Base):
    """A named, owned group of features computed by one transformation (all versions)."""

    __tablename__ = "mlinfra_feature_views"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    team: Mapped[str] = mapped_column(String(128), default="")
    visibility: Mapped[str] = mapped_column(String(16), default="private")
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    ttl_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    latest_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # what the list's ``text`` filter searches (``search_text``), kept by the events below
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")


class FeatureViewVersionRecord(Base):
    """One immutable definition of a view: transform, schema, source, timestamps."""

    __tablename__ = "mlinfra_feature_view_versions"
    __table_args__ = (UniqueConstraint("view_name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    view_name: Mapped[str] = mapped_column(
        String(128), ForeignKey("mlinfra_feature_views.name", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    entities: Mapped[str] = mapped_column(Text)  # JSON list of entity names
    join_keys: Mapped[str] = mapped_column(Text)  # JSON {column: dtype}
    features: Mapped[str] = mapped_column(Text)  # JSON [{"name", "dtype"}]
    event_timestamp_column: Mapped[str] = mapped_column(String(128))
    created_timestamp_column: Mapped[str] = mapped_column(String(128), default="")
    source_kind: Mapped[str] = mapped_column(String(32))  # dataframe|parquet|csv|artifact|push
    source_ref: Mapped[str] = mapped_column(Text, default="")
    transform_name: Mapped[str] = mapped_column(String(256), default="")
    transform_source: Mapped[str] = mapped_column(Text, default="")
    transform_key: Mapped[str] = mapped_column(Text, default="")  # artifact key (cloudpickle)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OfflineFileRecord(Base):
    """One parquet file of the offline store (one time partition of one write)."""

    __tablename__ = "mlinfra_feature_offline_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    view_name: Mapped[str] = mapped_column(
        String(128), ForeignKey("mlinfra_feature_views.name", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    partition: Mapped[str] = mapped_column(String(32))  # date=YYYY-MM-DD
    artifact_key: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(BigInteger)
    min_event_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    max_event_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))  # materialize|push
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MaterializationRecord(Base):
    """An interval [start, end) of event time computed for one version."""

    __tablename__ = "mlinfra_feature_materializations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    view_name: Mapped[str] = mapped_column(
        String(128), ForeignKey("mlinfra_feature_views.name", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    rows: Mapped[int] = mapped_column(BigInteger)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeatureUsageRecord(Base):
    """Who consumes a view version (a model version, a job): the "used by" list."""

    __tablename__ = "mlinfra_feature_usages"
    __table_args__ = (UniqueConstraint("view_name", "version", "consumer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    view_name: Mapped[str] = mapped_column(
        String(128), ForeignKey("mlinfra_feature_views.name", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    consumer: Mapped[str] = mapped_column(String(256))  # e.g. "model:churn/3"
    features: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of feature names
    recorded_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- the views' search text (0015_list_search_text) -------------------------------------------
def search_text(name: str, description: str, tags, features, entities) -> str:
    """A view's searchable text, lowered: its name, description, tags, and its latest
    version's feature names and entities, one per line (``tags``/``features``/``entities``:
    the JSON text of the columns). A word of the filter (no whitespace) is in this text
    exactly when it is in one of those."""

    def load(value):
        return json.loads(value) if isinstance(value, str) and value else (value or [])

    parts = [name or "", description or "", *map(str, load(tags))]
    parts += [str(f.get("name", "")) for f in load(features) if isinstance(f, dict)]
    parts += [str(e) for e in load(entities)]
    return "\n".join(parts).lower()


def refresh_search_text(connection, view_name: str) -> None:
    """Recompute one view's search text from its row and its latest version's (in the
    writing transaction)."""
    view: Any = FeatureViewRecord.__table__
    version: Any = FeatureViewVersionRecord.__table__
    row = connection.execute(
        select(
            view.c.name,
            view.c.description,
            view.c.tags,
            version.c.features,
            version.c.entities,
        )
        .select_from(
            view.outerjoin(
                version,
                (version.c.view_name == view.c.name) & (version.c.version == view.c.latest_version),
            )
        )
        .where(view.c.name == view_name)
    ).first()
    if row is not None:
        connection.execute(
            update(view).where(view.c.name == view_name).values(search_text=search_text(*row))
        )


@event.listens_for(FeatureViewRecord, "after_insert")
def _view_inserted(_mapper, connection, rec) -> None:
    refresh_search_text(connection, rec.name)


@event.listens_for(FeatureViewRecord, "after_update")
def _view_updated(_mapper, connection, rec) -> None:
    state = sa_inspect(rec)
    if any(
        getattr(state.attrs, name).history.has_changes()
        for name in ("description", "tags", "latest_version")
    ):
        refresh_search_text(connection, rec.name)


@event.listens_for(FeatureViewVersionRecord, "after_insert")
def _view_version_inserted(_mapper, connection, rec) -> None:
    refresh_search_text(connection, rec.view_name)
