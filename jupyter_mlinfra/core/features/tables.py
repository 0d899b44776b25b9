"""Catalog tables of the feature store (migration ``0005_features``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
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
