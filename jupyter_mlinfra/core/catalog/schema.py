"""Declarative base shared by every capability's tables.

Each capability defines its tables in its own package (``core/jobs/tables.py`` ...) on this
``Base`` and adds an alembic migration under ``migrations/versions`` on its own branch
(``down_revision = "0001_foundation"``, ``branch_labels = ("<capability>",)``); the catalog
upgrades to all heads on first use.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..times import utcnow  # the one clock (tables' defaults; re-exported for their modules)

__all__ = ["Base", "CatalogInfo", "UTCDateTime", "utcnow"]


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, always returns aware UTC datetimes (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the catalog; pass an aware datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class CatalogInfo(Base):
    """Key/value facts about the catalog itself (its id, when it was created)."""

    __tablename__ = "mlinfra_catalog_info"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
