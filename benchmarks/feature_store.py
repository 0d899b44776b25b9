"""Feature store benchmark: training frames, online lookups and materialization.

Synthetic data with a fixed seed: 1,000,000 feature rows (10,000 entities over 30 days,
3 float features) and 100,000 entity rows, TTL 2 days. Everything on the store's side goes
through the public API a user calls (``jupyter_mlinfra.features``). In the same run:

- steady state: ``features.get_training_frame`` (point-in-time, TTL, one row per input row in
  input order) against baselines prepared as well as the store is (its copy is sorted once
  and kept in memory): pandas ``merge_asof`` on feature rows sorted once, and DuckDB's
  ``ASOF LEFT JOIN`` on a native table sorted once; a value-by-value equality check of the
  three results (0 mismatches expected); wall and CPU time, interleaved rounds;
- first frame from a new process: a fresh interpreter opens the workspace and makes one
  frame, against a fresh interpreter that reads the same parquet files itself and runs
  ``merge_asof``; wall, CPU and peak RSS of each process beside the raw data's size;
- online lookups through ``features.get_online_features`` (SQLite online store) for 1 and 100
  entities: median and p99;
- materialization of the 1,000,000 rows (transform, parquet partitions by day, online store);
- Feast, the tool a user would pick instead, in its own venv (``make bench-venvs``), driven by
  ``benchmarks/_feast_side.py`` as a subprocess on the same parquet files: prepared as well as
  ours (registry applied once, data in parquet once, both untimed), its offline
  ``get_historical_features`` with the file (Dask) and the DuckDB offline stores (same TTL,
  same entity rows; mismatches counted value by value against our frame) and its online
  ``get_online_features`` on SQLite after ``materialize`` (1 and 100 entities); wall, CPU and
  the ratios. Not interleaved with ours (another process), but in the same run.

Run: ``python benchmarks/feature_store.py [--quick]`` (``--quick``: a tenth of the sizes).
Event times are laid out backwards from the start of the current UTC day, so the online values
are inside the TTL; the values and their relative times are identical from run to run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _venvs
from _targets import verdict

SEED = 20240101
TTL = pd.Timedelta(days=2)


def make_data(n_entities: int, n_rows: int, n_entity_rows: int, days: int = 30):
    rng = np.random.default_rng(SEED)
    end = pd.Timestamp.now(tz="UTC").floor("D")
    start = end - pd.Timedelta(days=days)
    span_us = int(pd.Timedelta(days=days).total_seconds() * 1_000_000)
    features = pd.DataFrame(
        {
            "customer_id": rng.integers(0, n_entities, n_rows, dtype="int64"),
            "event_timestamp": start + pd.to_timedelta(rng.integers(0, span_us, n_rows), unit="us"),
            "f1": rng.normal(size=n_rows),
            "f2": rng.normal(size=n_rows),
            "f3": rng.normal(size=n_rows),
        }
    )
    # Entity rows: mostly known customers, 5% unknown ones, times from 2 days before the
    # data starts to its end (so some rows must come back null).
    ids = rng.integers(0, n_entities, n_entity_rows, dtype="int64")
    unknown = rng.random(n_entity_rows) < 0.05
    ids[unknown] = n_entities + rng.integers(0, 1000, unknown.sum())
    lo = start - pd.Timedelta(days=2)
    span2 = int((end - lo).total_seconds() * 1_000_000)
    entity_df = pd.DataFrame(
        {
            "customer_id": ids,
            "event_timestamp": lo
            + pd.to_timedelta(rng.integers(0, span2, n_entity_rows), unit="us"),
            "label": rng.integers(0, 2, n_entity_rows),
        }
    )
    return features, entity_df


def transform(df: pd.DataFrame) -> pd.DataFrame:
    return df[["customer_id", "event_timestamp", "f1", "f2", "f3"]]


def prepare_merge_asof(features: pd.DataFrame) -> pd.DataFrame:
    """merge_asof's right side, sorted once (as the store sorts its copy once)."""
    return features.sort_values("event_timestamp", kind="stable").reset_index(drop=True)


