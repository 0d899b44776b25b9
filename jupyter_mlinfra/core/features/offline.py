"""The offline store: parquet files partitioned by event date, kept in the artifact store.

Layout (artifact keys, local folder or S3)::

    features/offline/<view>/v<version>/date=YYYY-MM-DD/<kind>-<id>.parquet

Each file holds the join keys, ``_mlinfra_event_ts`` and ``_mlinfra_created_ts`` (naive UTC,
microseconds) and the feature columns; within a file there is at most one row per (entity,
event time), the most recently created one. Every file is listed in the catalog with its row
count and event-time range, so a training frame reads only the files its entity rows can reach
(partition pruning) and only de-duplicates across files whose time ranges overlap.

Point-in-time joins run in DuckDB (ASOF LEFT JOIN): for each entity row, the latest feature
row with event time <= the row's time, then nulled when it is older than the TTL. A LEFT ASOF
join yields exactly one row per left row; ordering by the input's row number keeps the input
order.
"""

from __future__ import annotations

import io
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .definitions import CREATED_TS, EVENT_TS

ENTITY_ROW = "_mlinfra_row"
ENTITY_TS = "_mlinfra_entity_ts"


def offline_prefix(view: str, version: int) -> str:
    return f"features/offline/{view}/v{version}"


@dataclass
class WrittenFile:
    partition: str
    key: str
    rows: int
    min_ts: datetime
    max_ts: datetime


def dedupe_latest(df, keys: list[str]):
    """At most one row per (keys, event time): the one created last (then the last given)."""
    subset = [*keys, EVENT_TS]
    if not df.duplicated(subset=subset).any():
        return df
    ordered = df.sort_values([*subset, CREATED_TS], kind="stable")
    return ordered.drop_duplicates(subset=subset, keep="last")


