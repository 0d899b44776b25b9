"""The feature store over HTTP: the read side of ``FeatureService`` (views, entities,
describe, sample, online lookups, training frames). The service never runs a view's
transform for a remote caller: defining views, materializing and pushing are refused here
with a clear error (they run user code; see the README's trust model)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ..errors import InvalidInput
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

    def _refused(self, what: str) -> InvalidInput:
        return InvalidInput(
            f"{what} runs a view's transform, which the mlinfra service at {self.client.url} "
            f"does not do for remote callers: use a workspace with direct catalog access")

    def status(self) -> dict:
        return self.client.get("health")["capabilities"]["features"]

    # -- entities and views ----------------------------------------------------------------
    def register_entity(self, name: str, join_keys: Iterable[str] | str | None = None,
                        description: str = "") -> dict:
        body: dict[str, Any] = {"name": name, "description": description}
        if join_keys is not None:
            body["join_keys"] = [join_keys] if isinstance(join_keys, str) else list(join_keys)
        return self.client.post("features/entities", body)

    def list_entities(self) -> list[dict]:
        return walk(self.client, "features/entities", "entities", {})

    def list_views(self, text: str | None = None, owner: str | None = None,
                   tag: str | None = None, entity: str | None = None) -> list[dict]:
        return walk(self.client, "features", "views",
                    {"q": text, "owner": owner, "tag": tag, "entity": entity})

    def describe(self, name: str, version: int | None = None,
                 statistics: bool = True) -> dict:
        return self.client.get(f"features/views/{_q(name)}", version=version,
                               statistics=None if statistics else "false")

    def update_view(self, name: str, **changes: Any) -> dict:
        changes = {k: (list(v) if k == "tags" and v is not None else v)
                   for k, v in changes.items() if v is not None}
        return self.client.call("PATCH", f"features/views/{_q(name)}", json=changes)

    def delete_view(self, name: str) -> dict:
        return self.client.call("DELETE", f"features/views/{_q(name)}") or {"view": name,
                                                                           "deleted": True}

    def register_view(self, name: str, **_: Any):
        raise self._refused(f"defining feature view {name!r}")

    def materialize(self, name: str, *args: Any, **kwargs: Any) -> dict:
        raise self._refused(f"materializing {name!r}")

    def push(self, name: str, rows: Any, version: int | None = None) -> dict:
        raise self._refused(f"pushing rows to {name!r}")

    # -- data --------------------------------------------------------------------------------
    def sample(self, name: str, n: int = 10, version: int | None = None):
        import pandas as pd

        answer = self.client.get(f"features/views/{_q(name)}/sample", n=n)
        return pd.DataFrame(answer["rows"], columns=answer["columns"])

    def get_online_features(self, features: Any, entity_rows: Any):
        from ..features.serving import OnlineFeatures

        if hasattr(entity_rows, "to_dict"):
            entity_rows = entity_rows.to_dict(orient="records")
        answer = self.client.post("features/online", {"features": _feature_refs(features),
                                                      "entity_rows": list(entity_rows)})
        return OnlineFeatures(
            feature_names=answer["features"], rows=answer["rows"], status=answer["status"],
            event_times=[{view: _epoch(t) for view, t in times.items()}
                         for times in answer.get("event_times") or []])

    def get_training_frame(self, entity_df, features: Any, timestamp_column: str | None = None,
                           full_feature_names: bool = False):
        import json

        import pandas as pd

        ts = timestamp_column or "event_timestamp"
        rows = json.loads(entity_df.to_json(orient="records", date_format="iso",
                                            date_unit="us"))
        body: dict[str, Any] = {"entity_rows": rows, "features": _feature_refs(features),
                                "full_feature_names": bool(full_feature_names)}
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
        raise InvalidInput(f"recording feature usage is not available through the mlinfra "
                           f"service at {self.client.url}")
