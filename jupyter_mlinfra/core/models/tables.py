"""Catalog tables of the model store (migration ``0004_models``).

A registered model (``mlinfra_models``) owns numbered versions (``mlinfra_model_versions``),
named aliases pointing at one version each (``mlinfra_model_aliases``) and, for search by
threshold, one row per (version, metric) in ``mlinfra_model_metrics``. Version numbers are
handed out from ``RegisteredModel.last_version`` inside the transaction that inserts the
version, with the model row locked: they are unique and gapless, and a version becomes visible
only when that transaction commits (its artifacts are written before it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..catalog.schema import Base, UTCDateTime, utcnow


class RegisteredModel(Base):
    __tablename__ = "mlinfra_models"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[dict] = mapped_column(JSON, default=dict)
    last_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModelVersionRecord(Base):
    __tablename__ = "mlinfra_model_versions"
    __table_args__ = (
        UniqueConstraint("model_name", "version", name="uq_mlinfra_model_versions_name_version"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_name: Mapped[str] = mapped_column(
        String(200), ForeignKey("mlinfra_models.name", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), default="ready")  # ready | archived
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[dict] = mapped_column(JSON, default=dict)
    flavor: Mapped[str] = mapped_column(String(64), default="")
    definition: Mapped[dict] = mapped_column(JSON, default=dict)
    signature: Mapped[dict] = mapped_column(JSON, default=dict)
    dependencies: Mapped[dict] = mapped_column(JSON, default=dict)
    data: Mapped[list] = mapped_column(JSON, default=list)
    code: Mapped[dict] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    artifacts: Mapped[list] = mapped_column(JSON, default=list)
    clean: Mapped[bool] = mapped_column(Boolean, default=True)
    dirty_reasons: Mapped[list] = mapped_column(JSON, default=list)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# the model version search's order (newest first) with what its filters read (0014_list_indexes)
Index(
    "ix_mlinfra_model_versions_created",
    ModelVersionRecord.created_at.desc(),
    ModelVersionRecord.model_name,
    ModelVersionRecord.version.desc(),
    ModelVersionRecord.status,
    ModelVersionRecord.owner,
)
# what the models list asks of each model's versions
Index(
    "ix_mlinfra_model_versions_of_model",
    ModelVersionRecord.model_name,
    ModelVersionRecord.status,
    ModelVersionRecord.owner,
)


class ModelAlias(Base):
    __tablename__ = "mlinfra_model_aliases"

    model_name: Mapped[str] = mapped_column(
        String(200), ForeignKey("mlinfra_models.name", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str] = mapped_column(String(128))
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModelMetric(Base):
    __tablename__ = "mlinfra_model_metrics"

    version_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("mlinfra_model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)
    value: Mapped[float] = mapped_column(Float)


# a metric threshold's versions from the index (0015_list_search_text)
Index("ix_mlinfra_model_metrics_value", ModelMetric.key, ModelMetric.value, ModelMetric.version_id)
