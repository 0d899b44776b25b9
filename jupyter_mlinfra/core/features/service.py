"""The feature store service: ``ws.service("features")``.

Definitions live in the catalog (entities, views, immutable view versions), feature data in
the offline store (parquet in the artifact store) and the online store (latest values per
entity). Everything a door does goes through :class:`FeatureService`, a facade over:

- :mod:`.registry`: entities, views, versions, visibility (the catalog only), and
  :mod:`.discovery`: lists and descriptions over it;
- :mod:`.sources`: DataFrame, file, artifact, job-output and push sources; schema inference;
- :mod:`.materialization`: materialize, push, compact, online writes, interval arithmetic;
- :mod:`.retrieval`: training frames (planning, pruning, point-in-time join, lineage);
- :mod:`.serving`: online plans and lookups;
- :mod:`.offline` and :mod:`.online`: the two stores, shared through :mod:`.stores`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..errors import InvalidInput, NotFound
from ..identity import Identity
from ..shared_writes import captured_result, describe_value, shared_write
from .definitions import (
    TransformCode,
    ViewVersion,
    check_name,
    check_visibility,
    definition_fingerprint,
    normalize_dtype,
    parse_tags,
    parse_ttl,
)
from .discovery import FeatureDiscovery
from .materialization import Materializer, row_count
from .online import OnlineStore
from .registry import FeatureRegistry, NewVersion
from .retrieval import LINEAGE_ATTR, TrainingFrames, lineage_of
from .serving import OnlineFeatures, OnlineServing
from .sources import SourceReader, infer_schema
from .stores import FeatureStores

__all__ = ["LINEAGE_ATTR", "FeatureService", "OnlineFeatures"]


class FeatureService:
    """Feature definitions, materialization, training frames and online lookups."""

    def __init__(self, workspace, stores: FeatureStores | None = None) -> None:
        self.ws = workspace
        self.stores = stores if stores is not None else FeatureStores(workspace)
        self._sorted = self.stores.sorted  # the point-in-time cache (tests size it)
        self.registry = FeatureRegistry(workspace)
        self.discovery = FeatureDiscovery(self.registry)
        self.sources = SourceReader(workspace)
        self.materializer = Materializer(workspace, self.registry, self.sources, self.stores)
        self.frames = TrainingFrames(workspace, self.registry, self.stores)
        self.serving = OnlineServing(self.registry, lambda: self.stores.online)

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
        return self.stores.online

    def for_user(self, workspace) -> FeatureService:
        """The same stores seen by another identity (the server's per-request user)."""
        return FeatureService(workspace, self.stores)

    def close(self) -> None:
        self.stores.close()

    def status(self) -> dict:
        return {
            **self.registry.counts(),
            "online_store": self.online.describe()["backend"],
            "offline_store": self.ws.artifacts.describe()["backend"],
        }

    def _changed(self) -> None:
        """A definition changed: online plans resolve again."""
        self.serving.forget_plans()

    def _captured_view(self, entry: dict, version: int | None = None, **fields: Any) -> dict:
        """The stand-in of a captured write to a view: the view as it is (not changed)."""
        name = entry["target"]
        if version is None:
            version = self.registry.latest_version(name)
        return captured_result(entry, view=name, version=version, **fields)

    # -- entities ---------------------------------------------------------------------------
    @shared_write(
        "features.entity",
        summary="register entity {name}",
        stand_in=lambda self, args, entry: captured_result(
            entry,
            name=args["name"],
            description=args["description"],
            join_keys=[args["join_keys"]]
            if isinstance(args["join_keys"], str)
            else list(args["join_keys"] or [args["name"]]),
        ),
    )
    def register_entity(
        self, name: str, join_keys: Iterable[str] | str | None = None, description: str = ""
    ) -> dict:
        return self.registry.register_entity(name, join_keys, description)

    def list_entities(self) -> list[dict]:
        return self.discovery.list_entities()

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
        return self.discovery.list_entities_page(
            q=q, owner=owner, limit=limit, offset=offset, cursor=cursor
        )

    @shared_write(
        "features.delete_entity",
        summary="delete entity {name}",
        stand_in=lambda self, args, entry: None,
    )
    def delete_entity(self, name: str) -> None:
        self.registry.delete_entity(name)

    # -- definitions ------------------------------------------------------------------------
    @shared_write(
        "features.define",
        summary="define feature view {name}",
        stand_in=lambda self, args, entry: self._captured_view(
            entry, created=False, changed=[], features=[], join_keys={}, source={}
        ),
    )
    def register_view(
        self,
        name: str,
        *,
        entities: Iterable[str] | str,
        source: Any = None,
        transform: Callable | None = None,
        transform_source: str | None = None,
        event_timestamp: str = "event_timestamp",
        created_timestamp: str | None = None,
        ttl: Any = None,
        schema: dict[str, str] | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        visibility: str | None = None,
    ) -> dict:
        """Register (or re-register) a feature view. A changed transform, schema, source,
        keys or timestamps make a new version; an unchanged definition is a no-op (apart
        from description, tags, visibility and TTL, which are updated in place)."""
        check_name(name, "feature view")
        entity_names = [entities] if isinstance(entities, str) else list(entities or [])
        if not entity_names:
            raise InvalidInput(f"feature view {name!r} needs at least one entity")
        check_visibility(visibility)
        ttl_seconds = parse_ttl(ttl)
        tag_list = sorted(set(parse_tags(tags))) if tags is not None else None
        check_name(event_timestamp, "event timestamp column")
        if created_timestamp:
            check_name(created_timestamp, "created timestamp column")
        code = TransformCode.capture(transform, transform_source)
        declared = {k: normalize_dtype(v) for k, v in (schema or {}).items()}
        join_keys, latest = self.registry.prepare_view(name, entity_names)
        data = self.sources.describe(source)
        key_types, features = infer_schema(
            name, code, data.frame, join_keys, event_timestamp, created_timestamp, declared
        )
        fingerprint = definition_fingerprint(
            transform=code.fingerprint,
            entities=entity_names,
            join_keys=key_types,
            features=features,
            event_ts=event_timestamp,
            created_ts=created_timestamp or "",
            source_kind=data.kind,
            source_ref=data.ref,
        )
        new = None
        if latest is None or latest.fingerprint != fingerprint:
            # Artifacts first (content-addressed, harmless if the catalog write fails).
            self.sources.keep_snapshot(data)
            transform_key = f"features/transforms/{code.fingerprint}.pkl"
            if not self.ws.artifacts.exists(transform_key):
                self.ws.artifacts.put(transform_key, code.dumps(), metadata={"name": code.name})
            new = NewVersion(
                fingerprint=fingerprint,
                entities=entity_names,
                join_keys=key_types,
                features=features,
                event_timestamp=event_timestamp,
                created_timestamp=created_timestamp or "",
                source_kind=data.kind,
                source_ref=data.ref,
                transform_name=code.name,
                transform_source=code.source,
                transform_key=transform_key,
            )
        version, changed = self.registry.save_view(
            name,
            new,
            visibility=visibility,
            description=description,
            tags=tag_list,
            ttl=ttl,
            ttl_seconds=ttl_seconds,
        )
        self.stores.transforms[(name, version)] = code.func
        self._changed()
        return {
            "view": name,
            "version": version,
            "created": new is not None,
            "changed": changed,
            "features": [f.to_dict() for f in features],
            "join_keys": key_types,
            "source": {"kind": data.kind, "ref": data.ref},
        }

    @shared_write(
        "features.update",
        summary="update feature view {name}",
        stand_in=lambda self, args, entry: self._captured_view(entry),
    )
    def update_view(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        visibility: str | None = None,
        ttl: Any = None,
    ) -> dict:
        summary = self.registry.update_view(
            name, description=description, tags=tags, visibility=visibility, ttl=ttl
        )
        self._changed()
        return summary

    @shared_write(
        "features.delete",
        summary="delete feature view {name}",
        stand_in=lambda self, args, entry: captured_result(
            entry, view=args["name"], deleted=False, offline_files=0
        ),
    )
    def delete_view(self, name: str) -> dict:
        """Delete a view, its versions, its offline files, its online rows and the DataFrame
        source data no other view names (owner only)."""
        keys, sources = self.registry.delete_view_keys(name)
        for key in [*keys, *sources]:
            try:
                self.ws.artifacts.delete(key)
            except NotFound:
                pass
        self.online.delete_view(name)
        self._changed()
        return {"view": name, "deleted": True, "offline_files": len(keys)}

    # -- discovery --------------------------------------------------------------------------
    def list_views(
        self,
        text: str | None = None,
        owner: str | None = None,
        tag: str | list[str] | None = None,
        entity: str | None = None,
    ) -> list[dict]:
        """Views this user may see, filtered by free text (name, description, feature names,
        tags), owner, tag and entity."""
        return self.discovery.list_views(text, owner, tag, entity)

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
        """One page of ``list_views`` (by name): the envelope of :mod:`..paging`, filtered
        and paged by the database."""
        return self.discovery.list_views_page(
            text, owner, tag, entity, limit=limit, offset=offset, cursor=cursor
        )

    def get_view(self, name: str, version: int | None = None) -> ViewVersion:
        return self.registry.resolve(name, version)

    def describe(self, name: str, version: int | None = None, statistics: bool = True) -> dict:
        """Schema, versions, statistics, freshness, owner and used-by of a view."""
        out, current, files = self.discovery.describe(name, version)
        out["freshness"]["online_entities"] = self.online.count(name, current.version)
        out["statistics"] = (
            self.stores.offline.statistics(
                [f.artifact_key for f in files], list(current.join_keys), current.features
            )
            if statistics and files
            else None
        )
        return out

    def sample(self, name: str, n: int = 10, version: int | None = None):
        """The ``n`` most recent rows of the offline store (a DataFrame)."""
        import pandas as pd

        n = max(1, min(int(n), 1000))
        current = self.registry.resolve(name, version)
        files = sorted(
            self.registry.offline_files(name, current.version),
            key=lambda f: f.max_event_ts,
            reverse=True,
        )
        ts_col = current.event_timestamp_column
        if not files:
            return pd.DataFrame(columns=[*current.join_keys, ts_col, *current.feature_names])
        # The newest files hold the newest rows: read only as many as needed.
        chosen, rows = [], 0
        for f in files:
            chosen.append(f)
            rows += f.rows
            if rows >= n and all(g.min_event_ts >= f.min_event_ts for g in chosen):
                break
        df = self.stores.offline.newest_rows(
            [f.artifact_key for f in chosen],
            n,
            list(current.join_keys),
            ts_col,
            current.feature_names,
        )
        df[ts_col] = pd.to_datetime(df[ts_col]).dt.tz_localize("UTC")
        return df

    @shared_write(
        "features.record_usage",
        target="consumer",
        summary="record that {consumer} uses feature views",
        stand_in=lambda self, args, entry: [],
    )
    def record_usage(self, lineage: dict, consumer: str) -> list[dict]:
        """Record that ``consumer`` (e.g. ``"model:churn/3"``) uses the views of a training
        frame's lineage (``frame.attrs["mlinfra_lineage"]``): the "used by" list of describe."""
        return self.discovery.record_usage(lineage, consumer)

    # -- computation ------------------------------------------------------------------------
    @shared_write(
        "features.materialize",
        summary="materialize feature view {name}",
        stand_in=lambda self, args, entry: self._captured_view(
            entry,
            args["version"],
            start=describe_value(args["start"]),
            end=describe_value(args["end"]),
            intervals=[],
            rows=0,
            files=0,
            dropped_rows=0,
            online_rows=0,
            seconds=0.0,
            up_to_date=False,
        ),
    )
    def materialize(
        self, name: str, start: Any = None, end: Any = None, version: int | None = None
    ) -> dict:
        """Compute the view over event time [start, end) and store it offline and online.

        Intervals already materialized for this version are skipped, so re-running creates
        no duplicates and ``materialize(name)`` without a start is incremental (from where
        the last run stopped, or from the first source row)."""
        return self.materializer.materialize(name, start, end, version)

    @shared_write(
        "features.push",
        summary="push rows to feature view {name}",
        stand_in=lambda self, args, entry: self._captured_view(
            entry, args["version"], rows=row_count(args["rows"]), files=0, online_rows=0
        ),
    )
    def push(self, name: str, rows: Any, version: int | None = None) -> dict:
        """Apply the view's own transform to new rows, then append them to the offline store
        and update the online store (the streaming path)."""
        return self.materializer.push(name, rows, version)

    @shared_write(
        "features.compact",
        summary="compact feature view {name}",
        stand_in=lambda self, args, entry: self._captured_view(
            entry, args["version"], partitions=0, files_before=None, files_after=None
        ),
    )
    def compact(self, name: str, version: int | None = None) -> dict:
        """Merge each day partition's files (many small pushes) into one file, keeping the
        newest created row per (entity, event time). Readers see the old files or the new
        one, never both: the catalog switches over in one transaction."""
        return self.materializer.compact(name, version)

    # -- training frames and online lookups -------------------------------------------------
    def get_training_frame(
        self,
        entity_df,
        features: Any,
        timestamp_column: str | None = None,
        full_feature_names: bool = False,
    ):
        """A point-in-time-correct training frame: ``entity_df`` (same rows, same order, same
        index) plus one column per requested feature.

        For each row and view: the latest feature row of that entity with event time <= the
        row's timestamp and >= the timestamp minus the view's TTL (both inclusive), ties on
        event time broken by the created time; null when there is none. The lineage (views,
        versions, fingerprints, feature names, an entity-frame fingerprint) is in
        ``frame.attrs["mlinfra_lineage"]``.
        """
        return self.frames.get_training_frame(
            entity_df, features, timestamp_column, full_feature_names
        )

    def get_online_features(self, features: Any, entity_rows: Any) -> OnlineFeatures:
        """The latest values of ``features`` for each entity row (dicts of join keys).
        Values older than the view's TTL come back as ``None`` with status ``"expired"``."""
        return self.serving.get_online_features(features, entity_rows)

    @staticmethod
    def lineage_of(frame) -> dict:
        return lineage_of(frame)
