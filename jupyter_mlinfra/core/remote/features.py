"""The feature store over HTTP: ``FeatureService`` for a remote caller.

The service never runs a caller's code. Defining a view: the transform runs here, on a sample
of the source, to infer the schema; the definition (keys, timestamps, schema, the transform's
source text and fingerprint, never a pickle) goes to ``POST features/views/{name}/definition``.
Materializing and pushing: the source is read and the transform applied here; the computed
rows go to ``POST features/views/{name}/rows`` as parquet with the interval [start, end), and
the service checks them against the view's schema and stores them offline and online.

A DataFrame source is uploaded (``POST features/sources``, parquet, content-addressed) and the
view names it; ``artifact:`` and ``job:`` sources are read through the service
(``GET features/sources?ref=``). The transform's cloudpickle travels with the definition and
is stored as bytes (the service never loads it), so another process of a caller who may change
the view materializes or pushes without defining it again: it fetches the transform
(``GET features/views/{name}/transform``) and the source rows
(``GET features/views/{name}/source``) and runs the transform itself.
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
        from ..features.sources import infer_schema

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
        data = self._describe_source(source)
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
        pickled = _pickled(code)
        if pickled is not None:
            body["transform_pickle"] = pickled
        path = f"features/views/{_q(name)}/definition"
        try:
            answer = self.client.post(path, body)
        except InvalidInput as exc:
            # a DataFrame the service does not hold yet: upload it, then define again (a
            # definition refused for any other reason uploads nothing)
            if data.snapshot is None or exc.details.get("missing_source") != data.ref:
                raise
            self._upload_source(data)
            answer = self.client.post(path, body)
        self._defined[name] = (answer["version"], code, data, event_timestamp)
        return answer

    # -- sources -----------------------------------------------------------------------------
    def _describe_source(self, source: Any):
        """As ``SourceReader.describe``, with ``artifact:`` and ``job:`` sources read through
        the service (the artifact store is the service's)."""
        from ..features.sources import SourceData, SourceReader

        if isinstance(source, str) and source.startswith(("artifact:", "job:")):
            return SourceData(
                source.split(":", 1)[0],
                source,
                self._table("features/sources", {"ref": source}, source),
            )
        return SourceReader(self.ws).describe(source)

    def _upload_source(self, data) -> dict:
        """Send a DataFrame source's parquet snapshot (the service keeps it under the same
        content-addressed key the definition names)."""
        answer = self.client.call(
            "POST",
            "features/sources",
            data=data.snapshot,
            headers={"Content-Type": "application/vnd.apache.parquet"},
        )
        if answer.get("ref") != data.ref:
            raise InvalidInput(
                f"the mlinfra service stored the source as {answer.get('ref')!r}, not {data.ref!r}"
            )
        return answer

    def _table(self, path: str, params: dict, label: str):
        """A source table the service sends (parquet, or CSV as stored)."""
        import io

        import pandas as pd

        response = self.client.request(
            "GET", path, params={k: v for k, v in params.items() if v is not None}
        )
        raw = response.content
        try:
            if "csv" in response.headers.get("Content-Type", ""):
                return pd.read_csv(io.BytesIO(raw))
            return pd.read_parquet(io.BytesIO(raw))
        except Exception as exc:
            raise InvalidInput(
                f"source {label!r} is not a readable table: {type(exc).__name__}"
            ) from None

    def _fetch_definition(self, name: str, version: int | None, what: str):
        """A view version's transform and source, from the service, for a process that did
        not define it (the transform is loaded here: only for callers who may change the
        view, as a direct-mode process loads it from the artifact store)."""
        from ..features.definitions import load_transform
        from ..features.sources import SourceData

        try:
            response = self.client.request(
                "GET",
                f"features/views/{_q(name)}/transform",
                params={"version": version} if version is not None else None,
            )
        except NotFound as exc:
            raise InvalidInput(
                f"{what} runs the view's transform in this process, and {exc.message}"
            ) from None
        held_version = int(response.headers.get("X-Mlinfra-View-Version") or 0) or version
        code = _Transform(load_transform(response.content))
        info = self.client.get(f"features/views/{_q(name)}", version=held_version)
        definition = info.get("definition") or {}
        kind = (definition.get("source") or {}).get("kind", "push")
        frame = None
        if kind != "push":
            frame = self._table(
                f"features/views/{_q(name)}/source", {"version": held_version}, name
            )
        ts_col = definition.get("event_timestamp_column") or "event_timestamp"
        return held_version, code, SourceData(kind, "", frame), ts_col

    def _definition(self, name: str, version: int | None, what: str):
        held = self._defined.get(name)
        if held is None or (version is not None and version != held[0]):
            # defined in another process: its stored transform and source, if any
            return self._fetch_definition(name, version, what)
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
        return self._upload_interval(name, out, held_version, ts_col, start_dt, end_dt)

    def _upload_interval(self, name: str, out, version: int, ts_col: str, start, end) -> dict:
        """Upload the rows of [start, end); when the service finds the body too large (413),
        split the interval at the middle row's event time and upload each part (each part's
        interval is recorded as done: a failure later leaves a resumable materialize)."""
        from ..features.definitions import to_utc_naive
        from ..times import to_iso_z

        meta = {
            "mode": "materialize",
            "version": version,
            "start": to_iso_z(start),
            "end": to_iso_z(end),
        }
        try:
            return self._upload(name, out, meta)
        except Exception as exc:
            if getattr(exc, "http_status", None) != 413 or ts_col not in out.columns:
                raise
            times = to_utc_naive(out[ts_col], ts_col).sort_values()
            middle = times.iloc[len(times) // 2]
            tz = getattr(start, "tzinfo", None)
            cut = middle.tz_localize("UTC").to_pydatetime() if tz is not None else middle
            if len(out) < 2 or not (start < cut < end):
                raise  # one event time's rows are larger than the service takes
            early = (to_utc_naive(out[ts_col], ts_col) < middle).to_numpy()
            first = self._upload_interval(name, out[early], version, ts_col, start, cut)
            second = self._upload_interval(name, out[~early], version, ts_col, cut, end)
            return _combined(first, second)

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
        return self._upload_rows(name, out, held_version)

    def _upload_rows(self, name: str, out, version: int) -> dict:
        """Push ``out``; when the service finds the body too large (413), in two halves."""
        try:
            return self._upload(name, out, {"mode": "push", "version": version})
        except Exception as exc:
            if getattr(exc, "http_status", None) != 413 or len(out) < 2:
                raise
            half = len(out) // 2
            first = self._upload_rows(name, out.iloc[:half], version)
            return _combined(first, self._upload_rows(name, out.iloc[half:], version))

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
        """``POST features/usage``: the "used by" lineage, recorded as the caller."""
        answer = self.client.post("features/usage", {"lineage": lineage, "consumer": consumer})
        return list(answer.get("items") or [])

    def compact(self, name: str, version: int | None = None) -> dict:
        """``POST features/views/{name}/compact``: the service merges the files (no caller
        code runs)."""
        return self.client.post(
            f"features/views/{_q(name)}/compact", {} if version is None else {"version": version}
        )

    # -- pages and versions ------------------------------------------------------------------
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
        return self.client.get(
            "features",
            q=text,
            owner=owner,
            tag=tag,
            entity=entity,
            limit=limit,
            offset=offset,
            cursor=cursor,
        )

    def list_entities_page(
        self,
        *,
        q: str | None = None,
        owner: str | None = None,
        limit: Any = None,
        offset: Any = None,
        cursor: str | None = None,
    ) -> dict:
        return self.client.get(
            "features/entities", q=q, owner=owner, limit=limit, offset=offset, cursor=cursor
        )

    def get_view(self, name: str, version: int | None = None):
        """The view version (``ViewVersion``) as the service describes it."""
        from ..features.definitions import FeatureSpec, ViewVersion

        info = self.client.get(f"features/views/{_q(name)}", version=version, statistics="false")
        d = info["definition"]
        created = d.get("created_at")
        return ViewVersion(
            view=d["view"],
            version=d["version"],
            fingerprint=d["fingerprint"],
            entities=list(d["entities"]),
            join_keys=dict(d["join_keys"]),
            features=[FeatureSpec(f["name"], f["dtype"]) for f in d["features"]],
            event_timestamp_column=d["event_timestamp_column"],
            created_timestamp_column=d.get("created_timestamp_column") or "",
            source_kind=d["source"]["kind"],
            source_ref=d["source"]["ref"],
            transform_name=d["transform"]["name"],
            transform_source=d["transform"]["source"],
            transform_key="",
            created_by=d.get("created_by") or "",
            created_at=(
                datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None
            ),
        )


def _combined(first: dict, second: dict) -> dict:
    """The answer of two uploads of one materialize or push: counts added, intervals
    joined, up to date when both were."""
    out = {**first, **second}
    for key in ("rows", "files", "dropped_rows", "online_rows", "seconds"):
        if key in first or key in second:
            out[key] = first.get(key, 0) + second.get(key, 0)
    if "intervals" in first or "intervals" in second:
        out["intervals"] = list(first.get("intervals") or []) + list(second.get("intervals") or [])
    if "start" in first:
        out["start"] = first["start"]
    if "up_to_date" in first or "up_to_date" in second:
        out["up_to_date"] = bool(first.get("up_to_date")) and bool(second.get("up_to_date"))
    return out


class _Transform:
    """What materialize and push use of a ``TransformCode``: the function."""

    def __init__(self, func: Callable) -> None:
        self.func = func


def _pickled(code) -> str | None:
    """The transform's cloudpickle as base64 (None when it cannot be pickled: then only
    the defining process can run it)."""
    import base64

    try:
        return base64.b64encode(code.dumps()).decode("ascii")
    except Exception:
        return None
