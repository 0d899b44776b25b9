"""Discovery: finding feature views and entities, describing a view (schema, versions,
freshness, materializations, used-by) and recording who uses a view (the used-by list). The
catalog only, through the registry's visibility rules."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select

from ..errors import InvalidInput
from ..paging import PageRequest, encode_cursor, envelope, keyset
from ..tags import labels_clause, labels_match, tag_terms
from ..times import to_iso_z
from .definitions import ViewVersion, utc_now
from .registry import FeatureRegistry, OfflineFile, entity_dict, view_summary
from .tables import (
    EntityRecord,
    FeatureUsageRecord,
    FeatureViewRecord,
    FeatureViewVersionRecord,
    MaterializationRecord,
    OfflineFileRecord,
)


class FeatureDiscovery:
    """Lists and descriptions of what the registry's identity may see."""

    def __init__(self, registry: FeatureRegistry) -> None:
        self.registry = registry

    def list_entities(self) -> list[dict]:
        with self.registry.catalog.read_session() as s:
            return [
                entity_dict(r) for r in s.scalars(select(EntityRecord).order_by(EntityRecord.name))
            ]

    def list_entities_page(
        self,
        *,
        q: str | None = None,
        owner: str | None = None,
        limit: Any = None,
        offset: Any = None,
        cursor: str | None = None,
    ) -> dict:
        """One page of the entities (by name; ``q``: text in the name, description or join
        keys), paged by the database: the envelope of :mod:`..paging`."""
        request = PageRequest.of(limit, offset, cursor)
        with self.registry.catalog.read_session() as s:
            stmt = select(EntityRecord)
            if owner:
                stmt = stmt.where(EntityRecord.owner == owner)
            if q:
                stmt = stmt.where(
                    or_(
                        EntityRecord.name.icontains(q, autoescape=True),
                        EntityRecord.description.icontains(q, autoescape=True),
                        EntityRecord.join_keys.icontains(q, autoescape=True),
                    )
                )
            total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
            rows = list(
                s.scalars(
                    keyset(stmt, [EntityRecord.name], request.after(1))
                    .limit(request.limit + 1)
                    .offset(request.offset)
                )
            )
            more = len(rows) > request.limit
            rows = rows[: request.limit]
            return envelope(
                [entity_dict(r) for r in rows],
                total=total,
                limit=request.limit,
                offset=request.offset,
                next_cursor=encode_cursor([rows[-1].name]) if more else None,
            )

    def list_views(
        self,
        text: str | None = None,
        owner: str | None = None,
        tag: str | list[str] | None = None,
        entity: str | None = None,
    ) -> list[dict]:
        """Views this user may see, filtered by free text (name, description, feature names,
        tags), owner, tag (one or several labels, all held: core/tags.py) and entity."""
        needle = (text or "").strip().lower()
        terms = tag_terms(tag)
        with self.registry.catalog.read_session() as s:
            views = [
                v
                for v in s.scalars(select(FeatureViewRecord).order_by(FeatureViewRecord.name))
                if self.registry.visible(v)
            ]
            latest = {
                (r.view_name, r.version): ViewVersion.from_record(r)
                for r in s.scalars(select(FeatureViewVersionRecord))
            }
            fresh: dict[str, datetime] = {}
            for m in s.scalars(select(MaterializationRecord)):
                fresh[m.view_name] = max(fresh.get(m.view_name, m.created_at), m.created_at)
            for f in s.scalars(select(OfflineFileRecord).where(OfflineFileRecord.kind == "push")):
                fresh[f.view_name] = max(fresh.get(f.view_name, f.created_at), f.created_at)
        out = []
        for rec in views:
            version = latest.get((rec.name, rec.latest_version))
            if owner and rec.owner != owner:
                continue
            tags = json.loads(rec.tags)
            if terms and not labels_match(tags, terms):
                continue
            if entity and (version is None or entity not in version.entities):
                continue
            if needle:
                haystack = " ".join(
                    [
                        rec.name,
                        rec.description,
                        " ".join(tags),
                        " ".join(version.feature_names if version else []),
                        " ".join(version.entities if version else []),
                    ]
                ).lower()
                if not all(word in haystack for word in needle.split()):
                    continue
            summary = view_summary(rec, version)
            summary["last_updated_data"] = to_iso_z(fresh[rec.name]) if rec.name in fresh else None
            out.append(summary)
        return out

    def list_views_page(
        self,
        text: str | None = None,
        owner: str | None = None,
        tag: str | list[str] | None = None,
        entity: str | None = None,
        *,
        limit: Any = None,
        offset: Any = None,
        cursor: str | None = None,
    ) -> dict:
        """One page of ``list_views`` (by name): the same views, every filter answered by the
        database (visibility, owner, tag and entity through JSON operators, each word of
        ``text`` in the view's stored search text: its name, description, tags, feature
        names and entities, kept by the write paths), keyset-paged;
        the freshness is read for the page's views only."""
        from ..identity import readable_clause
        from ..paging import filter_scope

        words = (text or "").strip().lower().split()
        terms = tag_terms(tag)
        scope = filter_scope(
            "feature-views", text=words, owner=owner, tag=sorted(terms), entity=entity
        )
        request = PageRequest.of(limit, offset, cursor, scope)
        backend = self.registry.catalog.backend
        view, version = FeatureViewRecord, FeatureViewVersionRecord
        stmt = select(view, version).outerjoin(
            version, (version.view_name == view.name) & (version.version == view.latest_version)
        )
        clause = readable_clause(self.registry.identity, view.owner, view.visibility, view.team)
        if clause is not None:
            stmt = stmt.where(clause)
        if owner:
            stmt = stmt.where(view.owner == owner)
        if terms:
            stmt = stmt.where(labels_clause(view.tags, terms, backend))
        if entity:
            stmt = stmt.where(labels_clause(version.entities, [entity], backend))
        for word in words:  # in the stored search text (tables.search_text)
            stmt = stmt.where(view.search_text.contains(word, autoescape=True))
        with self.registry.catalog.read_session() as s:
            total = (
                s.scalar(
                    select(func.count()).select_from(stmt.with_only_columns(view.name).subquery())
                )
                or 0
            )
            rows = list(
                s.execute(
                    keyset(stmt, [view.name], request.after(1))
                    .limit(request.limit + 1)
                    .offset(request.offset)
                )
            )
            more = len(rows) > request.limit
            rows = rows[: request.limit]
            names = [rec.name for rec, _ in rows]
            fresh: dict[str, datetime] = {}
            if names:
                for table in (MaterializationRecord, OfflineFileRecord):
                    query = select(table.view_name, func.max(table.created_at)).where(
                        table.view_name.in_(names)
                    )
                    if table is OfflineFileRecord:
                        query = query.where(OfflineFileRecord.kind == "push")
                    for name, at in s.execute(query.group_by(table.view_name)):
                        if at is not None:
                            fresh[name] = max(fresh.get(name, at), at)
            items = []
            for rec, ver in rows:
                summary = view_summary(rec, ViewVersion.from_record(ver) if ver else None)
                summary["last_updated_data"] = (
                    to_iso_z(fresh[rec.name]) if rec.name in fresh else None
                )
                items.append(summary)
        return envelope(
            items,
            total=total,
            limit=request.limit,
            offset=request.offset,
            next_cursor=request.cursor_of([names[-1]]) if more else None,
        )

    def describe(
        self, name: str, version: int | None = None
    ) -> tuple[dict, ViewVersion, list[OfflineFile]]:
        """What the catalog knows of a view: schema, versions, freshness, materializations,
        used-by (``freshness["online_entities"]`` is left ``None`` for the online store to
        fill), the version described and its offline files."""
        with self.registry.catalog.read_session() as s:
            rec = self.registry.view_record(s, name)
            current = self.registry.version_of(s, rec, version)
            versions = [
                ViewVersion.from_record(r)
                for r in s.scalars(
                    select(FeatureViewVersionRecord)
                    .where(FeatureViewVersionRecord.view_name == name)
                    .order_by(FeatureViewVersionRecord.version)
                )
            ]
            files = self.registry.files_in(s, name, current.version)
            mats = list(
                s.scalars(
                    select(MaterializationRecord)
                    .where(MaterializationRecord.view_name == name)
                    .order_by(MaterializationRecord.created_at.desc())
                )
            )
            usages = list(
                s.scalars(
                    select(FeatureUsageRecord)
                    .where(FeatureUsageRecord.view_name == name)
                    .order_by(FeatureUsageRecord.created_at)
                )
            )
        out = view_summary(rec, current)
        out["version"] = current.version
        out["definition"] = current.to_dict()
        out["versions"] = [
            {
                "version": v.version,
                "fingerprint": v.fingerprint[:12],
                "created_by": v.created_by,
                "created_at": to_iso_z(v.created_at),
                "features": v.feature_names,
            }
            for v in versions
        ]
        pushes = [f for f in files if f.kind == "push"]
        mats_current = [m for m in mats if m.version == current.version]
        max_event = max((f.max_event_ts for f in files), default=None)
        freshness = {
            "last_materialized_at": mats_current[0].created_at if mats_current else None,
            "materialized_until": max((m.end for m in mats_current), default=None),
            "last_push_at": max((f.created_at for f in pushes), default=None),
            "latest_event_time": max_event,
            "age_seconds": (utc_now() - max_event).total_seconds() if max_event else None,
            "offline_files": len(files),
            "offline_rows": sum(f.rows for f in files),
            "online_entities": None,
        }
        out["freshness"] = {
            k: to_iso_z(v) if isinstance(v, datetime) else v for k, v in freshness.items()
        }
        out["materializations"] = [
            {
                "version": m.version,
                "start": to_iso_z(m.start),
                "end": to_iso_z(m.end),
                "rows": m.rows,
                "seconds": round(m.seconds, 3),
                "by": m.created_by,
                "at": to_iso_z(m.created_at),
            }
            for m in mats[:20]
        ]
        out["materializations_total"] = len(mats)  # the newest 20 are listed
        out["used_by"] = [
            {
                "consumer": u.consumer,
                "version": u.version,
                "features": json.loads(u.features),
                "recorded_by": u.recorded_by,
                "at": to_iso_z(u.created_at),
            }
            for u in usages
        ]
        return out, current, files

    def record_usage(self, lineage: dict, consumer: str) -> list[dict]:
        """Record that ``consumer`` uses the views of a training frame's lineage."""
        if not isinstance(lineage, dict) or "views" not in lineage:
            raise InvalidInput(
                "record_usage needs a training-frame lineage dict (the frame's "
                "attrs['mlinfra_lineage'])"
            )
        if not consumer or not isinstance(consumer, str) or len(consumer) > 256:
            raise InvalidInput("consumer must be a short text such as 'model:churn/3'")
        out = []
        with self.registry.catalog.session() as s:
            for view in lineage["views"]:
                self.registry.view_record(s, view["name"])
                existing = s.scalars(
                    select(FeatureUsageRecord).where(
                        FeatureUsageRecord.view_name == view["name"],
                        FeatureUsageRecord.version == int(view["version"]),
                        FeatureUsageRecord.consumer == consumer,
                    )
                ).first()
                if existing is None:
                    s.add(
                        FeatureUsageRecord(
                            view_name=view["name"],
                            version=int(view["version"]),
                            consumer=consumer,
                            features=json.dumps(view.get("features", [])),
                            recorded_by=self.registry.ws.user,
                            created_at=utc_now(),
                        )
                    )
                out.append(
                    {"view": view["name"], "version": int(view["version"]), "consumer": consumer}
                )
        return out
