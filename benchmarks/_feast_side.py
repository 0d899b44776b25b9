"""Feast's side of ``benchmarks/feature_store.py``: run by the interpreter of Feast's own venv
(``benchmarks/.venvs/feast``, made by ``make bench-venvs``), never imported by our package.

Given the same parquet files the store reads (feature rows, entity rows) it prepares Feast as
a user would, once and untimed: a feature repository (entity ``customer``, feature view
``spend`` with the same 2-day TTL over a ``FileSource`` of the parquet file) applied to its
registry, for the file offline store and the DuckDB offline store, with the SQLite online
store. Then, timed (wall and this process's CPU, every thread):

- ``get_historical_features(entity_df, ["spend:f1", "spend:f2", "spend:f3"]).to_df()`` for
  each offline store, ``--repeat`` times; the last frame (in the input's row order) is written
  to ``--out-<store>`` for a value-by-value comparison by the caller;
- ``materialize`` of the whole range into SQLite (once);
- ``get_online_features`` for 1 and 100 random known entities, ``--lookups`` times each.

Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd


def timed(fn, repeat: int):
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return walls, cpus, out


def make_store(repo: Path, source: str, offline: str):
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.repo_config import RepoConfig
    from feast.types import Float64

    repo.mkdir(parents=True, exist_ok=True)
    if offline == "duckdb":
        from feast.infra.offline_stores.duckdb import DuckDBOfflineStoreConfig

        offline_config = DuckDBOfflineStoreConfig()
    else:
        try:  # the "file" offline store: Dask-based since Feast 0.38
            from feast.infra.offline_stores.dask import DaskOfflineStoreConfig as FileConfig
        except ImportError:
            from feast.infra.offline_stores.file import FileOfflineStoreConfig as FileConfig

        offline_config = FileConfig()
    from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig

    config = RepoConfig(
        project="bench",
        provider="local",
        registry=str(repo / "registry.db"),
        online_store=SqliteOnlineStoreConfig(path=str(repo / "online.db")),
        offline_store=offline_config,
        entity_key_serialization_version=3,
        repo_path=str(repo),
    )
    store = FeatureStore(config=config)
    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)
    view = FeatureView(
        name="spend",
        entities=[customer],
        ttl=timedelta(days=2),
        schema=[Field(name=f, dtype=Float64) for f in ("f1", "f2", "f3")],
        source=FileSource(path=source, timestamp_field="event_timestamp"),
        online=True,
    )
    store.apply([customer, view])
    return store


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--entity", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--n-entities", type=int, required=True)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import logging

    logging.disable(logging.WARNING)
    import feast

    refs = ["spend:f1", "spend:f2", "spend:f3"]
    entity_df = pd.read_parquet(args.entity)
    entity_df["_row"] = np.arange(len(entity_df))
    work = Path(tempfile.mkdtemp(prefix="feast-bench-", dir=args.out_dir))
    result: dict = {"version": feast.__version__, "offline": {}, "online": {}}
    stores = {}
    for offline in ("file", "duckdb"):
        stores[offline] = store = make_store(work / offline, args.source, offline)
        try:
            walls, cpus, frame = timed(
                lambda store=store: store.get_historical_features(
                    entity_df=entity_df, features=refs
                ).to_df(),
                args.repeat,
            )
        except Exception as exc:  # reported beside the others, not hidden
            result["offline"][offline] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        frame = frame.sort_values("_row").reset_index(drop=True)
        out = Path(args.out_dir) / f"feast_{offline}.parquet"
        frame[["_row", "f1", "f2", "f3"]].to_parquet(out, index=False)
        result["offline"][offline] = {
            "walls": walls,
            "cpus": cpus,
            "rows": len(frame),
            "frame": str(out),
        }

    store = stores["duckdb"]
    src = pd.read_parquet(args.source, columns=["event_timestamp"])
    start = src["event_timestamp"].min().to_pydatetime() - timedelta(seconds=1)
    end = src["event_timestamp"].max().to_pydatetime() + timedelta(seconds=1)
    t0, c0 = time.perf_counter(), time.process_time()
    store.materialize(start_date=start, end_date=end)
    result["materialize"] = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}

    rng = np.random.default_rng(20240102)
    for batch in (1, 100):
        store.get_online_features(features=refs, entity_rows=[{"customer_id": 0}]).to_dict()
        walls, cpu = [], 0.0
        for _ in range(args.lookups):
            rows = [{"customer_id": int(i)} for i in rng.integers(0, args.n_entities, batch)]
            t0, c0 = time.perf_counter(), time.process_time()
            got = store.get_online_features(features=refs, entity_rows=rows).to_dict()
            walls.append(time.perf_counter() - t0)
            cpu += time.process_time() - c0
        cpu /= args.lookups
        present = sum(v is not None for v in got["f1"])
        result["online"][str(batch)] = {
            "median": statistics.median(walls),
            "p99": float(np.percentile(walls, 99)),
            "cpu": cpu,
            "present": present,
        }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
