"""The offline store: parquet files partitioned by event date, kept in the artifact store.

Layout (artifact keys, local folder or S3)::

    features/offline/<view>/v<version>/date=YYYY-MM-DD/<kind>-<id>.parquet

Each file holds the join keys, ``_mlinfra_event_ts`` and ``_mlinfra_created_ts`` (naive UTC,
microseconds) and the feature columns; within a file there is at most one row per (entity,
event time), the most recently created one. Every file is listed in the catalog with its row
count and event-time range, so a training frame that no row can reach is answered without
reading anything (partition pruning).

Point-in-time joins read a view's files once (:meth:`OfflineStore.read`, Arrow) into a sorted
in-memory copy searched with numpy (``asof.SortedRows``), kept per file set; statistics,
samples and compaction run as SQL over the files in DuckDB (:class:`DuckDBEngine`). All the SQL
over parquet is in this module, behind :class:`OfflineStore`'s methods.
"""

from __future__ import annotations

import io
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .definitions import CREATED_TS, EVENT_TS

if TYPE_CHECKING:
    import duckdb

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


def write_partitions(
    artifacts, view: str, version: int, df, keys: list[str], kind: str
) -> list[WrittenFile]:
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
        artifacts.put(
            key,
            buffer.getvalue(),
            metadata={"view": view, "version": version, "rows": int(end - start)},
        )
        written.append(
            WrittenFile(
                partition=f"date={day}",
                key=key,
                rows=int(end - start),
                min_ts=_aware(ts[start]),
                max_ts=_aware(ts[end - 1]),
            )
        )
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


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _paths_sql(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def read_offline_files(paths: list[str], columns: list[str]):
    """The ``columns`` of a view's parquet files as one pandas DataFrame (read in parallel
    by Arrow; a column whose type differs between files is promoted)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        table = ds.dataset(paths, format="parquet").to_table(columns=columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        import pyarrow.parquet as pq

        table = pa.concat_tables(
            [pq.read_table(p, columns=columns) for p in paths], promote_options="permissive"
        )
    return table.to_pandas()


class DuckDBEngine:
    """One in-process DuckDB database for the SQL over offline parquet files (statistics,
    samples, compaction); each query runs on its own cursor (thread-safe)."""

    def __init__(self) -> None:
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

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
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


class OfflineStore:
    """The offline store of a workspace: parquet files written to and read from the artifact
    store by key, and the SQL over them (statistics, samples, compaction)."""

    def __init__(self, artifacts, cache_dir: Path) -> None:
        self.artifacts = artifacts
        self.files = LocalFiles(artifacts, cache_dir)
        self.engine = DuckDBEngine()

    def write(self, view: str, version: int, df, keys: list[str], kind: str) -> list[WrittenFile]:
        """Normalized rows as one parquet file per event date (see :func:`write_partitions`)."""
        return write_partitions(self.artifacts, view, version, df, keys, kind)

    def read(self, keys: list[str], columns: list[str]):
        """The ``columns`` of the files at artifact ``keys`` as one pandas DataFrame."""
        return read_offline_files(self.files.paths(keys), columns)

    def statistics(self, keys: list[str], join_keys: list[str], features) -> dict:
        """Rows, distinct entities and per-feature statistics (``features``: objects with
        ``name`` and ``dtype``): nulls, and min/max/mean/std for numbers or distinct values."""
        parts = [
            "count(*) AS n",
            f"count(DISTINCT ({', '.join(_quote(k) for k in join_keys)})) AS entities",
        ]
        for f in features:
            q = _quote(f.name)
            parts.append(f"count({q}) AS {_quote('c_' + f.name)}")
            if f.dtype in ("int64", "float64"):
                parts += [
                    f"min({q}) AS {_quote('min_' + f.name)}",
                    f"max({q}) AS {_quote('max_' + f.name)}",
                    f"avg({q}) AS {_quote('mean_' + f.name)}",
                    f"stddev_samp({q}) AS {_quote('std_' + f.name)}",
                ]
            else:
                parts.append(f"count(DISTINCT {q}) AS {_quote('distinct_' + f.name)}")
        row = self.engine.query_df(
            f"SELECT {', '.join(parts)} FROM read_parquet({self._sql_files(keys)})"
        ).iloc[0]
        n = int(row["n"])
        stats: dict[str, Any] = {"rows": n, "entities": int(row["entities"]), "features": {}}
        for f in features:
            entry: dict[str, Any] = {"dtype": f.dtype, "nulls": n - int(row["c_" + f.name])}
            if f.dtype in ("int64", "float64"):
                for k in ("min", "max", "mean", "std"):
                    value = row[f"{k}_{f.name}"]
                    entry[k] = None if value is None or value != value else float(value)
            else:
                entry["distinct"] = int(row["distinct_" + f.name])
            stats["features"][f.name] = entry
        return stats

    def newest_rows(
        self,
        keys: list[str],
        n: int,
        join_keys: list[str],
        event_column: str,
        feature_names: list[str],
    ):
        """The ``n`` newest rows (by event time, then created time) of the files, the event
        time renamed ``event_column`` (naive UTC)."""
        cols = ", ".join(
            [
                *(_quote(k) for k in join_keys),
                f"{_quote(EVENT_TS)} AS {_quote(event_column)}",
                *(_quote(f) for f in feature_names),
            ]
        )
        return self.engine.query_df(
            f"SELECT {cols} FROM read_parquet({self._sql_files(keys)}) ORDER BY "
            f"{_quote(EVENT_TS)} DESC, {_quote(CREATED_TS)} DESC LIMIT {int(n)}"
        )

    def merged(self, keys: list[str], join_keys: list[str]):
        """Every row of the files, keeping the newest created one per (entity, event time)."""
        part = ", ".join(_quote(k) for k in [*join_keys, EVENT_TS])
        return self.engine.query_df(
            f"SELECT * FROM read_parquet({self._sql_files(keys)}) QUALIFY row_number() OVER "
            f"(PARTITION BY {part} ORDER BY {_quote(CREATED_TS)} DESC) = 1"
        )

    def _sql_files(self, keys: list[str]) -> str:
        return _paths_sql(self.files.paths(keys))

    def close(self) -> None:
        self.engine.close()
