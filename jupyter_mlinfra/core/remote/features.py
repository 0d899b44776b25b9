"""The feature store over HTTP: ``FeatureService`` for a remote caller.

The service never runs a caller's code. Defining a view: the transform runs here, on a sample
of the source, to infer the schema; the definition (keys, timestamps, schema, the transform's
source text and fingerprint, never a pickle) goes to ``POST features/views/{name}/definition``.
Materializing and pushing: the source is read and the transform applied here; the computed
rows go to ``POST features/views/{name}/rows`` as parquet with the interval [start, end), and
the service checks them against the view's schema and stores them offline and online. So a
view can be materialized or pushed to only from a process that defined it (that holds its
transform): another process defines it again (unchanged: no new version) first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ..errors import InvalidInput, NotFound
from .client import ServiceClient, walk


def _q(value: Any) -> str:
    return quote(str(value), safe="")


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _feature_refs(features: Any) -> Any:
    if isinstance(features, str):
        return [features]
    return list(features)


class RemoteFeatures:
    remote = True

    def __init__(self, ws, client: ServiceClient) -> None:
        self.ws = ws
        self.client = client
        # views defined in this process: name -> (version, TransformCode, SourceData,
        # event timestamp column)
        self._defined: dict[str, tuple[int, Any, Any, str]] = {}

    def status(self) -> dict:
        return self.client.get("health")["capabilities"]["features"]

    # -- entities and views ----------------------------------------------------------------
    def register_entity(
        self, name: str, join_keys: Iterable[str] | str | None = None, description: str = ""
    ) -> dict:
        body: dict[str, Any] = {"name": name, "description": description}
        if join_keys is not None:
            body["join_keys"] = [join_keys] if isinstance(join_keys, str) else list(join_keys)
        return self.client.post("features/entities", body)

    def list_entities(self) -> list[dict]:
        return walk(self.client, "features/entities", "entities", {})

    def list_views(
        self,
        text: str | None = None,
        owner: str | None = None,
        tag: str | None = None,
        entity: str | None = None,
    ) -> list[dict]:
        return walk(
            self.client,
            "features",
            "views",
            {"q": text, "owner": owner, "tag": tag, "entity": entity},
        )

    def describe(self, name: str, version: int | None = None, statistics: bool = True) -> dict:
        return self.client.get(
            f"features/views/{_q(name)}",
            version=version,
            statistics=None if statistics else "false",
        )

    def update_view(self, name: str, **changes: Any) -> dict:
        changes = {
            k: (list(v) if k == "tags" and v is not None else v)
            for k, v in changes.items()
            if v is not None
        }
        return self.client.call("PATCH", f"features/views/{_q(name)}", json=changes)

    def delete_view(self, name: str) -> dict:
        return self.client.call("DELETE", f"features/views/{_q(name)}") or {
            "view": name,
            "deleted": True,
        }

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
        """As ``FeatureService.register_view``; the transform runs in this process only."""
        from ..features.definitions import TransformCode, check_name, normalize_dtype
        from ..features.sources import SourceReader, infer_schema

        check_name(name, "feature view")
        entity_names = [entities] if isinstance(entities, str) else list(entities or [])
        if not entity_names:
            raise InvalidInput(f"feature view {name!r} needs at least one entity")
        known = {e["name"]: e for e in self.list_entities()}
        join_keys: list[str] = []
        for ename in entity_names:
            if ename not in known:
                raise NotFound(
                    f"no entity {ename!r}: register it first "
                    f"(features.entity({ename!r}, join_keys=[...]))"
                )
            join_keys += [k for k in known[ename]["join_keys"] if k not in join_keys]
        code = TransformCode.capture(transform, transform_source)
        declared = {k: normalize_dtype(v) for k, v in (schema or {}).items()}
        data = SourceReader(self.ws).describe(source)
        key_types, features = infer_schema(
            name, code, data.frame, join_keys, event_timestamp, created_timestamp, declared
        )
        body: dict[str, Any] = {
            "entities": entity_names,
            "event_timestamp": event_timestamp,
            "created_timestamp": created_timestamp or "",
            "join_keys": key_types,
            "features": [f.to_dict() for f in features],
            "transform_name": code.name,
            "transform_source": code.source,
            "transform_fingerprint": code.fingerprint,
            "source_kind": data.kind,
            "source_ref": data.ref,
        }
        for key, value in (("ttl", ttl), ("description", description), ("visibility", visibility)):
            if value is not None:
                body[key] = value
        if tags is not None:
            body["tags"] = [tags] if isinstance(tags, str) else list(tags)
        answer = self.client.post(f"features/views/{_q(name)}/definition", body)
        self._defined[name] = (answer["version"], code, data, event_timestamp)
        return answer

    def _definition(self, name: str, version: int | None, what: str):
        held = self._defined.get(name)
        if held is None or (version is not None and version != held[0]):
            raise InvalidInput(
                f"{what} runs the view's transform in this process, and feature view "
                f"{name!r}{'' if version is None else f' version {version}'} was not defined "
                f"in it: the mlinfra service at {self.client.url} runs no caller code; run "
                f"its register_view(...) here first (an unchanged definition makes no new "
                f"version)"
            )
        return held

    def _upload(self, name: str, frame, meta: dict) -> dict:
        import io
        import json

        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return self.client.call(
            "POST",
            f"features/views/{_q(name)}/rows",
            data={"meta": json.dumps(meta)},
            files=[("rows", ("rows.parquet", buffer.getvalue(), "application/octet-stream"))],
        )

    def materialize(
        self, name: str, start: Any = None, end: Any = None, version: int | None = None
    ) -> dict:
        """Read the source and apply the transform here over [start, end) (default: from the
        source's first row to now); the service stores the rows of the parts of the interval
        not materialized yet, offline and online."""
        from ..features.definitions import parse_time, to_utc_naive, utc_now
        from ..features.materialization import in_intervals
        from ..features.sources import apply_transform
        from ..times import to_iso_z

        held_version, code, data, ts_col = self._definition(
            name, version, f"materializing {name!r}"
        )
        if data.frame is None:
            raise InvalidInput(f"feature view {name!r} has no batch source; feed it with push()")
        source = data.frame
        end_dt = parse_time(end, "end") if end is not None else utc_now()
        if start is not None:
            start_dt = parse_time(start, "start")
        elif ts_col in source.columns and len(source):
            start_dt = parse_time(to_utc_naive(source[ts_col], ts_col).min(), "start")
        else:
            start_dt = datetime(1970, 1, 1, tzinfo=end_dt.tzinfo)
        if start_dt >= end_dt:
            raise InvalidInput(
                f"nothing to materialize: start {start_dt.isoformat()} is not "
                f"before end {end_dt.isoformat()}"
            )
        if ts_col in source.columns:
            source = source[
                in_intervals(to_utc_naive(source[ts_col], ts_col), [(start_dt, end_dt)])
            ]
        out = apply_transform(code.func, source, name)
        return self._upload(
            name,
            out,
            {
                "mode": "materialize",
                "version": held_version,
                "start": to_iso_z(start_dt),
                "end": to_iso_z(end_dt),
            },
        )

    def push(self, name: str, rows: Any, version: int | None = None) -> dict:
        """Apply the view's transform to ``rows`` here; the service appends the result."""
        import pandas as pd

        from ..features.sources import apply_transform

        held_version, code, _, _ = self._definition(name, version, f"pushing rows to {name!r}")
        if isinstance(rows, dict):
            rows = [rows]
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        if frame.empty:
            raise InvalidInput("push needs at least one row")
        out = apply_transform(code.func, frame, name)
        return self._upload(name, out, {"mode": "push", "version": held_version})

    # -- data --------------------------------------------------------------------------------
    def sample(self, name: str, n: int = 10, version: int | None = None):
        import pandas as pd

        answer = self.client.get(f"features/views/{_q(name)}/sample", n=n)
        return pd.DataFrame(answer["rows"], columns=answer["columns"])

    def get_online_features(self, features: Any, entity_rows: Any):
        from ..features.serving import OnlineFeatures

        if hasattr(entity_rows, "to_dict"):
            entity_rows = entity_rows.to_dict(orient="records")
        answer = self.client.post(
            "features/online",
            {"features": _feature_refs(features), "entity_rows": list(entity_rows)},
        )
        return OnlineFeatures(
            feature_names=answer["features"],
            rows=answer["rows"],
            status=answer["status"],
            event_times=[
                {view: _epoch(t) for view, t in times.items()}
                for times in answer.get("event_times") or []
            ],
        )

    def get_training_frame(
        self,
        entity_df,
        features: Any,
        timestamp_column: str | None = None,
        full_feature_names: bool = False,
    ):
        import json

        import pandas as pd

        ts = timestamp_column or "event_timestamp"
        rows = json.loads(entity_df.to_json(orient="records", date_format="iso", date_unit="us"))
        body: dict[str, Any] = {
            "entity_rows": rows,
            "features": _feature_refs(features),
            "full_feature_names": bool(full_feature_names),
        }
        if timestamp_column:
            body["timestamp_column"] = timestamp_column
        answer = self.client.post("features/training-frame", body)
        frame = pd.DataFrame(answer["rows"], columns=answer["columns"])
        if ts in frame.columns:
            frame[ts] = pd.to_datetime(frame[ts], utc=True, format="ISO8601")
        frame.index = entity_df.index
        frame.attrs["mlinfra_lineage"] = answer.get("lineage")
        return frame

    @staticmethod
    def lineage_of(frame) -> dict:
        from ..features.service import FeatureService

        return FeatureService.lineage_of(frame)

    def record_usage(self, lineage: dict, consumer: str) -> list[dict]:
        raise InvalidInput(
            f"recording feature usage is not available through the mlinfra "
            f"service at {self.client.url}"
        )