def baseline_merge_asof(right_sorted: pd.DataFrame, entity_df: pd.DataFrame) -> pd.DataFrame:
    left = entity_df.assign(_row=np.arange(len(entity_df))).sort_values("event_timestamp")
    merged = pd.merge_asof(
        left,
        right_sorted,
        on="event_timestamp",
        by="customer_id",
        tolerance=TTL,
        direction="backward",
        allow_exact_matches=True,
    )
    return merged.sort_values("_row").reset_index(drop=True)[["f1", "f2", "f3"]]


def prepare_duckdb(con, features: pd.DataFrame) -> None:
    """A native DuckDB table holding the feature rows, sorted once."""
    con.register("feat_df", features)
    con.execute(
        "CREATE OR REPLACE TABLE feat AS SELECT * FROM feat_df "
        "ORDER BY customer_id, event_timestamp"
    )
    con.unregister("feat_df")


def baseline_duckdb(con, entity_df: pd.DataFrame) -> pd.DataFrame:
    con.register("ent", entity_df.assign(_row=np.arange(len(entity_df))))
    ttl_us = int(TTL.total_seconds() * 1_000_000)
    sql = f"""
        SELECT e._row,
               CASE WHEN f.event_timestamp >= e.event_timestamp - to_microseconds({ttl_us})
                    THEN f.f1 END AS f1,
               CASE WHEN f.event_timestamp >= e.event_timestamp - to_microseconds({ttl_us})
                    THEN f.f2 END AS f2,
               CASE WHEN f.event_timestamp >= e.event_timestamp - to_microseconds({ttl_us})
                    THEN f.f3 END AS f3
        FROM ent e ASOF LEFT JOIN feat f
          ON e.customer_id = f.customer_id AND e.event_timestamp >= f.event_timestamp
        ORDER BY e._row"""
    out = con.execute(sql).df()[["f1", "f2", "f3"]]
    con.unregister("ent")
    return out


# A fresh process: the store's first frame, or merge_asof reading the same files itself.
FIRST_FRAME = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import pandas as pd
def status(key):   # kB from /proc/self/status (VmRSS now, VmHWM the peak)
    return int([l for l in open("/proc/self/status") if l.startswith(key)][0].split()[1])
entity = pd.read_parquet(sys.argv[2])
if sys.argv[1] == "store":
    from jupyter_mlinfra import features
    base = status("VmRSS")   # imports done, entity rows read: what follows is the frame's
    frame = features.get_training_frame(entity, ["spend:f1", "spend:f2", "spend:f3"])
else:
    import numpy as np
    files = json.loads(sys.argv[3])
    base = status("VmRSS")
    right = pd.concat([pd.read_parquet(f, columns=["customer_id", "_mlinfra_event_ts", "f1",
                                                   "f2", "f3"]) for f in files],
                      ignore_index=True)
    right["event_timestamp"] = right.pop("_mlinfra_event_ts").dt.tz_localize("UTC")
    right = right.sort_values("event_timestamp", kind="stable")
    left = entity.assign(_row=np.arange(len(entity))).sort_values("event_timestamp")
    frame = pd.merge_asof(left, right, on="event_timestamp", by="customer_id",
                          tolerance=pd.Timedelta(days=2), direction="backward")
    frame = frame.sort_values("_row")
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
# VmHWM: this process's own peak (ru_maxrss would include the forking parent's memory)
hwm = status("VmHWM")
print(json.dumps({"wall": wall, "cpu": cpu, "rss_mb": hwm / 1024, "frame_mb": (hwm - base) / 1024,
                  "rows": len(frame)}))