def write_partitions(artifacts, view: str, version: int, df, keys: list[str],
                     kind: str) -> list[WrittenFile]:
    """Write ``df`` (normalized rows) as one parquet file per event date."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if df.empty:
        return []
    df = dedupe_latest(df, keys).sort_values(EVENT_TS, kind="stable")
    ts = df[EVENT_TS].to_numpy()
    days = ts.astype("datetime64[D]")
    boundaries = np.flatnonzero(days[1:] != days[:-1]) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(df)]])
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    run = uuid.uuid4().hex[:12]
    written = []
    for start, end in zip(starts, ends):
        day = str(days[start])
        chunk = table.slice(int(start), int(end - start))
        buffer = io.BytesIO()
        pq.write_table(chunk, buffer, compression="zstd", row_group_size=256 * 1024)
        key = f"{offline_prefix(view, version)}/date={day}/{kind}-{run}.parquet"
        artifacts.put(key, buffer.getvalue(), metadata={"view": view, "version": version,
                                                        "rows": int(end - start)})
        written.append(WrittenFile(
            partition=f"date={day}", key=key, rows=int(end - start),
            min_ts=_aware(ts[start]), max_ts=_aware(ts[end - 1])))
    return written


def _aware(value) -> datetime:
    import pandas as pd

    return pd.Timestamp(value).tz_localize("UTC").to_pydatetime()


class LocalFiles:
    """Local paths DuckDB can read for artifact keys: the blob itself for a local store, a
    verified download cache (by content hash) for S3."""

    def __init__(self, artifacts, cache_dir: Path) -> None:
        self.artifacts = artifacts
        self.cache_dir = cache_dir
        self._lock = threading.Lock()

    def paths(self, keys: list[str]) -> list[str]:
        if hasattr(self.artifacts, "local_path"):
            return [str(self.artifacts.local_path(k)) for k in keys]
        out = []
        for key in keys:
            digest = self.artifacts.stat(key).sha256
            target = self.cache_dir / digest[:2] / f"{digest}.parquet"
            if not target.exists():
                data = self.artifacts.get(key)  # checksum verified
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
                tmp.write_bytes(data)
                os.replace(tmp, target)
            out.append(str(target))
        return out


@dataclass
class JoinSpec:
    """One view in a training-frame join."""

    alias: str
    paths: list[str]
    keys: list[str]
    key_casts: dict[str, str]  # join key -> DuckDB type of the offline column
    columns: dict[str, str]  # output column name -> feature name in the view
    ttl_seconds: float | None
    dedupe: bool
    table: str | None = None  # a cached in-memory copy of the files (already de-duplicated)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _paths_sql(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def point_in_time_sql(specs: list[JoinSpec]) -> str:
    """The ASOF query over the registered ``__entity`` relation."""
    select = [f"e.{ENTITY_ROW}"]
    joins = []
    for spec in specs:
        wanted = list(dict.fromkeys(spec.columns.values()))
        cols = ", ".join(_quote(c) for c in [*spec.keys, EVENT_TS, *wanted])
        source = f"SELECT {cols} FROM read_parquet({_paths_sql(spec.paths)})"
        if spec.table:
            source = f"SELECT {cols} FROM {spec.table}"
        elif spec.dedupe:
            part = ", ".join(_quote(k) for k in [*spec.keys, EVENT_TS])
            source = (f"SELECT {cols} FROM read_parquet({_paths_sql(spec.paths)}) QUALIFY "
                      f"row_number() OVER (PARTITION BY {part} ORDER BY {_quote(CREATED_TS)} "
                      f"DESC) = 1")
        a = spec.alias
        on = " AND ".join(f"e.{_quote(k)} = {a}.{_quote(k)}" for k in spec.keys)
        joins.append(f"ASOF LEFT JOIN ({source}) {a} ON {on} AND "
                     f"e.{ENTITY_TS} >= {a}.{_quote(EVENT_TS)}")
        if spec.ttl_seconds is None:
            cond = None
        else:
            micros = int(round(spec.ttl_seconds * 1_000_000))
            cond = (f"{a}.{_quote(EVENT_TS)} >= e.{ENTITY_TS} - to_microseconds({micros})")
        for out_name, feature in spec.columns.items():
            value = f"{a}.{_quote(feature)}"
            expr = value if cond is None else f"CASE WHEN {cond} THEN {value} END"
            select.append(f"{expr} AS {_quote(out_name)}")
    return (f"SELECT {', '.join(select)} FROM __entity e " + " ".join(joins)
            + f" ORDER BY e.{ENTITY_ROW}")


class DuckDBEngine:
    """One in-process DuckDB database; each query runs on its own cursor (thread-safe).

    ``cached_table`` keeps recently joined offline data in memory as DuckDB tables, keyed by
    the exact set of (immutable, content-addressed) files, so repeated training frames over
    unchanged data skip parquet decoding; any new file makes a new key. At most
    ``cache_rows`` rows are kept (least recently used first out).
    """

    def __init__(self, cache_rows: int = 20_000_000) -> None:
        self._con = None
        self._lock = threading.Lock()
        self.cache_rows = cache_rows
        self.background = True
        self._cache: dict[tuple, tuple[str, int]] = {}  # key -> (table, rows), LRU order
        self._building: set[tuple] = set()
        self._threads: list[threading.Thread] = []
        self._pending: list[threading.Thread] = []

    def cached_table(self, key: tuple, paths: list[str], columns: list[str], keys: list[str],
                     rows: int) -> str | None:
        """Name of an in-memory table holding ``columns`` of the files, de-duplicated on
        (keys, event time) keeping the newest created row and sorted by them (the ASOF
        join's own sort is then about a third faster); None when it is too big to cache
        or not built yet. The first use of a file set starts building its table in a
        background thread (``background = False``: build it now), so the first training
        frame is not slowed down by the copy."""
        if rows > self.cache_rows:
            return None
        with self._lock:
            hit = self._cache.pop(key, None)
            if hit is not None:
                self._cache[key] = hit
                return hit[0]
            if key in self._building:
                return None
            self._building.add(key)
        name = "cache_" + uuid.uuid4().hex[:16]
        if not self.background:
            return name if self._build(key, name, paths, columns, keys, rows) else None
        thread = threading.Thread(target=self._build, name="mlinfra-feature-cache",
                                  args=(key, name, paths, columns, keys, rows))
        with self._lock:
            self._pending.append(thread)
        return None

    def start_pending(self) -> None:
        """Start the background copies requested by the query that just finished (started
        after it, so they do not compete with it for the CPU)."""
        with self._lock:
            pending, self._pending = self._pending, []
            self._threads = [t for t in self._threads if t.is_alive()] + pending
        for thread in pending:
            thread.start()

    def _build(self, key: tuple, name: str, paths: list[str], columns: list[str],
               keys: list[str], rows: int) -> bool:
        part = ", ".join(_quote(k) for k in [*keys, EVENT_TS])
        cols = ", ".join(_quote(c) for c in columns)
        try:
            cur = self.cursor()
            try:
                cur.execute(f"CREATE TABLE {name} AS SELECT {cols} FROM read_parquet("
                            f"{_paths_sql(paths)}) QUALIFY row_number() OVER (PARTITION BY "
                            f"{part} ORDER BY {_quote(CREATED_TS)} DESC) = 1 ORDER BY {part}")
            finally:
                cur.close()
        except Exception:  # a cache only: the next frame reads the files directly
            with self._lock:
                self._building.discard(key)
            return False
        with self._lock:
            self._building.discard(key)
            self._cache[key] = (name, rows)
            evict = []
            while sum(r for _, r in self._cache.values()) > self.cache_rows and \
                    len(self._cache) > 1:
                old = next(iter(self._cache))
                evict.append(self._cache.pop(old)[0])
        for table in evict:
            cur = self.cursor()
            try:
                cur.execute(f"DROP TABLE IF EXISTS {table}")
            finally:
                cur.close()
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Wait for cache tables being built in the background."""
        self.start_pending()
        for thread in list(self._threads):
            thread.join(timeout)

    def cursor(self):
        with self._lock:
            if self._con is None:
                import duckdb

                self._con = duckdb.connect(":memory:")
            return self._con.cursor()

    def query_df(self, sql: str, params: list[Any] | None = None):
        cur = self.cursor()
        try:
            return cur.execute(sql, params or []).df()
        finally:
            cur.close()

    def close(self) -> None:
        self.wait()
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


def utc_from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)
