"""Computing feature rows and storing them: materialize (batch, over event-time intervals not
done yet), push (streaming rows through the same transform), compact (merge small files), and
the online writes (the latest row per entity). The interval arithmetic is here too."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from ..errors import InvalidInput, NotFound
from ..times import to_iso_z
from .definitions import (
    CREATED_TS,
    EVENT_TS,
    ViewVersion,
    coerce_column,
    parse_time,
    to_utc_naive,
    utc_now,
)
from .online import encode_values, entity_key
from .registry import FeatureRegistry, OfflineFile
from .sources import SourceReader, apply_transform
from .stores import FeatureStores

# dtypes a join key is coerced to (a datetime key is kept as the transform gave it)
_COERCED_KEY_TYPES = ("int64", "float64", "bool", "string")


class Materializer:
    """Writes of feature rows for the registry's identity."""

    def __init__(
        self, workspace, registry: FeatureRegistry, sources: SourceReader, stores: FeatureStores
    ) -> None:
        self.ws = workspace
        self.registry = registry
        self.sources = sources
        self.stores = stores

    def materialize(
        self, name: str, start: Any = None, end: Any = None, version: int | None = None
    ) -> dict:
        """Compute the view over event time [start, end) and store it offline and online;
        intervals already materialized for this version are skipped."""
        import pandas as pd

        started = time.perf_counter()
        end_dt = parse_time(end, "end") if end is not None else utc_now()
        start_dt = parse_time(start, "start") if start is not None else None
        current = self.registry.resolve(name, version, owned=True)
        done = self.registry.materialized(name, current.version)
        source = self.sources.load(current)
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
            raise InvalidInput(
                f"nothing to materialize: start {start_dt.isoformat()} is not "
                f"before end {end_dt.isoformat()}"
            )
        gaps = subtract([(start_dt, end_dt)], done) if start_dt < end_dt else []
        result = {
            "view": name,
            "version": current.version,
            "start": to_iso_z(start_dt),
            "end": to_iso_z(end_dt),
            "intervals": [[to_iso_z(a), to_iso_z(b)] for a, b in gaps],
            "rows": 0,
            "files": 0,
            "dropped_rows": 0,
            "online_rows": 0,
        }
        if not gaps:
            result["seconds"] = round(time.perf_counter() - started, 3)
            result["up_to_date"] = True
            return result
        if pre_filter:
            source = source[in_intervals(to_utc_naive(source[ts_col], ts_col), gaps)]
        now = utc_now()
        out = (
            apply_transform(self.stores.transform_of(current), source, name)
            if len(source)
            else source
        )
        if len(out):
            rows, dropped = normalize(current, out, now)
            rows = rows[in_intervals(rows[EVENT_TS], gaps)].reset_index(drop=True)
        else:
            rows, dropped = pd.DataFrame(), 0
        written = (
            self.stores.offline.write(
                name, current.version, rows, list(current.join_keys), "materialize"
            )
            if len(rows)
            else []
        )
        online_rows = self.write_online(current, rows) if len(rows) else 0
        seconds = time.perf_counter() - started
        covered = [
            (a, b, int(in_intervals(rows[EVENT_TS], [(a, b)]).sum()) if len(rows) else 0)
            for a, b in gaps
        ]
        self.registry.add_materialization(name, current.version, written, covered, seconds, now)
        result.update(
            rows=int(len(rows)),
            files=len(written),
            dropped_rows=dropped,
            online_rows=online_rows,
            seconds=round(time.perf_counter() - started, 3),
        )
        return result

    def push(self, name: str, rows: Any, version: int | None = None) -> dict:
        """Apply the view's own transform to new rows, then append them to the offline store
        and update the online store (the streaming path)."""
        import pandas as pd

        if isinstance(rows, dict):
            rows = [rows]
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        if frame.empty:
            raise InvalidInput("push needs at least one row")
        current = self.registry.resolve(name, version, owned=True)
        out = apply_transform(self.stores.transform_of(current), frame, name)
        return self.store_pushed(current, out)

    def store_pushed(self, current: ViewVersion, out) -> dict:
        """Append already-transformed rows (``out``: the transform's output) to the offline
        store and update the online store: the tail of :meth:`push`, also the entry point of
        rows a remote client computed in its own process."""
        name = current.view
        now = utc_now()
        normalized, dropped = normalize(current, out, now)
        if dropped:
            raise InvalidInput(f"{dropped} pushed row(s) lack a join key or an event timestamp")
        written = self.stores.offline.write(
            name, current.version, normalized, list(current.join_keys), "push"
        )
        online_rows = self.write_online(current, normalized)
        self.registry.add_files(name, current.version, written, "push", now)
        return {
            "view": name,
            "version": current.version,
            "rows": int(len(normalized)),
            "files": len(written),
            "online_rows": online_rows,
        }

    def store_materialized(self, current: ViewVersion, out, start: Any, end: Any) -> dict:
        """Store already-transformed rows (``out``) computed over event time [start, end):
        the rows in the parts of the interval not materialized yet go offline and online and
        those parts are recorded, as :meth:`materialize` does with its own transform's
        output (the entry point of rows a remote client computed in its own process)."""
        started = time.perf_counter()
        name = current.view
        start_dt, end_dt = parse_time(start, "start"), parse_time(end, "end")
        if start_dt >= end_dt:
            raise InvalidInput(
                f"nothing to materialize: start {start_dt.isoformat()} is not "
                f"before end {end_dt.isoformat()}"
            )
        now = utc_now()
        rows, dropped = normalize(current, out, now)  # checked before anything is written
        done = self.registry.materialized(name, current.version)
        gaps = subtract([(start_dt, end_dt)], done)
        rows = rows[in_intervals(rows[EVENT_TS], gaps)].reset_index(drop=True)
        result = {
            "view": name,
            "version": current.version,
            "start": to_iso_z(start_dt),
            "end": to_iso_z(end_dt),
            "intervals": [[to_iso_z(a), to_iso_z(b)] for a, b in gaps],
            "rows": 0,
            "files": 0,
            "dropped_rows": dropped,
            "online_rows": 0,
        }
        if not gaps:
            result["seconds"] = round(time.perf_counter() - started, 3)
            result["up_to_date"] = True
            return result
        written = (
            self.stores.offline.write(
                name, current.version, rows, list(current.join_keys), "materialize"
            )
            if len(rows)
            else []
        )
        online_rows = self.write_online(current, rows) if len(rows) else 0
        covered = [
            (a, b, int(in_intervals(rows[EVENT_TS], [(a, b)]).sum()) if len(rows) else 0)
            for a, b in gaps
        ]
        self.registry.add_materialization(
            name, current.version, written, covered, time.perf_counter() - started, now
        )
        result.update(
            rows=int(len(rows)),
            files=len(written),
            online_rows=online_rows,
            seconds=round(time.perf_counter() - started, 3),
        )
        return result

    def compact(self, name: str, version: int | None = None) -> dict:
        """Merge each day partition's files into one, keeping the newest created row per
        (entity, event time); the catalog switches over in one transaction."""
        current = self.registry.resolve(name, version, owned=True)
        files = self.registry.offline_files(name, current.version)
        by_partition: dict[str, list[OfflineFile]] = {}
        for f in files:
            by_partition.setdefault(f.partition, []).append(f)
        merges = {p: fs for p, fs in by_partition.items() if len(fs) > 1}
        keys = list(current.join_keys)
        now = utc_now()
        offline = self.stores.offline
        replaced = []
        for _partition, group in sorted(merges.items()):
            rows = offline.merged([f.artifact_key for f in group], keys)
            replaced.append((group, offline.write(name, current.version, rows, keys, "compact")))
        if replaced:
            self.registry.replace_files(name, current.version, replaced, now)
            for group, _ in replaced:
                for f in group:
                    try:
                        self.ws.artifacts.delete(f.artifact_key)
                    except NotFound:
                        pass
        before = sum(len(g) for g, _ in replaced)
        after = sum(len(w) for _, w in replaced)
        return {
            "view": name,
            "version": current.version,
            "partitions": len(replaced),
            "files_before": len(files),
            "files_after": len(files) - before + after,
        }

    def write_online(self, version: ViewVersion, rows) -> int:
        """Upsert the latest row per entity of ``rows`` into the online store."""
        keys = list(version.join_keys)
        latest = rows.sort_values([EVENT_TS, CREATED_TS], kind="stable").drop_duplicates(
            subset=keys, keep="last"
        )
        event = latest[EVENT_TS].to_numpy().astype("datetime64[us]").astype("int64") / 1e6
        created = latest[CREATED_TS].to_numpy().astype("datetime64[us]").astype("int64") / 1e6
        key_values = [latest[k].tolist() for k in keys]
        features = [json_values(latest[f.name], f.dtype) for f in version.features]
        payload = [encode_values(vals) for vals in zip(*features)]
        entries = (
            (
                entity_key([kv[i] for kv in key_values]),
                float(event[i]),
                float(created[i]),
                payload[i],
            )
            for i in range(len(latest))
        )
        return self.stores.online.write(version.view, version.version, entries)