"""


def first_frame(kind: str, entity_path: Path, files: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME, kind, str(entity_path), json.dumps(files)],
        capture_output=True,
        text=True,
        env=os.environ,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def interleaved(fns, repeat: int):
    """Run each function once per round; (best wall, median wall, median CPU, last result)."""
    times = [[] for _ in fns]
    cpus = [[] for _ in fns]
    results = [None] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0, c0 = time.perf_counter(), time.process_time()
            results[i] = fn()
            times[i].append(time.perf_counter() - t0)
            cpus[i].append(time.process_time() - c0)
    return [
        (min(t), statistics.median(t), statistics.median(c), r)
        for t, c, r in zip(times, cpus, results)
    ]


def mismatches(a: pd.DataFrame, b: pd.DataFrame) -> int:
    x = a[["f1", "f2", "f3"]].to_numpy(dtype="float64")
    y = b[["f1", "f2", "f3"]].to_numpy(dtype="float64")
    if x.shape != y.shape:
        return max(x.size, y.size)
    same = (x == y) | (np.isnan(x) & np.isnan(y))
    return int((~same).sum())


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q))


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def compare_feast(work, source, entity_path, n_entities, args, store, online) -> None:
    """Feast, in its own venv, on the same parquet files: offline (file and DuckDB stores)
    and online (SQLite after ``materialize``); its frame compared value by value with ours."""
    print(f"\nFeast, same data and TTL, in its own venv ({_now()}; load average {_load()}):")
    missing = _venvs.unavailable("feast")
    if missing:
        print(f"  {missing}")
        return
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            str(_venvs.python("feast")),
            str(Path(__file__).resolve().parent / "_feast_side.py"),
            "--source",
            str(source),
            "--entity",
            str(entity_path),
            "--out-dir",
            str(work),
            "--repeat",
            str(args.feast_repeat),
            "--lookups",
            str(args.lookups),
            "--n-entities",
            str(n_entities),
        ],
        capture_output=True,
        text=True,
        cwd=work,
    )
    if proc.returncode != 0:
        print(f"  feast: failed: {proc.stderr.strip().splitlines()[-3:]}")
        return
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    s_min, s_med, s_cpu, store_frame = store
    print(
        f"  Feast {r['version']}; registry applied and data in parquet once, untimed; "
        f"{args.feast_repeat} calls each (whole Feast run {time.perf_counter() - t0:.0f} s; "
        f"load average now {_load()})"
    )
    print(
        f"  {'training frame (seconds)':52} {'best wall':>9} {'median':>7} {'CPU':>6}  "
        f"{'store/this wall':>15} {'CPU':>6}  mismatches"
    )
    print(
        f"  {'jupyter_mlinfra features.get_training_frame':52} {s_min:9.3f} {s_med:7.3f} "
        f"{s_cpu:6.3f}"
    )
    for kind, label in (("file", "file offline store"), ("duckdb", "DuckDB offline store")):
        o = r["offline"].get(kind, {"error": "not run"})
        name = f"Feast get_historical_features, {label}"
        if "error" in o:
            print(f"  {name:52} failed: {o['error']}")
            continue
        # aligned on the input row: a row Feast leaves out counts as 3 mismatched values
        frame = pd.read_parquet(o["frame"]).set_index("_row").reindex(range(len(store_frame)))
        bad = mismatches(store_frame, frame)
        lost = len(store_frame) - o["rows"]
        missing_rows = frame.index.difference(pd.read_parquet(o["frame"])["_row"])
        null_in_ours = int(store_frame["f1"].iloc[missing_rows].isna().sum())
        best, medw, cpu = (
            min(o["walls"]),
            statistics.median(o["walls"]),
            statistics.median(o["cpus"]),
        )
        print(
            f"  {name:52} {best:9.3f} {medw:7.3f} {cpu:6.3f}  {s_min / best:14.3f}x "
            f"{s_cpu / cpu:5.3f}x  {bad}"
            + (
                f" ({lost:,} input rows missing from Feast's frame; ours has {null_in_ours:,} "
                "of them null)"
                if lost
                else ""
            )
        )
    m = r["materialize"]
    print(f"  Feast materialize into SQLite: wall {m['wall']:.2f} s, CPU {m['cpu']:.2f} s")
    print(
        f"  {'online lookup (ms)':52} {'median':>9} {'p99':>7} {'mean CPU':>8}  "
        f"{'store/this median':>17} {'CPU':>6}"
    )
    for batch in (1, 100):
        med, p99, cpu = online[batch]
        f = r["online"][str(batch)]
        print(
            f"  {f'jupyter_mlinfra get_online_features, {batch} entit' + ('y' if batch == 1 else 'ies'):52} "
            f"{med * 1e3:9.3f} {p99 * 1e3:7.3f} {cpu * 1e3:8.3f}"
        )
        print(
            f"  {f'Feast get_online_features (SQLite), {batch} entit' + ('y' if batch == 1 else 'ies'):52} "
            f"{f['median'] * 1e3:9.3f} {f['p99'] * 1e3:7.3f} {f['cpu'] * 1e3:8.3f}  "
            f"{med / f['median']:16.3f}x {cpu / f['cpu']:5.3f}x  (last: {f['present']}/{batch} "
            "present)"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--lookups", type=int, default=3000)
    parser.add_argument("--feast-repeat", type=int, default=3)
    parser.add_argument(
        "--first-rounds", type=int, default=3, help="new processes per side for the first frame"
    )
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    n_entities, n_rows, n_entity_rows = 10_000 // scale, 1_000_000 // scale, 100_000 // scale

    work = Path(tempfile.mkdtemp(prefix="mlinfra-bench-features-"))
    os.environ["MLINFRA_HOME"] = str(work / "home")
    for name in ("MLINFRA_CATALOG_URL", "MLINFRA_ARTIFACT_ROOT", "MLINFRA_ONLINE_STORE_URL"):
        os.environ.pop(name, None)
    try:
        import duckdb

        from jupyter_mlinfra import features as fs
        from jupyter_mlinfra.core.workspace import get_workspace

        print(
            f"feature store benchmark: {n_rows:,} feature rows ({n_entities:,} entities, "
            f"30 days, 3 float features), {n_entity_rows:,} entity rows, TTL 2 days; "
            f"seed {SEED}; {os.cpu_count()} CPUs; {_now()}; load average {_load()}"
        )
        features, entity_df = make_data(n_entities, n_rows, n_entity_rows)
        source = work / "source.parquet"
        features.to_parquet(source, index=False)
        entity_path = work / "entity.parquet"
        entity_df.to_parquet(entity_path, index=False)
        raw_mb = (
            features.memory_usage(deep=True).sum() + entity_df.memory_usage(deep=True).sum()
        ) / 2**20

        fs.entity("customer", ["customer_id"])
        fs.register("spend", entities="customer", source=str(source), transform=transform, ttl="2d")
        t0 = time.perf_counter()
        report = fs.materialize("spend")
        t_mat = time.perf_counter() - t0
        print(
            f"\nmaterialization: {report['rows']:,} rows -> {report['files']} parquet "
            f"partitions + {report['online_rows']:,} online rows in {t_mat:.2f} s "
            f"({report['rows'] / t_mat:,.0f} rows/s)"
        )

        refs = ["spend:f1", "spend:f2", "spend:f3"]
        ws = get_workspace()
        files = [
            str(ws.artifacts.local_path(k)) for k in ws.artifacts.list("features/offline/spend/v1")
        ]
        # interleaved rounds (store, merge_asof, store, ...): medians of each figure
        firsts: dict[str, list[dict]] = {"store": [], "merge_asof": []}
        for _ in range(args.first_rounds):
            for kind in firsts:
                firsts[kind].append(first_frame(kind, entity_path, files))
        store_first, pandas_first = (
            {k: statistics.median(r[k] for r in firsts[kind]) for k in firsts[kind][0]}
            for kind in ("store", "merge_asof")
        )
        print(
            f"\nfirst training frame from a new process (interpreter start and imports "
            f"included; raw data {raw_mb:.0f} MB in memory; medians of {args.first_rounds} "
            "interleaved rounds):"
        )
        for label, r in (
            ("jupyter_mlinfra features.get_training_frame", store_first),
            ("pandas read_parquet + merge_asof       ", pandas_first),
        ):
            print(
                f"  {label}  wall {r['wall']:6.2f} s  CPU {r['cpu']:6.2f} s  "
                f"peak RSS {r['rss_mb']:5.0f} MB, of which after imports {r['frame_mb']:5.0f} MB"
            )
        first_ratio = store_first["wall"] / pandas_first["wall"]
        print(f"  first frame, ratio (wall) {first_ratio:6.2f}x  {verdict(first_ratio, 1.2, 'x')}")
        mem = store_first["frame_mb"] / raw_mb
        print(
            f"  first frame, peak memory after imports {mem:.2f}x the raw data "
            f"({raw_mb:.0f} MB; merge_asof's {pandas_first['frame_mb'] / raw_mb:.2f}x)  "
            f"{verdict(mem, 1.5, 'x')}"
        )

        fs.get_training_frame(entity_df, refs)  # this process's first frame builds its copy
        con = duckdb.connect()
        right_sorted = prepare_merge_asof(features)
        prepare_duckdb(con, features)
        # Interleaved rounds (store, merge_asof, DuckDB, store, ...): the three see the same
        # machine load.
        (
            (s_min, s_med, s_cpu, store_frame),
            (m_min, m_med, m_cpu, pandas_frame),
            (d_min, d_med, d_cpu, duck_frame),
        ) = interleaved(
            [
                lambda: fs.get_training_frame(entity_df, refs),
                lambda: baseline_merge_asof(right_sorted, entity_df),
                lambda: baseline_duckdb(con, entity_df),
            ],
            args.repeat,
        )
        bad_pandas = mismatches(store_frame, pandas_frame)
        bad_duck = mismatches(store_frame, duck_frame)
        nulls = int(store_frame["f1"].isna().sum())
        print(
            f"\ntraining frame, steady state ({n_entity_rows:,} entity rows; best of "
            f"{args.repeat} wall, medians in brackets; load average {_load()}):"
        )
        print(
            f"  jupyter_mlinfra get_training_frame        {s_min:7.3f} s  "
            f"(wall {s_med:.3f}, CPU {s_cpu:.3f})"
        )
        print(
            f"  pandas merge_asof, features sorted once   {m_min:7.3f} s  "
            f"(wall {m_med:.3f}, CPU {m_cpu:.3f})"
        )
        print(
            f"  DuckDB ASOF join, native table sorted once {d_min:6.3f} s  "
            f"(wall {d_med:.3f}, CPU {d_cpu:.3f})"
        )
        print(
            f"  steady frame, ratio to merge_asof {s_min / m_min:5.2f}x (best wall) "
            f"{verdict(s_min / m_min, 1.2, 'x')}; CPU {s_cpu / m_cpu:.2f}x"
        )
        print(
            f"  steady frame, ratio to DuckDB {s_min / d_min:5.2f}x (best wall) "
            f"{verdict(s_min / d_min, 1.2, 'x')}; CPU {s_cpu / d_cpu:.2f}x"
        )
        print(
            f"  rows out {len(store_frame):,} (in {n_entity_rows:,}), input order kept: "
            f"{bool((store_frame.index == entity_df.index).all())}, null rows {nulls:,}"
        )
        print(
            f"  value mismatches vs merge_asof: {bad_pandas}, vs DuckDB: {bad_duck} "
            f"{verdict(bad_pandas + bad_duck, 0)}"
        )

        rng = np.random.default_rng(SEED + 1)
        ours_online = {}
        for batch in (1, 100):
            times, cpu = [], 0.0
            for _ in range(args.lookups):
                rows = [{"customer_id": int(i)} for i in rng.integers(0, n_entities, batch)]
                t0, c0 = time.perf_counter(), time.process_time()
                result = fs.get_online_features(refs, rows)
                times.append(time.perf_counter() - t0)
                cpu += time.process_time() - c0
            cpu /= args.lookups
            ours_online[batch] = (statistics.median(times), percentile(times, 99), cpu)
            present = sum(s["f1"] == "present" for s in result.status)
            print(
                f"\nonline lookup through features.get_online_features, {batch:>3} "
                f"entit{'y' if batch == 1 else 'ies'} (SQLite, {args.lookups} lookups): "
                f"median {statistics.median(times) * 1e3:.3f} ms, "
                f"p99 {percentile(times, 99) * 1e3:.3f} ms, mean CPU {cpu * 1e3:.3f} ms  "
                f"{verdict(statistics.median(times) * 1e3, 0.05 if batch == 1 else 0.5, ' ms')}"
                f" (last: {present}/{batch} present)"
            )
        compare_feast(
            work,
            source,
            entity_path,
            n_entities,
            args,
            store=(s_min, s_med, s_cpu, store_frame),
            online=ours_online,
        )
        ok = bad_pandas == 0 and bad_duck == 0 and len(store_frame) == n_entity_rows
        print(f"\nequality check: {'PASS' if ok else 'FAIL'}")
        ws.close()
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
