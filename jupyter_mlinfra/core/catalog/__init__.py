"""The catalog: one SQL database (SQLite by default, PostgreSQL by URL) for every capability.

``Catalog``, ``Base`` and ``utcnow`` are imported on first use, so that a module of this
package that needs no SQLAlchemy (``revisions``) can be imported without it.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .database import Catalog
    from .schema import Base, utcnow

__all__ = ["Catalog", "Base", "utcnow"]


def __getattr__(name: str) -> Any:
    if name == "Catalog":
        from .database import Catalog

        return Catalog
    if name in ("Base", "utcnow"):
        from . import schema

        return getattr(schema, name)
    raise AttributeError(name)