def normalize(version: ViewVersion, out, now: datetime):
    """Transform output -> offline rows: keys, event/created time (naive UTC), features with
    their declared types; ``(rows, how many were dropped for lacking keys or event time)``."""
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
        if dtype in _COERCED_KEY_TYPES:
            column = coerce_column(column, dtype, f"join key {key!r} of {label}")
        data[key] = column.to_numpy() if dtype == "int64" and column.dtype == "int64" else column
    data[EVENT_TS] = to_utc_naive(
        out[version.event_timestamp_column], f"event timestamp of {label}"
    )
    if version.created_timestamp_column:
        data[CREATED_TS] = to_utc_naive(
            out[version.created_timestamp_column], f"created timestamp of {label}"
        )
    else:
        data[CREATED_TS] = pd.Series(pd.Timestamp(now).tz_localize(None), index=out.index).astype(
            "datetime64[us]"
        )
    for f in version.features:
        data[f.name] = coerce_column(out[f.name], f.dtype, f"feature {f.name!r} of {label}")
    frame = pd.DataFrame(data, index=out.index)
    valid = frame[[*version.join_keys, EVENT_TS]].notna().all(axis=1)
    if version.created_timestamp_column:
        frame[CREATED_TS] = frame[CREATED_TS].fillna(pd.Timestamp(now).tz_localize(None))
    return frame[valid].reset_index(drop=True), int((~valid).sum())


def subtract(
    wanted: list[tuple[datetime, datetime]], done: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
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


def in_intervals(ts, intervals):
    """A mask of the (naive UTC) timestamps that fall in one of the [start, end) intervals."""
    import numpy as np

    values = ts.to_numpy().astype("datetime64[us]")
    mask = np.zeros(len(values), dtype=bool)
    for a, b in intervals:
        lo = np.datetime64(a.replace(tzinfo=None), "us")
        hi = np.datetime64(b.replace(tzinfo=None), "us")
        mask |= (values >= lo) & (values < hi)
    return mask


def json_values(series, dtype: str) -> list:
    """A feature column as JSON-able values for the online store (datetimes as ISO text)."""
    if dtype == "datetime":
        import pandas as pd

        return [
            None if pd.isna(v) else pd.Timestamp(v).tz_localize("UTC").isoformat() for v in series
        ]
    if dtype == "float64":
        return series.tolist()
    return series.astype(object).where(series.notna(), None).tolist()


def row_count(rows: Any) -> int:
    """How many rows a push was given (for the stand-in of a captured push)."""
    if isinstance(rows, dict):
        return 1
    try:
        return len(rows)
    except TypeError:
        return 0
