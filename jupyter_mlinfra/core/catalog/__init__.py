"""The catalog: one SQL database (SQLite by default, PostgreSQL by URL) for every capability."""

from .database import Catalog
from .schema import Base, utcnow

__all__ = ["Catalog", "Base", "utcnow"]
