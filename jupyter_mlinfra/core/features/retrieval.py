"""Point-in-time-correct training frames: which view versions and features a request names
(the plan, shared with online serving), which offline files can matter (pruning), the join
itself (``asof.SortedRows`` over each version's files) and the frame's lineage."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, InvalidInput, NotFound
from ..times import to_iso_z
from .asof import SortedRows
from .definitions import (
    CREATED_TS,
    EVENT_TS,
    FeatureRef,
    ViewVersion,
    parse_refs,
    to_utc_naive,
    utc_now,
)
from .offline import ENTITY_ROW, ENTITY_TS
from .reading import OfflineFile

if TYPE_CHECKING:
    from .reading import SQLiteViewReader
    from .registry import FeatureRegistry
    from .stores import FeatureStores

LINEAGE_ATTR = "mlinfra_lineage"


@dataclass
class PlannedView:
    """One view version of a request: its features and the output column of each."""

    version: ViewVersion
    features: list[str]
    columns: dict[str, str]  # output column -> feature name
    ttl_seconds: float | None
    owner: str

    def lineage(self) -> dict:
        return {
            "name": self.version.view,
            "version": self.version.version,
            "fingerprint": self.version.fingerprint,
            "features": self.features,
            "ttl_seconds": self.ttl_seconds,
            "owner": self.owner,
        }


def lineage_of(frame) -> dict:
    """The lineage a training frame carries in ``attrs``."""
    lineage = getattr(frame, "attrs", {}).get(LINEAGE_ATTR)
    if lineage is None:
        raise InvalidInput(f"this DataFrame is not a training frame (no attrs[{LINEAGE_ATTR!r}])")
    return lineage


def plan_features(
    registry: FeatureRegistry | SQLiteViewReader,
    refs: list[FeatureRef],
    full_names: bool,
    taken: Iterable[Any],
) -> list[PlannedView]:
    """The view versions and features ``refs`` name, with output column names: the bare
    feature name unless ``full_names``, the name is requested from two views or ``taken``
    (the entity frame's columns) has it, then ``<view>__<feature>``."""
    grouped: dict[tuple[str, int | None], list[str]] = {}
    for ref in refs:
        grouped.setdefault((ref.view, ref.version), []).append(ref.feature)
    resolved = []
    for view, wanted in zip(registry.resolve_many(grouped), grouped.values()):
        version = view.version
        names: list[str] = []
        for w in wanted:
            for n in version.feature_names if w == "*" else [w]:
                if n not in version.feature_names:
                    raise NotFound(
                        f"feature view {version.view!r} (version "
                        f"{version.version}) has no feature {n!r}; it has "
                        f"{version.feature_names}"
                    )
                if n not in names:
                    names.append(n)
        resolved.append((view, names))
    counts: dict[str, int] = {}
    for _view, names in resolved:
        for n in names:
            counts[n] = counts.get(n, 0) + 1
    plan, used = [], set(map(str, taken))
    for view, names in resolved:
        columns = {}
        for n in names:
            out = f"{view.version.view}__{n}" if full_names or counts[n] > 1 or n in used else n
            if out in used:
                raise Conflict(
                    f"output column {out!r} already exists in entity_df; "
                    "rename it or pass full_feature_names=True"
                )
            used.add(out)
            columns[out] = n
        plan.append(PlannedView(view.version, names, columns, view.ttl_seconds, view.owner))
    return plan


class TrainingFrames:
    """Builds training frames for the registry's identity from the offline store."""

    def __init__(
        self, workspace, registry: FeatureRegistry | SQLiteViewReader, stores: FeatureStores
    ) -> None:
        self.ws = workspace
        self.registry = registry
        self.stores = stores

    def get_training_frame(
        self,
        entity_df,
        features: Any,
        timestamp_column: str | None = None,
        full_feature_names: bool = False,
    ):
        """``entity_df`` (same rows, order and index) plus one column per requested feature:
        per row and view, the latest feature row of that entity with event time <= the row's
        timestamp and >= the timestamp minus the view's TTL, ties broken by created time."""
        import numpy as np
        import pandas as pd

        if not isinstance(entity_df, pd.DataFrame):
            raise InvalidInput("entity_df must be a pandas DataFrame of entity keys and timestamps")
        refs = parse_refs(features)
        ts_col = timestamp_column or guess_timestamp_column(entity_df)
        if ts_col not in entity_df.columns:
            raise InvalidInput(f"entity_df has no timestamp column {ts_col!r}")
        plan = plan_features(self.registry, refs, full_feature_names, entity_df.columns)
        lineage_views = [p.lineage() for p in plan]
        entity_ts = to_utc_naive(entity_df[ts_col], f"entity_df column {ts_col!r}")

        frame = {
            ENTITY_ROW: np.arange(len(entity_df), dtype="int64"),
            ENTITY_TS: entity_ts.to_numpy(),
        }
        for p in plan:
            for key, dtype in p.version.join_keys.items():
                if key not in entity_df.columns:
                    raise InvalidInput(
                        f"entity_df has no join key column {key!r} (needed by "
                        f"view {p.version.view!r})"
                    )
                if key not in frame:
                    frame[key] = entity_keys(entity_df[key], dtype, key)
        entity = pd.DataFrame(frame)

        lo, hi = entity_ts.min(), entity_ts.max()
        file_sets = []
        for p, info in zip(plan, lineage_views):
            files = self.registry.offline_files(p.version.view, p.version.version)
            if not files:
                raise InvalidInput(
                    f"feature view {p.version.view!r} version "
                    f"{p.version.version} has no data yet: materialize() or "
                    "push() first"
                )
            info["offline_files"] = len(files)
            info["offline_fingerprint"] = hashlib.sha256(
                "\n".join(sorted(f.artifact_key for f in files)).encode()
            ).hexdigest()
            file_sets.append(sorted(files, key=lambda f: f.artifact_key))
        result: dict[str, Any] = {}
        for files, p in zip(file_sets, plan):
            if not prune(files, lo, hi, p.ttl_seconds):  # nothing in range: all null
                result.update({c: pd.Series([None] * len(entity)) for c in p.columns})
                continue
            rows = self.sorted_rows(p.version, files)
            positions = rows.positions(
                [entity[k] for k in p.version.join_keys], entity[ENTITY_TS], p.ttl_seconds
            )
            for out_name, feature in p.columns.items():
                result[out_name] = rows.take(feature, positions)
        out = entity_df.copy()
        for p in plan:
            for out_name, feature in p.columns.items():
                out[out_name] = typed(result[out_name], p.version.dtype_of(feature), out.index)
        out.attrs[LINEAGE_ATTR] = {
            "kind": "mlinfra.training_frame",
            "format": 1,
            "features": [
                f"{v['name']}@{v['version']}:{f}" for v in lineage_views for f in v["features"]
            ],
            "columns": [c for p in plan for c in p.columns],
            "views": lineage_views,
            "entity_df": {
                "rows": int(len(entity_df)),
                "columns": [str(c) for c in entity_df.columns],
                "timestamp_column": ts_col,
                "fingerprint": frame_fingerprint(entity_df),
                "time_range": [
                    None if pd.isna(lo) else _iso(lo),
                    None if pd.isna(hi) else _iso(hi),
                ],
            },
            "created_by": self.ws.user,
            "created_at": to_iso_z(utc_now()),
        }
        return out

    def sorted_rows(self, version: ViewVersion, files: list[OfflineFile]) -> SortedRows:
        """The view version's offline rows sorted for point-in-time search: built once per
        (immutable) file set from its parquet files, then kept in memory (LRU)."""
        columns = [*version.join_keys, EVENT_TS, CREATED_TS, *version.feature_names]
        keys = [f.artifact_key for f in files]

        def build() -> SortedRows:
            frame = self.stores.offline.read(keys, columns)
            return SortedRows(frame, list(version.join_keys), version.feature_names)

        return self.stores.sorted.get((version.view, version.version, tuple(keys)), build)


def prune(files: list[OfflineFile], lo, hi, ttl: float | None) -> list[OfflineFile]:
    """Files whose event-time range can hold a row some entity row may see."""
    import pandas as pd

    if pd.isna(lo) or pd.isna(hi):
        return files
    hi_aware = pd.Timestamp(hi).tz_localize("UTC")
    lo_aware = pd.Timestamp(lo).tz_localize("UTC")
    floor = None if ttl is None else lo_aware - timedelta(seconds=ttl)
    return [
        f
        for f in files
        if f.min_event_ts <= hi_aware and (floor is None or f.max_event_ts >= floor)
    ]


def guess_timestamp_column(df) -> str:
    from pandas.api import types as pdt

    if "event_timestamp" in df.columns:
        return "event_timestamp"
    candidates = [c for c in df.columns if pdt.is_datetime64_any_dtype(df[c].dtype)]
    if len(candidates) == 1:
        return candidates[0]
    raise InvalidInput(
        "cannot tell which column of entity_df holds the timestamps: pass timestamp_column=..."
    )


def entity_keys(column, dtype: str, name: str):
    """An entity frame's join-key column in the type the view stores it as."""
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


def typed(values, dtype: str, index):
    """Joined feature values as a column of the feature's type (nullable where it can be)."""
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


def frame_fingerprint(df) -> str:
    import pandas as pd

    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in df.columns]).encode())
    try:
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    except TypeError:  # unhashable cells (lists...)
        h.update(df.to_json(date_format="iso").encode())
    return h.hexdigest()


def _iso(ts) -> str | None:
    import pandas as pd

    return to_iso_z(pd.Timestamp(ts).tz_localize("UTC"))
