"""Catalog tables of provenance: one row per recorded cell execution."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..catalog.schema import Base, UTCDateTime


class ExecutionRow(Base):
    """One execution of one cell, keyed by notebook path and kernel session."""

    __tablename__ = "mlinfra_provenance_executions"
    __table_args__ = (
        UniqueConstraint("session_id", "seq", name="uq_mlinfra_prov_session_seq"),
        Index("ix_mlinfra_prov_path_session", "notebook_path", "session_id", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notebook_path: Mapped[str] = mapped_column(String(1024))
    session_id: Mapped[str] = mapped_column(String(128))
    seq: Mapped[int] = mapped_column(Integer)
    cell_id: Mapped[str] = mapped_column(String(256))
    execution_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    error_type: Mapped[str | None] = mapped_column(String(256), nullable=True)
    effects: Mapped[str] = mapped_column(Text)  # JSON: reads, binds, mutates, deletes, deferred
    owner: Mapped[str] = mapped_column(String(256))


class SessionRow(Base):
    """One kernel session: one lifetime of one kernel process (a restart starts another).

    The recorder registers its session when it starts, before any execution, so the panel can
    tell a restarted kernel (same ``kernel_id``, a new session) from the one before it."""

    __tablename__ = "mlinfra_provenance_sessions"
    __table_args__ = (Index("ix_mlinfra_prov_sessions_kernel", "kernel_id", "started_at"),)

    session_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kernel_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    notebook_path: Mapped[str] = mapped_column(String(1024))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    executions_before: Mapped[int] = mapped_column(Integer, default=0)
    names_before: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    owner: Mapped[str] = mapped_column(String(256))
