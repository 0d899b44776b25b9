"""The feature registry: entities, views, their immutable versions and visibility (the lists
and descriptions built on it are in :mod:`.discovery`).

Everything here reads or writes the catalog and nothing else (no artifacts, no stores): what
the other modules need from the catalog (a readable view version, its offline files, the
intervals materialized) they ask through :class:`FeatureRegistry`'s methods, as typed values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from ..errors import Conflict, InvalidInput, NotFound
from ..identity import Identity, check_may_change, may_read
from ..times import to_iso_z
from .definitions import (
    FeatureSpec,
    ViewVersion,
    check_name,
    check_visibility,
    format_ttl,
    parse_tags,
    parse_ttl,
    utc_now,
)
from .offline import WrittenFile
from .reading import OfflineFile, ResolvedView
from .tables import (
    EntityRecord,
    FeatureUsageRecord,
    FeatureViewRecord,
    FeatureViewVersionRecord,
    MaterializationRecord,
    OfflineFileRecord,
)

# DataFrame sources kept by mlinfra (uploaded by remote clients or snapshotted at definition):
# deleted with the last view that names them
SOURCE_DATA_REF = "artifact:features/sources/"


@dataclass(frozen=True)
class NewVersion:
    """The immutable part of a view definition that a new version stores."""

    fingerprint: str
    entities: list[str]
    join_keys: dict[str, str]
    features: list[FeatureSpec]
    event_timestamp: str
    created_timestamp: str
    source_kind: str
    source_ref: str
    transform_name: str
    transform_source: str
    transform_key: str


def entity_dict(rec: EntityRecord) -> dict:
    return {
        "name": rec.name,
        "join_keys": json.loads(rec.join_keys),
        "description": rec.description,
        "owner": rec.owner,
        "created_at": to_iso_z(rec.created_at),
    }


def view_summary(rec: FeatureViewRecord, version: ViewVersion | None = None) -> dict:
    out = {
        "name": rec.name,
        "owner": rec.owner,
        "team": rec.team,
        "visibility": rec.visibility,
        "description": rec.description,
        "tags": json.loads(rec.tags),
        "ttl_seconds": rec.ttl_seconds,
        "ttl": format_ttl(rec.ttl_seconds),
        "latest_version": rec.latest_version,
        "created_at": to_iso_z(rec.created_at),
        "updated_at": to_iso_z(rec.updated_at),
    }
    if version is not None:
        out.update(
            entities=version.entities,
            join_keys=list(version.join_keys),
            features=[f.to_dict() for f in version.features],
        )
    return out


class FeatureRegistry:
    """The catalog side of the feature store, seen by the workspace's identity."""

    def __init__(self, workspace) -> None:
        self.ws = workspace

    @property
    def catalog(self):
        return self.ws.catalog

    @property
    def identity(self) -> Identity:
        return self.ws.identity

    # -- visibility -------------------------------------------------------------------------
    def visible(self, rec: FeatureViewRecord) -> bool:
        return may_read(self.identity, rec.owner, rec.visibility, rec.team)

    def view_record(self, s, name: str) -> FeatureViewRecord:
        rec = s.get(FeatureViewRecord, name)
        if rec is None or not self.visible(rec):
            raise NotFound(f"no feature view {name!r}")
        return rec

    def owned_record(self, s, name: str) -> FeatureViewRecord:
        rec = self.view_record(s, name)
        check_may_change(self.identity, rec.owner, f"feature view {name!r}")
        return rec

    @staticmethod
    def version_of(s, rec: FeatureViewRecord, version: int | None) -> ViewVersion:
        number = rec.latest_version if version is None else int(version)
        row = s.scalars(
            select(FeatureViewVersionRecord).where(
                FeatureViewVersionRecord.view_name == rec.name,
                FeatureViewVersionRecord.version == number,
            )
        ).first()
        if row is None:
            raise NotFound(f"feature view {rec.name!r} has no version {number}")
        return ViewVersion.from_record(row)

    def resolve(self, name: str, version: int | None = None, *, owned: bool = False) -> ViewVersion:
        """A version of a view this user may read (``owned``: may change)."""
        with self.catalog.read_session() as s:
            rec = self.owned_record(s, name) if owned else self.view_record(s, name)
            return self.version_of(s, rec, version)

    def resolve_many(self, wanted: Iterable[tuple[str, int | None]]) -> list[ResolvedView]:
        """Readable ``(view, version or None for the latest)`` pairs, in one read."""
        out = []
        with self.catalog.read_session() as s:
            for name, number in wanted:
                rec = self.view_record(s, name)
                out.append(
                    ResolvedView(self.version_of(s, rec, number), rec.ttl_seconds, rec.owner)
                )
        return out

    def latest_version(self, name: str) -> int | None:
        """The latest version number of a view this user may read, else ``None``."""
        with self.catalog.read_session() as s:
            rec = s.get(FeatureViewRecord, name)
            return rec.latest_version if rec is not None and self.visible(rec) else None

    def counts(self) -> dict:
        with self.catalog.read_session() as s:
            views = s.scalars(select(FeatureViewRecord)).all()
            entities = len(s.scalars(select(EntityRecord.name)).all())
        return {"entities": entities, "views": len([v for v in views if self.visible(v)])}

    # -- entities ---------------------------------------------------------------------------
    def register_entity(
        self, name: str, join_keys: Iterable[str] | str | None = None, description: str = ""
    ) -> dict:
        check_name(name, "entity")
        keys = [join_keys] if isinstance(join_keys, str) else list(join_keys or [name])
        if not keys:
            raise InvalidInput(f"entity {name!r} needs at least one join key")
        for key in keys:
            check_name(key, "join key")
        with self.catalog.session() as s:
            rec = s.get(EntityRecord, name)
            if rec is not None:
                if json.loads(rec.join_keys) != keys:
                    raise Conflict(
                        f"entity {name!r} exists with join keys "
                        f"{json.loads(rec.join_keys)}; it cannot change to {keys}"
                    )
                if description and description != rec.description:
                    check_may_change(self.identity, rec.owner, f"entity {name!r}")
                    rec.description = description
                return entity_dict(rec)
            rec = EntityRecord(
                name=name,
                join_keys=json.dumps(keys),
                description=description,
                owner=self.ws.user,
                created_at=utc_now(),
            )
            s.add(rec)
            return entity_dict(rec)

    def delete_entity(self, name: str) -> None:
        with self.catalog.session() as s:
            rec = s.get(EntityRecord, name)
            if rec is None:
                raise NotFound(f"no entity {name!r}")
            check_may_change(self.identity, rec.owner, f"entity {name!r}", "delete")
            users = [
                v.view_name
                for v in s.scalars(select(FeatureViewVersionRecord))
                if name in json.loads(v.entities)
            ]
            if users:
                raise Conflict(f"entity {name!r} is used by feature views {sorted(set(users))}")
            s.delete(rec)

    # -- views ------------------------------------------------------------------------------
    def prepare_view(
        self, name: str, entity_names: list[str]
    ) -> tuple[list[str], ViewVersion | None]:
        """Before (re-)defining view ``name``: the join keys of its entities and its latest
        version (``None`` for a new view); refuses a view this user may not change."""
        with self.catalog.read_session() as s:
            join_keys: list[str] = []
            for ename in entity_names:
                erec = s.get(EntityRecord, ename)
                if erec is None:
                    raise NotFound(
                        f"no entity {ename!r}: register it first "
                        f"(features.entity({ename!r}, join_keys=[...]))"
                    )
                join_keys += [k for k in json.loads(erec.join_keys) if k not in join_keys]
            existing = s.get(FeatureViewRecord, name)
            if existing is not None and existing.owner != self.ws.user:
                if not self.visible(existing):
                    raise Conflict(f"a feature view named {name!r} already exists")
                check_may_change(self.identity, existing.owner, f"feature view {name!r}")
            latest = self.version_of(s, existing, None) if existing is not None else None
        return join_keys, latest

    def save_view(
        self,
        name: str,
        new: NewVersion | None,
        *,
        visibility: str | None,
        description: str | None,
        tags: list[str] | None,
        ttl: Any,
        ttl_seconds: float | None,
    ) -> tuple[int, list[str]]:
        """Create or update view ``name`` (``new``: also add a version): ``(its latest
        version, what changed)``."""
        now = utc_now()
        with self.catalog.session() as s:
            rec = s.get(FeatureViewRecord, name)
            changed: list[str] = []
            if rec is None:
                rec = FeatureViewRecord(
                    name=name,
                    owner=self.ws.user,
                    team=self.identity.team,
                    visibility=visibility or "private",
                    description=description or "",
                    tags=json.dumps(tags or []),
                    ttl_seconds=ttl_seconds,
                    latest_version=0,
                    created_at=now,
                    updated_at=now,
                )
                s.add(rec)
                s.flush()
            else:
                # re-check inside the write transaction
                check_may_change(self.identity, rec.owner, f"feature view {name!r}")
                for attr, value in (("description", description), ("visibility", visibility)):
                    if value is not None and getattr(rec, attr) != value:
                        setattr(rec, attr, value)
                        changed.append(attr)
                if tags is not None and json.loads(rec.tags) != tags:
                    rec.tags = json.dumps(tags)
                    changed.append("tags")
                if ttl is not None and rec.ttl_seconds != ttl_seconds:
                    rec.ttl_seconds = ttl_seconds
                    changed.append("ttl")
            if new is not None:
                rec.latest_version += 1
                s.add(
                    FeatureViewVersionRecord(
                        view_name=name,
                        version=rec.latest_version,
                        fingerprint=new.fingerprint,
                        entities=json.dumps(new.entities),
                        join_keys=json.dumps(new.join_keys),
                        features=json.dumps([f.to_dict() for f in new.features]),
                        event_timestamp_column=new.event_timestamp,
                        created_timestamp_column=new.created_timestamp,
                        source_kind=new.source_kind,
                        source_ref=new.source_ref,
                        transform_name=new.transform_name,
                        transform_source=new.transform_source,
                        transform_key=new.transform_key,
                        created_by=self.ws.user,
                        created_at=now,
                    )
                )
                changed.append("version")
            if changed:
                rec.updated_at = now
            return rec.latest_version, changed

    def update_view(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        visibility: str | None = None,
        ttl: Any = None,
    ) -> dict:
        check_visibility(visibility, got=False)
        ttl_seconds = parse_ttl(ttl) if ttl is not None else None
        with self.catalog.session() as s:
            rec = self.owned_record(s, name)
            if description is not None:
                rec.description = description
            if tags is not None:
                rec.tags = json.dumps(sorted(set(parse_tags(tags))))
            if visibility is not None:
                rec.visibility = visibility
            if ttl is not None:
                rec.ttl_seconds = ttl_seconds
            rec.updated_at = utc_now()
            return view_summary(rec)

    def delete_view(self, name: str) -> list[str]:
        """Delete a view's catalog rows (owner only): the artifact keys of its offline files."""
        return self.delete_view_keys(name)[0]

    def delete_view_keys(self, name: str) -> tuple[list[str], list[str]]:
        """Delete a view's catalog rows (owner only): the artifact keys of its offline files,
        and those of its uploaded or snapshotted DataFrame sources (``features/sources/``)
        that no version of another view names (in the same transaction)."""
        with self.catalog.session() as s:
            rec = self.owned_record(s, name)
            keys = [
                f.artifact_key
                for f in s.scalars(
                    select(OfflineFileRecord).where(OfflineFileRecord.view_name == name)
                )
            ]
            refs = set(
                s.scalars(
                    select(FeatureViewVersionRecord.source_ref).where(
                        FeatureViewVersionRecord.view_name == name,
                        FeatureViewVersionRecord.source_ref.startswith(
                            SOURCE_DATA_REF, autoescape=True
                        ),
                    )
                )
            )
            if refs:
                refs -= set(
                    s.scalars(
                        select(FeatureViewVersionRecord.source_ref).where(
                            FeatureViewVersionRecord.view_name != name,
                            FeatureViewVersionRecord.source_ref.in_(sorted(refs)),
                        )
                    )
                )
            sources = sorted(ref[len("artifact:") :] for ref in refs)
            for table in (
                FeatureUsageRecord,
                MaterializationRecord,
                OfflineFileRecord,
                FeatureViewVersionRecord,
            ):
                s.execute(delete(table).where(table.view_name == name))
            s.delete(rec)
        return keys, sources

    # -- offline files and materialized intervals ---------------------------------------------
    @staticmethod
    def files_in(s, name: str, version: int) -> list[OfflineFile]:
        return [
            OfflineFile.from_record(r)
            for r in s.scalars(
                select(OfflineFileRecord).where(
                    OfflineFileRecord.view_name == name, OfflineFileRecord.version == version
                )
            )
        ]

    def offline_files(self, name: str, version: int) -> list[OfflineFile]:
        with self.catalog.read_session() as s:
            return self.files_in(s, name, version)

    def materialized(self, name: str, version: int) -> list[tuple[datetime, datetime]]:
        """The event-time intervals [start, end) already materialized for a version."""
        with self.catalog.read_session() as s:
            return [
                (m.start, m.end)
                for m in s.scalars(
                    select(MaterializationRecord).where(
                        MaterializationRecord.view_name == name,
                        MaterializationRecord.version == version,
                    )
                )
            ]

    @staticmethod
    def _add_files(
        s, name: str, version: int, written: list[WrittenFile], kind: str, now: datetime
    ) -> None:
        for w in written:
            s.add(
                OfflineFileRecord(
                    view_name=name,
                    version=version,
                    partition=w.partition,
                    artifact_key=w.key,
                    rows=w.rows,
                    min_event_ts=w.min_ts,
                    max_event_ts=w.max_ts,
                    kind=kind,
                    created_at=now,
                )
            )

    def add_materialization(
        self,
        name: str,
        version: int,
        written: list[WrittenFile],
        intervals: list[tuple[datetime, datetime, int]],
        seconds: float,
        now: datetime,
    ) -> None:
        """List the files a materialization wrote and the ``(start, end, rows)`` intervals it
        covered, in one transaction (re-checking that this user may change the view)."""
        with self.catalog.session() as s:
            self.owned_record(s, name)
            self._add_files(s, name, version, written, "materialize", now)
            for a, b, count in intervals:
                s.add(
                    MaterializationRecord(
                        view_name=name,
                        version=version,
                        start=a,
                        end=b,
                        rows=count,
                        seconds=seconds,
                        created_by=self.ws.user,
                        created_at=now,
                    )
                )

    def add_files(
        self, name: str, version: int, written: list[WrittenFile], kind: str, now: datetime
    ) -> None:
        with self.catalog.session() as s:
            self._add_files(s, name, version, written, kind, now)

    def replace_files(
        self,
        name: str,
        version: int,
        replaced: list[tuple[list[OfflineFile], list[WrittenFile]]],
        now: datetime,
    ) -> None:
        """Swap each group of files for the files written in its place (compaction), in one
        transaction: readers see the old files or the new ones, never both."""
        with self.catalog.session() as s:
            self.owned_record(s, name)
            for group, written in replaced:
                s.execute(
                    delete(OfflineFileRecord).where(OfflineFileRecord.id.in_([f.id for f in group]))
                )
                self._add_files(s, name, version, written, "compact", now)
