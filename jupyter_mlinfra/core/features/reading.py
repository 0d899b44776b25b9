"""What a training frame reads from the catalog, without SQLAlchemy when it can.

A training frame needs two reads from the catalog: the view versions it names (with the
view's TTL and visibility) and the list of their offline files. On a SQLite catalog already
at the package's migration heads, :class:`SQLiteViewReader` does both with the standard
``sqlite3`` module (as the kernel's provenance recorder writes, ``core/provenance/writer.py``),
so the first frame of a new process does not import SQLAlchemy, the ORM and the catalog's
tables (about a second). The answers are the same objects the registry returns, read from the
same rows. Anything else (PostgreSQL, a catalog to create or upgrade, remote mode) goes
through the feature service.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..errors import NotFound
from ..identity import Identity, may_read
from .definitions import FeatureSpec, ViewVersion

if TYPE_CHECKING:
    from .tables import OfflineFileRecord


@dataclass(frozen=True)
class OfflineFile:
    """One parquet file of a view version's offline store, as the catalog lists it."""

    id: int
    partition: str
    artifact_key: str
    rows: int
    min_event_ts: datetime
    max_event_ts: datetime
    kind: str
    created_at: datetime

    @classmethod
    def from_record(cls, rec: OfflineFileRecord) -> OfflineFile:
        return cls(
            id=rec.id,
            partition=rec.partition,
            artifact_key=rec.artifact_key,
            rows=rec.rows,
            min_event_ts=rec.min_event_ts,
            max_event_ts=rec.max_event_ts,
            kind=rec.kind,
            created_at=rec.created_at,
        )


@dataclass(frozen=True)
class ResolvedView:
    """A readable view version with what its view (all versions) says about reading it."""

    version: ViewVersion
    ttl_seconds: float | None
    owner: str


def _utc(text: str | None) -> datetime | None:
    """A ``UTCDateTime`` column as SQLAlchemy reads it back from SQLite (aware UTC)."""
    if text is None:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


_VERSION_COLUMNS = (
    "view_name, version, fingerprint, entities, join_keys, features, event_timestamp_column, "
    "created_timestamp_column, source_kind, source_ref, transform_name, transform_source, "
    "transform_key, created_by, created_at"
)


class SQLiteViewReader:
    """``resolve_many`` and ``offline_files`` of :class:`~.registry.FeatureRegistry` for one
    identity, read with ``sqlite3`` from a catalog at the migration heads."""

    def __init__(self, conn: sqlite3.Connection, identity: Identity) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.identity = identity

    @classmethod
    def open(cls, url: str, identity: Identity) -> SQLiteViewReader | None:
        """A reader for ``url``, or None when the catalog is not a SQLite file already at
        the package's migration heads."""
        from ..catalog.direct_sqlite import connect_at_heads

        conn = connect_at_heads(url)
        if conn is None:
            return None
        return cls(conn, identity)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def resolve_many(self, wanted: Iterable[tuple[str, int | None]]) -> list[ResolvedView]:
        """Readable ``(view, version or None for the latest)`` pairs, in one read."""
        out = []
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")  # one snapshot for all of them
            try:
                for name, number in wanted:
                    rec = conn.execute(
                        "SELECT owner, visibility, team, ttl_seconds, latest_version "
                        "FROM mlinfra_feature_views WHERE name = ?",
                        (name,),
                    ).fetchone()
                    if rec is None or not may_read(self.identity, rec[0], rec[1], rec[2]):
                        raise NotFound(f"no feature view {name!r}")
                    n = rec[4] if number is None else int(number)
                    row = conn.execute(
                        f"SELECT {_VERSION_COLUMNS} FROM mlinfra_feature_view_versions "
                        "WHERE view_name = ? AND version = ?",
                        (name, n),
                    ).fetchone()
                    if row is None:
                        raise NotFound(f"feature view {name!r} has no version {n}")
                    out.append(ResolvedView(_view_version(row), rec[3], rec[0]))
            finally:
                conn.execute("COMMIT")
        return out

    def offline_files(self, name: str, version: int) -> list[OfflineFile]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, partition, artifact_key, rows, min_event_ts, max_event_ts, kind, "
                "created_at FROM mlinfra_feature_offline_files "
                "WHERE view_name = ? AND version = ?",
                (name, version),
            ).fetchall()
        return [
            OfflineFile(i, part, key, n, _utc(lo), _utc(hi), kind, _utc(at))  # type: ignore[arg-type]
            for i, part, key, n, lo, hi, kind, at in rows
        ]


def _view_version(row: tuple) -> ViewVersion:
    (view, version, fingerprint, entities, join_keys, features, event_col, created_col) = row[:8]
    (source_kind, source_ref, t_name, t_source, t_key, created_by, created_at) = row[8:]
    return ViewVersion(
        view=view,
        version=version,
        fingerprint=fingerprint,
        entities=json.loads(entities),
        join_keys=json.loads(join_keys),
        features=[FeatureSpec(**f) for f in json.loads(features)],
        event_timestamp_column=event_col,
        created_timestamp_column=created_col,
        source_kind=source_kind,
        source_ref=source_ref,
        transform_name=t_name,
        transform_source=t_source,
        transform_key=t_key,
        created_by=created_by,
        created_at=_utc(created_at),
    )


FAST_FRAMES = "features:sqlite-frames"  # the workspace's services entry holding them
_LOCK = threading.Lock()


class SQLiteFrames:
    """Training frames over a :class:`SQLiteViewReader` for one workspace: kept among the
    workspace's services (so ``workspace.close()`` closes them) with their own stores (the
    offline store and the sorted copies of views)."""

    def __init__(self, workspace, reader: SQLiteViewReader) -> None:
        from .retrieval import TrainingFrames
        from .stores import FeatureStores

        self.reader = reader
        self.stores = FeatureStores(workspace)
        self.frames = TrainingFrames(workspace, reader, self.stores)

    def close(self) -> None:
        self.stores.close()
        self.reader.close()


def get_training_frame(workspace, entity_df, features, timestamp_column, full_feature_names):
    """``features.get_training_frame`` on ``workspace``: through :class:`SQLiteFrames` when
    the catalog allows it and the feature service has not been built in this process
    (which spares the process the catalog layer's import; once made they stay, with their
    sorted copies), else through the feature service (also remote)."""
    services = workspace._services
    fast = services.get(FAST_FRAMES)
    if fast is None and "features" not in services and workspace.remote is None:
        with _LOCK:
            fast = services.get(FAST_FRAMES)
            if fast is None:
                reader = SQLiteViewReader.open(workspace.config.catalog_url, workspace.identity)
                if reader is not None:
                    fast = services[FAST_FRAMES] = SQLiteFrames(workspace, reader)
    if fast is not None:
        return fast.frames.get_training_frame(
            entity_df, features, timestamp_column, full_feature_names
        )
    return workspace.service("features").get_training_frame(
        entity_df,
        features,
        timestamp_column=timestamp_column,
        full_feature_names=full_feature_names,
    )
