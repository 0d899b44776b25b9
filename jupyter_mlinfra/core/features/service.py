"""The feature store service: ``ws.service("features")``.

Definitions live in the catalog (entities, views, immutable view versions), feature data in
the offline store (parquet in the artifact store) and the online store (latest values per
entity). Everything a door does goes through :class:`FeatureService`.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable

from sqlalchemy import delete, select

from ..errors import Conflict, InvalidInput, NotFound
from ..identity import Identity, check_may_change, may_read
from ..shared_writes import captured_result, describe_value, shared_write
from .definitions import (CREATED_TS, EVENT_TS, VISIBILITIES, FeatureRef, FeatureSpec,
                          TransformCode, ViewVersion, check_name, coerce_column,
                          definition_fingerprint, format_ttl, infer_dtype, load_transform,
                          normalize_dtype, parse_refs, parse_time, parse_ttl, to_utc_naive,
                          utc_now)
from .asof import SortedRows, SortedRowsCache
from .offline import (ENTITY_ROW, ENTITY_TS, DuckDBEngine, LocalFiles, offline_prefix,
                      read_offline_files, write_partitions)
from .online import OnlineStore, encode_values, entity_key, open_online_store
from .tables import (EntityRecord, FeatureUsageRecord, FeatureViewRecord,
                     FeatureViewVersionRecord, MaterializationRecord, OfflineFileRecord)

LINEAGE_ATTR = "mlinfra_lineage"
SCHEMA_SAMPLE_ROWS = 10_000
_RESOLVE_TTL = 5.0  # seconds a resolved online plan is reused without asking the catalog

_DUCK_TYPES = {"int64": "BIGINT", "float64": "DOUBLE", "bool": "BOOLEAN", "string": "VARCHAR",
               "datetime": "TIMESTAMP"}


@dataclass
class OnlinePlanView:
    view: str
    version: int
    keys: list[str]
    ttl_seconds: float | None
    positions: list[int]  # index of each requested feature in the stored payload
    names: list[str]  # output names
    timestamps: list[str] = field(default_factory=list)  # outputs of type datetime


@dataclass
class OnlineFeatures:
    """The result of an online lookup, one entry per requested entity row, in order.

    ``rows[i]`` has the entity's join keys and one value per feature (``None`` when missing
    or older than the TTL; timestamps as aware UTC datetimes); ``status[i][feature]`` is ``"present"``, ``"not_found"`` or
    ``"expired"`` (older than the view's TTL); ``event_times[i][view]`` is the event time (UTC
    epoch seconds) of the stored row or ``None``.
    """

    feature_names: list[str]
    rows: list[dict[str, Any]]
    status: list[dict[str, str]]
    event_times: list[dict[str, float | None]] = field(default_factory=list)

    def to_dict(self) -> dict[str, list]:
        """Columns: each join key and feature to a list of values, plus ``<feature>__status``."""
        out: dict[str, list] = {}
        for row in self.rows:
            for k, v in row.items():
                out.setdefault(k, []).append(v)
        for name in self.feature_names:
            out[f"{name}__status"] = [s[name] for s in self.status]
        return out

    def to_df(self):
        import pandas as pd

        return pd.DataFrame(self.to_dict())

    @property
    def expired(self) -> list[list[str]]:
        """For each row, the features whose value was dropped for being older than the TTL."""
        return [[k for k, v in s.items() if v == "expired"] for s in self.status]

    def to_json(self) -> dict:
        return {"features": self.feature_names, "rows": self.rows, "status": self.status,
                "event_times": self.event_times}


class FeatureService:
    """Feature definitions, materialization, training frames and online lookups."""

    def __init__(self, workspace) -> None:
        self.ws = workspace
        self._online: OnlineStore | None = None
        self._duck = DuckDBEngine()
        self._sorted = SortedRowsCache()
        self._files: LocalFiles | None = None
        self._transforms: dict[tuple[str, int], Callable] = {}
        self._plans: dict[tuple, tuple[float, list[OnlinePlanView], list[str]]] = {}

    # -- wiring -----------------------------------------------------------------------------
    @property
    def user(self) -> str:
        return self.ws.user

    @property
    def identity(self) -> Identity:
        return self.ws.identity

    @property
    def team(self) -> str:
        return self.ws.identity.team

    @property
    def online(self) -> OnlineStore:
        if self._online is None:
            url = getattr(self.ws.config.settings, "online_store_url", "") or ""
            self._online = open_online_store(url, self.ws.config.home)
        return self._online

    @property
    def files(self) -> LocalFiles:
        if self._files is None:
            self._files = LocalFiles(self.ws.artifacts, self.ws.config.home / "feature-cache")
        return self._files

    def for_user(self, workspace) -> "FeatureService":
        """The same stores seen by another identity (the server's per-request user)."""
        clone = FeatureService.__new__(FeatureService)
        clone.__dict__.update(self.__dict__)
        clone.ws = workspace
        clone._plans = {}
        return clone

    def close(self) -> None:
        if self._online is not None:
            self._online.close()
            self._online = None
        self._duck.close()

    def status(self) -> dict:
        with self.ws.catalog.read_session() as s:
            views = s.scalars(select(FeatureViewRecord)).all()
            entities = len(s.scalars(select(EntityRecord.name)).all())
        visible = [v for v in views if self._visible(v)]
        return {"entities": entities, "views": len(visible),
                "online_store": self.online.describe()["backend"],
                "offline_store": self.ws.artifacts.describe()["backend"]}

    # -- visibility -------------------------------------------------------------------------
    def _visible(self, rec: FeatureViewRecord) -> bool:
        return may_read(self.identity, rec.owner, rec.visibility, rec.team)

    def _view(self, s, name: str) -> FeatureViewRecord:
        rec = s.get(FeatureViewRecord, name)
        if rec is None or not self._visible(rec):
            raise NotFound(f"no feature view {name!r}")
        return rec

    def _owned_view(self, s, name: str) -> FeatureViewRecord:
        rec = self._view(s, name)
        check_may_change(self.identity, rec.owner, f"feature view {name!r}")
        return rec

    def _version(self, s, rec: FeatureViewRecord, version: int | None) -> ViewVersion:
        number = rec.latest_version if version is None else int(version)
        row = s.scalars(select(FeatureViewVersionRecord).where(
            FeatureViewVersionRecord.view_name == rec.name,
            FeatureViewVersionRecord.version == number)).first()
        if row is None:
            raise NotFound(f"feature view {rec.name!r} has no version {number}")
        return ViewVersion.from_record(row)

    # -- entities ---------------------------------------------------------------------------
    @shared_write("features.entity", summary="register entity {name}",
                  stand_in=lambda self, args, entry: captured_result(
                      entry, name=args["name"], description=args["description"],
                      join_keys=[args["join_keys"]] if isinstance(args["join_keys"], str)
                      else list(args["join_keys"] or [args["name"]])))
    def register_entity(self, name: str, join_keys: Iterable[str] | str | None = None,
                        description: str = "") -> dict:
        check_name(name, "entity")
        keys = [join_keys] if isinstance(join_keys, str) else list(join_keys or [name])
        if not keys:
            raise InvalidInput(f"entity {name!r} needs at least one join key")
        for key in keys:
            check_name(key, "join key")
        with self.ws.catalog.session() as s:
            rec = s.get(EntityRecord, name)
            if rec is not None:
                if json.loads(rec.join_keys) != keys:
                    raise Conflict(f"entity {name!r} exists with join keys "
                                   f"{json.loads(rec.join_keys)}; it cannot change to {keys}")
                if description and description != rec.description:
                    check_may_change(self.identity, rec.owner, f"entity {name!r}")
                    rec.description = description
                return self._entity_dict(rec)
            rec = EntityRecord(name=name, join_keys=json.dumps(keys), description=description,
                               owner=self.user, created_at=utc_now())
            s.add(rec)
            return self._entity_dict(rec)

    @staticmethod
    def _entity_dict(rec: EntityRecord) -> dict:
        return {"name": rec.name, "join_keys": json.loads(rec.join_keys),
                "description": rec.description, "owner": rec.owner,
                "created_at": rec.created_at.isoformat() if rec.created_at else None}

    def list_entities(self) -> list[dict]:
        with self.ws.catalog.read_session() as s:
            return [self._entity_dict(r) for r in
                    s.scalars(select(EntityRecord).order_by(EntityRecord.name))]

    @shared_write("features.delete_entity", summary="delete entity {name}",
                  stand_in=lambda self, args, entry: None)
    def delete_entity(self, name: str) -> None:
        with self.ws.catalog.session() as s:
            rec = s.get(EntityRecord, name)
            if rec is None:
                raise NotFound(f"no entity {name!r}")
            check_may_change(self.identity, rec.owner, f"entity {name!r}", "delete")
            users = [v.view_name for v in s.scalars(select(FeatureViewVersionRecord))
                     if name in json.loads(v.entities)]
            if users:
                raise Conflict(f"entity {name!r} is used by feature views "
                               f"{sorted(set(users))}")
            s.delete(rec)

    # -- registration -----------------------------------------------------------------------
    @shared_write("features.define", summary="define feature view {name}",
                  stand_in=lambda self, args, entry: self._captured_view(
                      entry, created=False, changed=[], features=[], join_keys={}, source={}))
    def register_view(self, name: str, *, entities: Iterable[str] | str,
                      source: Any = None, transform: Callable | None = None,
                      transform_source: str | None = None,
                      event_timestamp: str = "event_timestamp",
                      created_timestamp: str | None = None, ttl: Any = None,
                      schema: dict[str, str] | None = None, description: str | None = None,
                      tags: Iterable[str] | None = None,
                      visibility: str | None = None) -> dict:
        """Register (or re-register) a feature view. A changed transform, schema, source,
        keys or timestamps make a new version; an unchanged definition is a no-op (apart
        from description, tags, visibility and TTL, which are updated in place)."""
        check_name(name, "feature view")
        entity_names = [entities] if isinstance(entities, str) else list(entities or [])
        if not entity_names:
            raise InvalidInput(f"feature view {name!r} needs at least one entity")
        if visibility is not None and visibility not in VISIBILITIES:
            raise InvalidInput(f"visibility must be one of {', '.join(VISIBILITIES)}, "
                               f"got {visibility!r}")
        ttl_seconds = parse_ttl(ttl)
        tag_list = sorted(set(_tags(tags))) if tags is not None else None
        check_name(event_timestamp, "event timestamp column")
        if created_timestamp:
            check_name(created_timestamp, "created timestamp column")
        code = TransformCode.capture(transform, transform_source)
        declared = {k: normalize_dtype(v) for k, v in (schema or {}).items()}

        with self.ws.catalog.read_session() as s:
            join_keys: list[str] = []
            for ename in entity_names:
                erec = s.get(EntityRecord, ename)
                if erec is None:
                    raise NotFound(f"no entity {ename!r}: register it first "
                                   f"(features.entity({ename!r}, join_keys=[...]))")
                join_keys += [k for k in json.loads(erec.join_keys) if k not in join_keys]
            existing = s.get(FeatureViewRecord, name)
            if existing is not None and existing.owner != self.user:
                if not self._visible(existing):
                    raise Conflict(f"a feature view named {name!r} already exists")
                check_may_change(self.identity, existing.owner, f"feature view {name!r}")
            latest = self._version(s, existing, None) if existing is not None else None

        source_kind, source_ref, frame, snapshot = self._describe_source(source)
        key_types, features = self._infer_schema(
            name, code, frame, join_keys, event_timestamp, created_timestamp, declared)
        fingerprint = definition_fingerprint(
            transform=code.fingerprint, entities=entity_names, join_keys=key_types,
            features=features, event_ts=event_timestamp, created_ts=created_timestamp or "",
            source_kind=source_kind, source_ref=source_ref)

        now = utc_now()
        new_version = latest is None or latest.fingerprint != fingerprint
        if new_version:
            # Artifacts first (content-addressed, harmless if the catalog write fails).
            if source_kind == "dataframe":
                key = source_ref[len("artifact:"):]
                if not self.ws.artifacts.exists(key):
                    self.ws.artifacts.put(key, snapshot)
            transform_key = f"features/transforms/{code.fingerprint}.pkl"
            if not self.ws.artifacts.exists(transform_key):
                self.ws.artifacts.put(transform_key, code.dumps(),
                                      metadata={"name": code.name})
        with self.ws.catalog.session() as s:
            rec = s.get(FeatureViewRecord, name)
            changed: list[str] = []
            if rec is None:
                rec = FeatureViewRecord(
                    name=name, owner=self.user, team=self.team,
                    visibility=visibility or "private", description=description or "",
                    tags=json.dumps(tag_list or []), ttl_seconds=ttl_seconds, latest_version=0,
                    created_at=now, updated_at=now)
                s.add(rec)
                s.flush()
            else:
                # re-check inside the write transaction
                check_may_change(self.identity, rec.owner, f"feature view {name!r}")
                for attr, value in (("description", description), ("visibility", visibility)):
                    if value is not None and getattr(rec, attr) != value:
                        setattr(rec, attr, value)
                        changed.append(attr)
                if tag_list is not None and json.loads(rec.tags) != tag_list:
                    rec.tags = json.dumps(tag_list)
                    changed.append("tags")
                if ttl is not None and rec.ttl_seconds != ttl_seconds:
                    rec.ttl_seconds = ttl_seconds
                    changed.append("ttl")
            if new_version:
                rec.latest_version += 1
                s.add(FeatureViewVersionRecord(
                    view_name=name, version=rec.latest_version, fingerprint=fingerprint,
                    entities=json.dumps(entity_names), join_keys=json.dumps(key_types),
                    features=json.dumps([f.to_dict() for f in features]),
                    event_timestamp_column=event_timestamp,
                    created_timestamp_column=created_timestamp or "", source_kind=source_kind,
                    source_ref=source_ref, transform_name=code.name,
                    transform_source=code.source, transform_key=transform_key,
                    created_by=self.user, created_at=now))
                changed.append("version")
            if changed:
                rec.updated_at = now
            version = rec.latest_version
        self._transforms[(name, version)] = code.func
        self._plans.clear()
        return {"view": name, "version": version, "created": new_version,
                "changed": changed, "features": [f.to_dict() for f in features],
                "join_keys": key_types, "source": {"kind": source_kind, "ref": source_ref}}

    def _describe_source(self, source: Any) -> tuple[str, str, Any, bytes | None]:
        """``(kind, ref, frame or None)``; reads the data to infer the schema."""
        import pandas as pd

        if source is None:
            return "push", "", None, None
        if isinstance(source, pd.DataFrame):
            buffer = io.BytesIO()
            source.to_parquet(buffer, index=False)
            snapshot = buffer.getvalue()
            digest = hashlib.sha256(snapshot).hexdigest()
            return "dataframe", f"artifact:features/sources/{digest}.parquet", source, snapshot
        if isinstance(source, Path):
            source = str(source)
        if not isinstance(source, str):
            raise InvalidInput("source must be a pandas DataFrame, a parquet or CSV path, an "
                               "'artifact:<key>' URI, 'job:<job>/<artifact>' or None (push "
                               f"only); got "
                               f"{type(source).__name__}")
        if source.startswith("artifact:"):
            key = source[len("artifact:"):]
            return "artifact", source, self._read_artifact_table(key), None
        if source.startswith("job:"):
            return "job", source, self._read_artifact_table(self._job_output(source)), None
        path = Path(source).expanduser().resolve()
        if not path.exists():
            raise InvalidInput(f"source {source!r} does not exist")
        kind = "csv" if path.suffix.lower() in (".csv", ".tsv") else "parquet"
        return kind, str(path), self._read_path(kind, str(path)), None

    def _job_output(self, source: str) -> str:
        """``job:<job name>/<artifact name>``: the artifact key of that file in the latest
        succeeded run of the job (what ``jobs.log_artifact(name, df)`` stored)."""
        job, _, name = source[len("job:"):].partition("/")
        if not job or not name:
            raise InvalidInput(f"invalid job source {source!r}: use 'job:<job name>/<artifact "
                               "name>' (e.g. job:nightly_etl/txns.parquet)")
        try:
            runs = self.ws.service("jobs").list_runs(job=job, state="succeeded", limit=1)
        except NotFound as exc:
            raise InvalidInput(f"source {source!r}: {exc.message}") from None
        if not runs["items"]:
            raise InvalidInput(f"source {source!r}: job {job!r} has no succeeded run yet")
        key = f"runs/{runs['items'][0]['id']}/artifacts/{name}"
        if not self.ws.artifacts.exists(key):
            raise InvalidInput(f"source {source!r}: the latest succeeded run "
                               f"{runs['items'][0]['id']} has no artifact {name!r}")
        return key

    def _read_artifact_table(self, key: str):
        import pandas as pd

        if not self.ws.artifacts.exists(key):
            raise InvalidInput(f"source artifact {key!r} does not exist")
        data = self.ws.artifacts.get(key)
        if key.lower().endswith((".csv", ".tsv")):
            return pd.read_csv(io.BytesIO(data), sep="\t" if key.endswith(".tsv") else ",")
        try:
            return pd.read_parquet(io.BytesIO(data))
        except Exception as exc:
            raise InvalidInput(f"source artifact {key!r} is not a parquet file "
                               f"(name CSV artifacts *.csv): {exc}") from None

    @staticmethod
    def _read_path(kind: str, path: str):
        import pandas as pd

        try:
            if kind == "csv":
                return pd.read_csv(path, sep="\t" if path.endswith(".tsv") else ",")
            return pd.read_parquet(path)
        except Exception as exc:
            raise InvalidInput(f"cannot read source {path}: {exc}") from None

    def _infer_schema(self, view: str, code: TransformCode, frame, join_keys: list[str],
                      event_ts: str, created_ts: str | None,
                      declared: dict[str, str]) -> tuple[dict[str, str], list[FeatureSpec]]:
        if frame is None:
            if not declared:
                raise InvalidInput(f"feature view {view!r} has no source: give its schema, "
                                   "e.g. schema={'spend': 'float64'}")
            keys = {k: declared.pop(k, "string") for k in join_keys}
            features = [FeatureSpec(n, t) for n, t in declared.items()
                        if n not in (event_ts, created_ts)]
            for f in features:
                check_name(f.name, "feature")
            return keys, features
        sample = frame.head(SCHEMA_SAMPLE_ROWS)
        out = _apply(code.func, sample, view)
        missing = [c for c in [*join_keys, event_ts, *([created_ts] if created_ts else [])]
                   if c not in out.columns]
        if missing:
            raise InvalidInput(f"feature view {view!r}: the transform's output has no column "
                               f"{', '.join(map(repr, missing))} (columns: {list(out.columns)})")
        to_utc_naive(out[event_ts], f"event timestamp column {event_ts!r}")
        skip = {*join_keys, event_ts, created_ts}
        features = []
        for column in out.columns:
            if column in skip:
                continue
            check_name(str(column), "feature")
            inferred = infer_dtype(out[column])
            dtype = declared.pop(column, inferred)
            coerce_column(out[column], dtype, f"feature {column!r} of view {view!r}")
            features.append(FeatureSpec(str(column), dtype))
        if declared:
            raise InvalidInput(f"feature view {view!r}: declared features "
                               f"{sorted(declared)} are not in the transform's output")
        if not features:
            raise InvalidInput(f"feature view {view!r}: the transform's output has no feature "
                               "columns besides the keys and timestamps")
        keys = {k: infer_dtype(out[k]) for k in join_keys}
        return keys, features

    @shared_write("features.update", summary="update feature view {name}",
                  stand_in=lambda self, args, entry: self._captured_view(entry))
    def update_view(self, name: str, *, description: str | None = None,
                    tags: Iterable[str] | None = None, visibility: str | None = None,
                    ttl: Any = None) -> dict:
        if visibility is not None and visibility not in VISIBILITIES:
            raise InvalidInput(f"visibility must be one of {', '.join(VISIBILITIES)}")
        ttl_seconds = parse_ttl(ttl) if ttl is not None else None
        with self.ws.catalog.session() as s:
            rec = self._owned_view(s, name)
            if description is not None:
                rec.description = description
            if tags is not None:
                rec.tags = json.dumps(sorted(set(_tags(tags))))
            if visibility is not None:
                rec.visibility = visibility
            if ttl is not None:
                rec.ttl_seconds = ttl_seconds
            rec.updated_at = utc_now()
            summary = self._summary(rec)
        self._plans.clear()
        return summary

    @shared_write("features.delete", summary="delete feature view {name}",
                  stand_in=lambda self, args, entry: captured_result(
                      entry, view=args["name"], deleted=False, offline_files=0))
    def delete_view(self, name: str) -> dict:
        """Delete a view, its versions, its offline files and its online rows (owner only)."""
        with self.ws.catalog.session() as s:
            rec = self._owned_view(s, name)
            keys = [f.artifact_key for f in s.scalars(
                select(OfflineFileRecord).where(OfflineFileRecord.view_name == name))]
            for table in (FeatureUsageRecord, MaterializationRecord, OfflineFileRecord,
                          FeatureViewVersionRecord):
                s.execute(delete(table).where(table.view_name == name))
            s.delete(rec)
        for key in keys:
            try:
                self.ws.artifacts.delete(key)
            except NotFound:
                pass
        self.online.delete_view(name)
        self._plans.clear()
        return {"view": name, "deleted": True, "offline_files": len(keys)}

    def _captured_view(self, entry: dict, version: int | None = None, **fields: Any) -> dict:
        """The stand-in of a captured write to a view: the view as it is (not changed)."""
        name = entry["target"]
        if version is None:
            with self.ws.catalog.read_session() as s:
                rec = s.get(FeatureViewRecord, name)
                version = rec.latest_version if rec is not None and self._visible(rec) \
                    else None
        return captured_result(entry, view=name, version=version, **fields)

    # -- discovery --------------------------------------------------------------------------
    def _summary(self, rec: FeatureViewRecord, version: ViewVersion | None = None) -> dict:
        out = {"name": rec.name, "owner": rec.owner, "team": rec.team,
               "visibility": rec.visibility, "description": rec.description,
               "tags": json.loads(rec.tags), "ttl_seconds": rec.ttl_seconds,
               "ttl": format_ttl(rec.ttl_seconds), "latest_version": rec.latest_version,
               "created_at": rec.created_at.isoformat(), "updated_at": rec.updated_at.isoformat()}
        if version is not None:
            out.update(entities=version.entities, join_keys=list(version.join_keys),
                       features=[f.to_dict() for f in version.features])
        return out

    def list_views(self, text: str | None = None, owner: str | None = None,
                   tag: str | None = None, entity: str | None = None) -> list[dict]:
        """Views this user may see, filtered by free text (name, description, feature names,
        tags), owner, tag and entity."""
        needle = (text or "").strip().lower()
        with self.ws.catalog.read_session() as s:
            views = [v for v in s.scalars(select(FeatureViewRecord).order_by(
                FeatureViewRecord.name)) if self._visible(v)]
            latest = {(r.view_name, r.version): ViewVersion.from_record(r) for r in s.scalars(
                select(FeatureViewVersionRecord))}
            fresh = {}
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
            if tag and tag not in tags:
                continue
            if entity and (version is None or entity not in version.entities):
                continue
            if needle:
                haystack = " ".join([rec.name, rec.description, " ".join(tags),
                                     " ".join(version.feature_names if version else []),
                                     " ".join(version.entities if version else [])]).lower()
                if not all(word in haystack for word in needle.split()):
                    continue
            summary = self._summary(rec, version)
            summary["last_updated_data"] = fresh[rec.name].isoformat() if rec.name in fresh \
                else None
            out.append(summary)
        return out

    def get_view(self, name: str, version: int | None = None) -> ViewVersion:
        with self.ws.catalog.read_session() as s:
            return self._version(s, self._view(s, name), version)

    def describe(self, name: str, version: int | None = None, statistics: bool = True) -> dict:
        """Schema, versions, statistics, freshness, owner and used-by of a view."""
        with self.ws.catalog.read_session() as s:
            rec = self._view(s, name)
            current = self._version(s, rec, version)
            versions = [ViewVersion.from_record(r) for r in s.scalars(
                select(FeatureViewVersionRecord).where(
                    FeatureViewVersionRecord.view_name == name).order_by(
                    FeatureViewVersionRecord.version))]
            files = list(s.scalars(select(OfflineFileRecord).where(
                OfflineFileRecord.view_name == name,
                OfflineFileRecord.version == current.version)))
            mats = list(s.scalars(select(MaterializationRecord).where(
                MaterializationRecord.view_name == name).order_by(
                MaterializationRecord.created_at.desc())))
            usages = list(s.scalars(select(FeatureUsageRecord).where(
                FeatureUsageRecord.view_name == name).order_by(FeatureUsageRecord.created_at)))
        out = self._summary(rec, current)
        out["version"] = current.version
        out["definition"] = current.to_dict()
        out["versions"] = [{"version": v.version, "fingerprint": v.fingerprint[:12],
                            "created_by": v.created_by,
                            "created_at": v.created_at.isoformat() if v.created_at else None,
                            "features": v.feature_names} for v in versions]
        pushes = [f for f in files if f.kind == "push"]
        mats_current = [m for m in mats if m.version == current.version]
        now = utc_now()
        max_event = max((f.max_event_ts for f in files), default=None)
        out["freshness"] = {
            "last_materialized_at": mats_current[0].created_at.isoformat() if mats_current
            else None,
            "materialized_until": max((m.end for m in mats_current), default=None),
            "last_push_at": max((f.created_at for f in pushes), default=None),
            "latest_event_time": max_event,
            "age_seconds": (now - max_event).total_seconds() if max_event else None,
            "offline_files": len(files), "offline_rows": sum(f.rows for f in files),
            "online_entities": self.online.count(name, current.version),
        }
        for k, v in list(out["freshness"].items()):
            if isinstance(v, datetime):
                out["freshness"][k] = v.isoformat()
        out["materializations"] = [
            {"version": m.version, "start": m.start.isoformat(), "end": m.end.isoformat(),
             "rows": m.rows, "seconds": round(m.seconds, 3), "by": m.created_by,
             "at": m.created_at.isoformat()} for m in mats[:20]]
        out["used_by"] = [{"consumer": u.consumer, "version": u.version,
                           "features": json.loads(u.features), "recorded_by": u.recorded_by,
                           "at": u.created_at.isoformat()} for u in usages]
        out["statistics"] = self._statistics(current, files) if statistics else None
        return out

    def _statistics(self, version: ViewVersion, files) -> dict | None:
        if not files:
            return None
        paths = self.files.paths([f.artifact_key for f in files])
        from .offline import _paths_sql, _quote

        parts = ["count(*) AS n", f"count(DISTINCT ({', '.join(_quote(k) for k in version.join_keys)})) AS entities"]
        for f in version.features:
            q = _quote(f.name)
            parts.append(f"count({q}) AS {_quote('c_' + f.name)}")
            if f.dtype in ("int64", "float64"):
                parts += [f"min({q}) AS {_quote('min_' + f.name)}",
                          f"max({q}) AS {_quote('max_' + f.name)}",
                          f"avg({q}) AS {_quote('mean_' + f.name)}",
                          f"stddev_samp({q}) AS {_quote('std_' + f.name)}"]
            else:
                parts.append(f"count(DISTINCT {q}) AS {_quote('distinct_' + f.name)}")
        row = self._duck.query_df(f"SELECT {', '.join(parts)} FROM "
                                  f"read_parquet({_paths_sql(paths)})").iloc[0]
        n = int(row["n"])
        stats = {"rows": n, "entities": int(row["entities"]), "features": {}}
        for f in version.features:
            entry = {"dtype": f.dtype, "nulls": n - int(row["c_" + f.name])}
            if f.dtype in ("int64", "float64"):
                for k in ("min", "max", "mean", "std"):
                    value = row[f"{k}_{f.name}"]
                    entry[k] = None if value is None or value != value else float(value)
            else:
                entry["distinct"] = int(row["distinct_" + f.name])
            stats["features"][f.name] = entry
        return stats

    def sample(self, name: str, n: int = 10, version: int | None = None):
        """The ``n`` most recent rows of the offline store (a DataFrame)."""
        import pandas as pd

        n = max(1, min(int(n), 1000))
        with self.ws.catalog.read_session() as s:
            rec = self._view(s, name)
            current = self._version(s, rec, version)
            files = sorted(s.scalars(select(OfflineFileRecord).where(
                OfflineFileRecord.view_name == name,
                OfflineFileRecord.version == current.version)),
                key=lambda f: f.max_event_ts, reverse=True)
        columns = [*current.join_keys, current.event_timestamp_column, *current.feature_names]
        if not files:
            return pd.DataFrame(columns=columns)
        # The newest files hold the newest rows: read only as many as needed.
        chosen, rows = [], 0
        for f in files:
            chosen.append(f)
            rows += f.rows
            if rows >= n and all(g.min_event_ts >= f.min_event_ts for g in chosen):
                break
        from .offline import _paths_sql, _quote

        paths = self.files.paths([f.artifact_key for f in chosen])
        cols = ", ".join([*(_quote(k) for k in current.join_keys),
                          f"{_quote(EVENT_TS)} AS {_quote(current.event_timestamp_column)}",
                          *(_quote(f) for f in current.feature_names)])
        df = self._duck.query_df(f"SELECT {cols} FROM read_parquet({_paths_sql(paths)}) "
                                 f"ORDER BY {_quote(EVENT_TS)} DESC, {_quote(CREATED_TS)} DESC "
                                 f"LIMIT {n}")
        ts = df[current.event_timestamp_column]
        df[current.event_timestamp_column] = pd.to_datetime(ts).dt.tz_localize("UTC")
        return df

    @shared_write("features.record_usage", target="consumer",
                  summary="record that {consumer} uses feature views",
                  stand_in=lambda self, args, entry: [])
    def record_usage(self, lineage: dict, consumer: str) -> list[dict]:
        """Record that ``consumer`` (e.g. ``"model:churn/3"``) uses the views of a training
        frame's lineage (``frame.attrs["mlinfra_lineage"]``): the "used by" list of describe."""
        if not isinstance(lineage, dict) or "views" not in lineage:
            raise InvalidInput("record_usage needs a training-frame lineage dict (the frame's "
                               "attrs['mlinfra_lineage'])")
        if not consumer or not isinstance(consumer, str) or len(consumer) > 256:
            raise InvalidInput("consumer must be a short text such as 'model:churn/3'")
        out = []
        with self.ws.catalog.session() as s:
            for view in lineage["views"]:
                self._view(s, view["name"])
                existing = s.scalars(select(FeatureUsageRecord).where(
                    FeatureUsageRecord.view_name == view["name"],
                    FeatureUsageRecord.version == int(view["version"]),
                    FeatureUsageRecord.consumer == consumer)).first()
                if existing is None:
                    s.add(FeatureUsageRecord(
                        view_name=view["name"], version=int(view["version"]), consumer=consumer,
                        features=json.dumps(view.get("features", [])), recorded_by=self.user,
                        created_at=utc_now()))
                out.append({"view": view["name"], "version": int(view["version"]),
                            "consumer": consumer})
        return out

    # -- computation ------------------------------------------------------------------------
    def _transform_of(self, version: ViewVersion) -> Callable:
        key = (version.view, version.version)
        func = self._transforms.get(key)
        if func is None:
            func = load_transform(self.ws.artifacts.get(version.transform_key))
            self._transforms[key] = func
        return func

    def _load_source(self, version: ViewVersion):
        if version.source_kind == "push":
            raise InvalidInput(f"feature view {version.view!r} has no batch source; feed it "
                               "with push()")
        if version.source_kind in ("dataframe", "artifact"):
            return self._read_artifact_table(version.source_ref[len("artifact:"):])
        if version.source_kind == "job":
            return self._read_artifact_table(self._job_output(version.source_ref))
        return self._read_path(version.source_kind, version.source_ref)

    def _normalize(self, version: ViewVersion, out, now: datetime):
        """Transform output -> offline rows: keys, event/created time (naive UTC), features
        with their declared types. Rows without keys or event time are dropped."""
        import pandas as pd

        label = f"feature view {version.view!r}"
        needed = [*version.join_keys, version.event_timestamp_column, *version.feature_names]
        if version.created_timestamp_column:
            needed.append(version.created_timestamp_column)
        missing = [c for c in needed if c not in out.columns]
        if missing:
            raise InvalidInput(f"{label}: the transform's output lacks {missing}")
        data = {}
        for key, dtype in version.join_keys.items():
            column = out[key]
            if dtype in _DUCK_TYPES and dtype != "datetime":
                column = coerce_column(column, dtype, f"join key {key!r} of {label}")
            data[key] = column.to_numpy() if dtype == "int64" and column.dtype == "int64" \
                else column
        data[EVENT_TS] = to_utc_naive(out[version.event_timestamp_column],
                                      f"event timestamp of {label}")
        if version.created_timestamp_column:
            data[CREATED_TS] = to_utc_naive(out[version.created_timestamp_column],
                                            f"created timestamp of {label}")
        else:
            data[CREATED_TS] = pd.Series(pd.Timestamp(now).tz_localize(None), index=out.index
                                         ).astype("datetime64[us]")
        for f in version.features:
            data[f.name] = coerce_column(out[f.name], f.dtype, f"feature {f.name!r} of {label}")
        frame = pd.DataFrame(data, index=out.index)
        valid = frame[[*version.join_keys, EVENT_TS]].notna().all(axis=1)
        if version.created_timestamp_column:
            frame[CREATED_TS] = frame[CREATED_TS].fillna(pd.Timestamp(now).tz_localize(None))
        return frame[valid].reset_index(drop=True), int((~valid).sum())

    @shared_write("features.materialize", summary="materialize feature view {name}",
                  stand_in=lambda self, args, entry: self._captured_view(
                      entry, args["version"], start=describe_value(args["start"]),
                      end=describe_value(args["end"]), intervals=[], rows=0, files=0,
                      dropped_rows=0, online_rows=0, seconds=0.0, up_to_date=False))
    def materialize(self, name: str, start: Any = None, end: Any = None,
                    version: int | None = None) -> dict:
        """Compute the view over event time [start, end) and store it offline and online.

        Intervals already materialized for this version are skipped, so re-running creates
        no duplicates and ``materialize(name)`` without a start is incremental (from where
        the last run stopped, or from the first source row)."""
        import pandas as pd

        started = time.perf_counter()
        end_dt = parse_time(end, "end") if end is not None else utc_now()
        start_dt = parse_time(start, "start") if start is not None else None
        with self.ws.catalog.read_session() as s:
            rec = self._owned_view(s, name)
            current = self._version(s, rec, version)
            done = [(m.start, m.end) for m in s.scalars(select(MaterializationRecord).where(
                MaterializationRecord.view_name == name,
                MaterializationRecord.version == current.version))]
        source = self._load_source(current)
        ts_col = current.event_timestamp_column
        pre_filter = ts_col in source.columns
        if start_dt is None:
            if done:
                start_dt = max(e for _, e in done)
            elif pre_filter and len(source):
                start_dt = parse_time(to_utc_naive(source[ts_col], ts_col).min(), "start")
            else:
                start_dt = datetime(1970, 1, 1, tzinfo=end_dt.tzinfo)
        if start_dt >= end_dt and start is not None:
            raise InvalidInput(f"nothing to materialize: start {start_dt.isoformat()} is not "
                               f"before end {end_dt.isoformat()}")
        gaps = _subtract([(start_dt, end_dt)], done) if start_dt < end_dt else []
        result = {"view": name, "version": current.version, "start": start_dt.isoformat(),
                  "end": end_dt.isoformat(), "intervals": [[a.isoformat(), b.isoformat()]
                                                           for a, b in gaps],
                  "rows": 0, "files": 0, "dropped_rows": 0, "online_rows": 0}
        if not gaps:
            result["seconds"] = round(time.perf_counter() - started, 3)
            result["up_to_date"] = True
            return result
        if pre_filter:
            source = source[_in_gaps(to_utc_naive(source[ts_col], ts_col), gaps)]
        now = utc_now()
        out = _apply(self._transform_of(current), source, name) if len(source) else source
        if len(out):
            rows, dropped = self._normalize(current, out, now)
            rows = rows[_in_gaps(rows[EVENT_TS], gaps)].reset_index(drop=True)
        else:
            rows, dropped = pd.DataFrame(), 0
        written = write_partitions(self.ws.artifacts, name, current.version, rows,
                                   list(current.join_keys), "materialize") if len(rows) else []
        online_rows = self._write_online(current, rows) if len(rows) else 0
        seconds = time.perf_counter() - started
        with self.ws.catalog.session() as s:
            self._owned_view(s, name)
            for w in written:
                s.add(OfflineFileRecord(view_name=name, version=current.version,
                                        partition=w.partition, artifact_key=w.key, rows=w.rows,
                                        min_event_ts=w.min_ts, max_event_ts=w.max_ts,
                                        kind="materialize", created_at=now))
            for a, b in gaps:
                count = int(_in_gaps(rows[EVENT_TS], [(a, b)]).sum()) if len(rows) else 0
                s.add(MaterializationRecord(view_name=name, version=current.version, start=a,
                                            end=b, rows=count, seconds=seconds,
                                            created_by=self.user, created_at=now))
        result.update(rows=int(len(rows)), files=len(written), dropped_rows=dropped,
                      online_rows=online_rows, seconds=round(time.perf_counter() - started, 3))
        return result

    @shared_write("features.push", summary="push rows to feature view {name}",
                  stand_in=lambda self, args, entry: self._captured_view(
                      entry, args["version"], rows=_row_count(args["rows"]), files=0,
                      online_rows=0))
    def push(self, name: str, rows: Any, version: int | None = None) -> dict:
        """Apply the view's own transform to new rows, then append them to the offline store
        and update the online store (the streaming path)."""
        import pandas as pd

        if isinstance(rows, dict):
            rows = [rows]
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        if frame.empty:
            raise InvalidInput("push needs at least one row")
        with self.ws.catalog.read_session() as s:
            current = self._version(s, self._owned_view(s, name), version)
        now = utc_now()
        out = _apply(self._transform_of(current), frame, name)
        normalized, dropped = self._normalize(current, out, now)
        if dropped:
            raise InvalidInput(f"{dropped} pushed row(s) lack a join key or an event timestamp")
        written = write_partitions(self.ws.artifacts, name, current.version, normalized,
                                   list(current.join_keys), "push")
        online_rows = self._write_online(current, normalized)
        with self.ws.catalog.session() as s:
            for w in written:
                s.add(OfflineFileRecord(view_name=name, version=current.version,
                                        partition=w.partition, artifact_key=w.key, rows=w.rows,
                                        min_event_ts=w.min_ts, max_event_ts=w.max_ts,
                                        kind="push", created_at=now))
        return {"view": name, "version": current.version, "rows": int(len(normalized)),
                "files": len(written), "online_rows": online_rows}

    @shared_write("features.compact", summary="compact feature view {name}",
                  stand_in=lambda self, args, entry: self._captured_view(
                      entry, args["version"], partitions=0, files_before=None,
                      files_after=None))
    def compact(self, name: str, version: int | None = None) -> dict:
        """Merge each day partition's files (many small pushes) into one file, keeping the
        newest created row per (entity, event time). Readers see the old files or the new
        one, never both: the catalog switches over in one transaction."""
        from .offline import _paths_sql, _quote

        with self.ws.catalog.read_session() as s:
            current = self._version(s, self._owned_view(s, name), version)
            files = list(s.scalars(select(OfflineFileRecord).where(
                OfflineFileRecord.view_name == name,
                OfflineFileRecord.version == current.version)))
        by_partition: dict[str, list] = {}
        for f in files:
            by_partition.setdefault(f.partition, []).append(f)
        merges = {p: fs for p, fs in by_partition.items() if len(fs) > 1}
        keys = list(current.join_keys)
        part = ", ".join(_quote(k) for k in [*keys, EVENT_TS])
        now = utc_now()
        replaced: list[tuple[list, list]] = []
        for partition, group in sorted(merges.items()):
            paths = self.files.paths([f.artifact_key for f in group])
            rows = self._duck.query_df(
                f"SELECT * FROM read_parquet({_paths_sql(paths)}) QUALIFY row_number() OVER "
                f"(PARTITION BY {part} ORDER BY {_quote(CREATED_TS)} DESC) = 1")
            written = write_partitions(self.ws.artifacts, name, current.version, rows, keys,
                                       "compact")
            replaced.append((group, written))
        if replaced:
            with self.ws.catalog.session() as s:
                self._owned_view(s, name)
                for group, written in replaced:
                    s.execute(delete(OfflineFileRecord).where(
                        OfflineFileRecord.id.in_([f.id for f in group])))
                    for w in written:
                        s.add(OfflineFileRecord(
                            view_name=name, version=current.version, partition=w.partition,
                            artifact_key=w.key, rows=w.rows, min_event_ts=w.min_ts,
                            max_event_ts=w.max_ts, kind="compact", created_at=now))
            for group, _ in replaced:
                for f in group:
                    try:
                        self.ws.artifacts.delete(f.artifact_key)
                    except NotFound:
                        pass
        before = sum(len(g) for g, _ in replaced)
        after = sum(len(w) for _, w in replaced)
        return {"view": name, "version": current.version, "partitions": len(replaced),
                "files_before": len(files), "files_after": len(files) - before + after}

    def _write_online(self, version: ViewVersion, rows) -> int:
        """Upsert the latest row per entity of ``rows`` into the online store."""
        keys = list(version.join_keys)
        latest = rows.sort_values([EVENT_TS, CREATED_TS], kind="stable").drop_duplicates(
            subset=keys, keep="last")
        event = latest[EVENT_TS].to_numpy().astype("datetime64[us]").astype("int64") / 1e6
        created = latest[CREATED_TS].to_numpy().astype("datetime64[us]").astype("int64") / 1e6
        key_values = [latest[k].tolist() for k in keys]
        features = [_json_values(latest[f.name], f.dtype) for f in version.features]
        payload = [encode_values(vals) for vals in zip(*features)]
        entries = ((entity_key([kv[i] for kv in key_values]), float(event[i]),
                    float(created[i]), payload[i]) for i in range(len(latest)))
        return self.online.write(version.view, version.version, entries)

    # -- training frames --------------------------------------------------------------------
    def get_training_frame(self, entity_df, features: Any, timestamp_column: str | None = None,
                           full_feature_names: bool = False):
        """A point-in-time-correct training frame: ``entity_df`` (same rows, same order, same
        index) plus one column per requested feature.

        For each row and view: the latest feature row of that entity with event time <= the
        row's timestamp and >= the timestamp minus the view's TTL (both inclusive), ties on
        event time broken by the created time; null when there is none. The lineage (views,
        versions, fingerprints, feature names, an entity-frame fingerprint) is in
        ``frame.attrs["mlinfra_lineage"]``.
        """
        import numpy as np
        import pandas as pd

        if not isinstance(entity_df, pd.DataFrame):
            raise InvalidInput("entity_df must be a pandas DataFrame of entity keys and "
                               "timestamps")
        refs = parse_refs(features)
        ts_col = timestamp_column or _guess_timestamp_column(entity_df)
        if ts_col not in entity_df.columns:
            raise InvalidInput(f"entity_df has no timestamp column {ts_col!r}")
        plan, lineage_views = self._plan_offline(refs, full_feature_names, entity_df.columns)
        entity_ts = to_utc_naive(entity_df[ts_col], f"entity_df column {ts_col!r}")

        frame = {ENTITY_ROW: np.arange(len(entity_df), dtype="int64"),
                 ENTITY_TS: entity_ts.to_numpy()}
        for version, _names, _cols in plan:
            for key, dtype in version.join_keys.items():
                if key not in entity_df.columns:
                    raise InvalidInput(f"entity_df has no join key column {key!r} (needed by "
                                       f"view {version.view!r})")
                if key not in frame:
                    frame[key] = _entity_keys(entity_df[key], dtype, key)
        entity = pd.DataFrame(frame)

        lo, hi = entity_ts.min(), entity_ts.max()
        file_sets = []
        with self.ws.catalog.read_session() as s:
            for i, (version, _names, _columns) in enumerate(plan):
                files = list(s.scalars(select(OfflineFileRecord).where(
                    OfflineFileRecord.view_name == version.view,
                    OfflineFileRecord.version == version.version)))
                if not files:
                    raise InvalidInput(f"feature view {version.view!r} version "
                                       f"{version.version} has no data yet: materialize() or "
                                       "push() first")
                lineage_views[i]["offline_files"] = len(files)
                lineage_views[i]["offline_fingerprint"] = hashlib.sha256(
                    "\n".join(sorted(f.artifact_key for f in files)).encode()).hexdigest()
                file_sets.append(sorted(files, key=lambda f: f.artifact_key))
        result: dict[str, Any] = {}
        for i, (files, (version, _names, columns)) in enumerate(zip(file_sets, plan)):
            ttl = lineage_views[i]["ttl_seconds"]
            if not _prune(files, lo, hi, ttl):  # nothing in range: every value is null
                result.update({c: pd.Series([None] * len(entity)) for c in columns})
                continue
            rows = self._sorted_rows(version, files)
            positions = rows.positions([entity[k] for k in version.join_keys],
                                       entity[ENTITY_TS], ttl)
            for out_name, feature in columns.items():
                result[out_name] = rows.take(feature, positions)
        out = entity_df.copy()
        for version, names, columns in plan:
            for out_name, feature in columns.items():
                out[out_name] = _typed(result[out_name], version.dtype_of(feature),
                                       out.index)
        out.attrs[LINEAGE_ATTR] = {
            "kind": "mlinfra.training_frame", "format": 1,
            "features": [f"{v['name']}@{v['version']}:{f}" for v in lineage_views
                         for f in v["features"]],
            "columns": [c for _v, _n, cols in plan for c in cols],
            "views": lineage_views,
            "entity_df": {"rows": int(len(entity_df)), "columns": [str(c) for c in
                                                                   entity_df.columns],
                          "timestamp_column": ts_col, "fingerprint": _frame_fingerprint(
                              entity_df),
                          "time_range": [None if pd.isna(lo) else _iso(lo),
                                         None if pd.isna(hi) else _iso(hi)]},
            "created_by": self.user, "created_at": utc_now().isoformat(),
        }
        return out

    def _sorted_rows(self, version, files) -> SortedRows:
        """The view version's offline rows sorted for point-in-time search: built once per
        (immutable) file set from its parquet files, then kept in memory (LRU)."""
        columns = [*version.join_keys, EVENT_TS, CREATED_TS, *version.feature_names]

        def build() -> SortedRows:
            frame = read_offline_files(self.files.paths([f.artifact_key for f in files]),
                                       columns)
            return SortedRows(frame, list(version.join_keys), version.feature_names)

        key = (version.view, version.version, tuple(f.artifact_key for f in files))
        return self._sorted.get(key, build)

    def _plan_offline(self, refs: list[FeatureRef], full_names: bool, taken):
        """[(version, [feature names], {output column: feature})] and the lineage entries."""
        grouped: dict[tuple[str, int | None], list[str]] = {}
        for ref in refs:
            grouped.setdefault((ref.view, ref.version), [])
            if ref.feature == "*":
                grouped[(ref.view, ref.version)].append("*")
            else:
                grouped[(ref.view, ref.version)].append(ref.feature)
        resolved = []
        with self.ws.catalog.read_session() as s:
            for (view, number), wanted in grouped.items():
                rec = self._view(s, view)
                version = self._version(s, rec, number)
                names: list[str] = []
                for w in wanted:
                    for n in (version.feature_names if w == "*" else [w]):
                        if n not in version.feature_names:
                            raise NotFound(f"feature view {view!r} (version "
                                           f"{version.version}) has no feature {n!r}; it has "
                                           f"{version.feature_names}")
                        if n not in names:
                            names.append(n)
                resolved.append((rec, version, names))
        counts: dict[str, int] = {}
        for _rec, _v, names in resolved:
            for n in names:
                counts[n] = counts.get(n, 0) + 1
        plan, lineage, used = [], [], set(map(str, taken))
        for rec, version, names in resolved:
            columns = {}
            for n in names:
                out = f"{version.view}__{n}" if full_names or counts[n] > 1 or n in used else n
                if out in used:
                    raise Conflict(f"output column {out!r} already exists in entity_df; "
                                   "rename it or pass full_feature_names=True")
                used.add(out)
                columns[out] = n
            plan.append((version, names, columns))
            lineage.append({"name": version.view, "version": version.version,
                            "fingerprint": version.fingerprint, "features": names,
                            "ttl_seconds": rec.ttl_seconds, "owner": rec.owner})
        return plan, lineage

    # -- online -----------------------------------------------------------------------------
    def _online_plan(self, features: tuple) -> tuple[list[OnlinePlanView], list[str]]:
        key = (self.identity, features)
        cached = self._plans.get(key)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        plan, lineage = self._plan_offline(parse_refs(list(features)), False, [])
        views, names = [], []
        for (version, wanted, columns), info in zip(plan, lineage):
            positions = [version.feature_names.index(f) for f in columns.values()]
            views.append(OnlinePlanView(view=version.view, version=version.version,
                                        keys=list(version.join_keys),
                                        ttl_seconds=info["ttl_seconds"], positions=positions,
                                        names=list(columns),
                                        timestamps=[out for out, f in columns.items()
                                                    if version.dtype_of(f) == "datetime"]))
            names += list(columns)
        self._plans[key] = (now + _RESOLVE_TTL, views, names)
        return views, names

    def get_online_features(self, features: Any, entity_rows: Any) -> OnlineFeatures:
        """The latest values of ``features`` for each entity row (dicts of join keys).
        Values older than the view's TTL come back as ``None`` with status ``"expired"``."""
        if isinstance(features, str):
            features = (features,)
        views, names = self._online_plan(tuple(features))
        if isinstance(entity_rows, dict):
            entity_rows = [entity_rows]
        elif hasattr(entity_rows, "to_dict") and hasattr(entity_rows, "columns"):
            entity_rows = entity_rows.to_dict("records")
        n = len(entity_rows)
        rows = [dict(r) for r in entity_rows]
        status: list[dict[str, str]] = [{} for _ in range(n)]
        times: list[dict[str, float | None]] = [{} for _ in range(n)]
        now = time.time()
        loads = json.loads
        for pv in views:
            try:
                if len(pv.keys) == 1:
                    k0 = pv.keys[0]
                    keys = [v if type(v) is str else str(v) if type(v) is int
                            else entity_key((v,)) for v in [r[k0] for r in rows]]
                else:
                    keys = [entity_key([r[k] for k in pv.keys]) for r in rows]
            except KeyError as exc:
                raise InvalidInput(f"entity row lacks join key {exc.args[0]!r} (needed by view "
                                   f"{pv.view!r})") from None
            found = self.online.read(pv.view, pv.version,
                                     keys if n == 1 else list(dict.fromkeys(keys)))
            limit = None if pv.ttl_seconds is None else now - pv.ttl_seconds
            hits = [found.get(k) for k in keys]
            live = [h[2] for h in hits if h is not None and (limit is None or h[0] >= limit)]
            decoded = iter(loads("[" + ",".join(live) + "]")) if live else iter(())
            pairs = list(zip(pv.names, pv.positions))
            for i, hit in enumerate(hits):
                row, st = rows[i], status[i]
                if hit is None:
                    for name in pv.names:
                        row[name] = None
                        st[name] = "not_found"
                    times[i][pv.view] = None
                    continue
                times[i][pv.view] = hit[0]
                if limit is not None and hit[0] < limit:
                    for name in pv.names:
                        row[name] = None
                        st[name] = "expired"
                    continue
                values = next(decoded)
                for name, pos in pairs:
                    row[name] = values[pos]
                    st[name] = "present"
                for name in pv.timestamps:  # stored as ISO text: back to aware datetimes
                    if row[name] is not None:
                        row[name] = datetime.fromisoformat(row[name])
        return OnlineFeatures(feature_names=names, rows=rows, status=status, event_times=times)

    # -- training-frame helpers for doors ---------------------------------------------------
    @staticmethod
    def lineage_of(frame) -> dict:
        lineage = getattr(frame, "attrs", {}).get(LINEAGE_ATTR)
        if lineage is None:
            raise InvalidInput("this DataFrame is not a training frame (no "
                               f"attrs[{LINEAGE_ATTR!r}])")
        return lineage


# -- module helpers -----------------------------------------------------------------------------
def _tags(tags: Iterable[str] | str) -> list[str]:
    if isinstance(tags, str):
        tags = [t for t in tags.replace(",", " ").split()]
    out = []
    for t in tags:
        t = str(t).strip()
        if not t or len(t) > 64:
            raise InvalidInput(f"invalid tag {t!r}")
        out.append(t)
    return out


def _apply(func: Callable, frame, view: str):
    import pandas as pd

    try:
        out = func(frame.copy())
    except Exception as exc:
        raise InvalidInput(f"the transform of feature view {view!r} failed: "
                           f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(out, pd.DataFrame):
        raise InvalidInput(f"the transform of feature view {view!r} must return a pandas "
                           f"DataFrame, got {type(out).__name__}")
    return out


def _subtract(wanted: list[tuple[datetime, datetime]],
              done: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """``wanted`` minus the union of ``done`` intervals (all half-open [start, end))."""
    result = list(wanted)
    for d0, d1 in sorted(done):
        nxt = []
        for a, b in result:
            if d1 <= a or d0 >= b:
                nxt.append((a, b))
                continue
            if a < d0:
                nxt.append((a, d0))
            if d1 < b:
                nxt.append((d1, b))
        result = nxt
    return [(a, b) for a, b in result if a < b]


def _in_gaps(ts, gaps):
    import numpy as np

    values = ts.to_numpy().astype("datetime64[us]")
    mask = np.zeros(len(values), dtype=bool)
    for a, b in gaps:
        lo = np.datetime64(a.replace(tzinfo=None), "us")
        hi = np.datetime64(b.replace(tzinfo=None), "us")
        mask |= (values >= lo) & (values < hi)
    return mask


def _prune(files, lo, hi, ttl: float | None):
    """Files whose event-time range can hold a row some entity row may see."""
    import pandas as pd

    if pd.isna(lo) or pd.isna(hi):
        return files
    hi_aware = pd.Timestamp(hi).tz_localize("UTC")
    lo_aware = pd.Timestamp(lo).tz_localize("UTC")
    floor = None if ttl is None else lo_aware - timedelta(seconds=ttl)
    return [f for f in files if f.min_event_ts <= hi_aware
            and (floor is None or f.max_event_ts >= floor)]


def _overlapping(files) -> bool:
    """True when two files' event-time ranges overlap (they may share an (entity, time))."""
    spans = sorted((f.min_event_ts, f.max_event_ts) for f in files)
    return any(spans[i + 1][0] <= spans[i][1] for i in range(len(spans) - 1))


def _guess_timestamp_column(df) -> str:
    from pandas.api import types as pdt

    if "event_timestamp" in df.columns:
        return "event_timestamp"
    candidates = [c for c in df.columns if pdt.is_datetime64_any_dtype(df[c].dtype)]
    if len(candidates) == 1:
        return candidates[0]
    raise InvalidInput("cannot tell which column of entity_df holds the timestamps: pass "
                       "timestamp_column=...")


def _entity_keys(column, dtype: str, name: str):
    from pandas.api import types as pdt

    if dtype == "int64":
        if pdt.is_integer_dtype(column.dtype):
            return column.to_numpy() if not column.isna().any() else column.astype("Int64")
        try:
            return column.astype("float64").astype("Int64")
        except (TypeError, ValueError):
            raise InvalidInput(f"entity_df column {name!r} must hold integer keys") from None
    if dtype == "string":
        return column.astype("string")
    return column


def _typed(values, dtype: str, index):
    import pandas as pd

    if dtype == "float64":
        return pd.Series(values.to_numpy(dtype="float64", na_value=float("nan")), index=index)
    if dtype == "int64":
        return pd.Series(pd.array(values, dtype="Int64"), index=index)
    if dtype == "bool":
        return pd.Series(pd.array(values, dtype="boolean"), index=index)
    if dtype == "string":
        return pd.Series(pd.array(values, dtype="string"), index=index)
    if dtype == "datetime":
        series = pd.to_datetime(pd.Series(values.to_numpy(), index=index))
        return series.dt.tz_localize("UTC") if series.dt.tz is None else series
    return pd.Series(values.to_numpy(), index=index)


def _json_values(series, dtype: str) -> list:
    if dtype == "datetime":
        import pandas as pd

        return [None if pd.isna(v) else pd.Timestamp(v).tz_localize("UTC").isoformat()
                for v in series]
    if dtype == "float64":
        return series.tolist()
    return series.astype(object).where(series.notna(), None).tolist()


def _frame_fingerprint(df) -> str:
    import pandas as pd

    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in df.columns]).encode())
    try:
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    except TypeError:  # unhashable cells (lists...)
        h.update(df.to_json(date_format="iso").encode())
    return h.hexdigest()


def _iso(ts) -> str:
    import pandas as pd

    return pd.Timestamp(ts).tz_localize("UTC").isoformat()


def _row_count(rows: Any) -> int:
    if isinstance(rows, dict):
        return 1
    try:
        return len(rows)
    except TypeError:
        return 0
