"""Public calls made in loops: what each costs beyond the engine underneath it.

Every timed call goes through the public API a user (or a job notebook) calls, in a throwaway
``MLINFRA_HOME`` (SQLite catalog and online store, local artifacts). Beside each, the engine
doing the same work by hand in the same process, timed in the same rounds (interleaved: call,
engine, call, ...), so the overhead of the public path shows as a difference and a ratio.

- ``features.get_online_features`` for 1 and 100 random entities of one small view (3 float
  features), with 10,000, 100,000 and 1,000,000 entities materialized (each size in a store of
  its own, filled by ``features.materialize``, whose time is printed). "cold": entities never
  looked up before in this process (the store's decoded read cache cannot answer, SQLite
  must); "warm": the same 1,000 entities looked up again (answered from the read cache).
  Engine: the same ``SELECT ... WHERE view, version, entity_key [IN (...)]`` on a raw
  ``sqlite3`` connection to the same file (memory-mapped, as the store's), payloads decoded
  with ``json.loads``;
- ``jobs.log_metric(name, value, step)`` inside a run (``MLINFRA_RUN_ID`` set, as the runner
  sets it in a job's kernel) against a raw ``sqlite3`` INSERT of the same row into the
  catalog's metrics table, one transaction per row, with the catalog's own settings (WAL,
  ``synchronous=NORMAL``, foreign keys on); outside a run (printed, not stored) against a
  ``print`` of the same line to the same sink;
- ``models.load(ref)`` of a small scikit-learn model already loaded in this process, by
  version (``"name:1"``) and by alias (``"name@prod"``); each call hands out its own model
  object (a copy of the one kept), so the engine is what a user would do by hand to get a
  model object of their own in a loop: ``joblib.load`` of the model saved once to a local
  file; ``models.get(ref)`` (the reference resolved, nothing loaded) shown beside it.

Medians and p99 of wall time per call, mean CPU per call (``time.process_time``).
Targets (issue #13 item 1): one-entity lookup <= 0.05 ms median and 100 entities <= 0.5 ms
median at every size; flat in the number of entities materialized (median at 1,000,000 <=
1.25x the median at 10,000); for ``log_metric`` and ``models.load`` of a loaded model, <= 0.05
ms median of overhead beyond the engine (also stated for the cold lookups).

Run: ``python benchmarks/public_calls.py [--quick]`` (``--quick``: 10,000 and 100,000
entities only, fewer calls). The whole run takes about 1-2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _targets import verdict

SEED = 20241202
OVERHEAD_BUDGET_MS = 0.05
ONLINE_TARGET_MS = {1: 0.05, 100: 0.5}
FLAT_TARGET = 1.25
REFS = ["spend:f1", "spend:f2", "spend:f3"]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


class Timing:
    """Wall times of each call and the CPU time of all of them."""

    def __init__(self) -> None:
        self.walls: list[float] = []
        self.cpu = 0.0

    def time(self, fn, *args):
        c0 = time.process_time()
        t0 = time.perf_counter()
        result = fn(*args)
        self.walls.append(time.perf_counter() - t0)
        self.cpu += time.process_time() - c0
        return result

    @property
    def median_ms(self) -> float:
        return statistics.median(self.walls) * 1e3

    @property
    def p99_ms(self) -> float:
        return float(np.percentile(np.asarray(self.walls), 99)) * 1e3

    @property
    def cpu_ms(self) -> float:
        return self.cpu / len(self.walls) * 1e3


def row(label: str, t: Timing) -> str:
    return f"  {label:58} {t.median_ms:9.4f} {t.p99_ms:9.4f} {t.cpu_ms:9.4f}"


HEADER = f"  {'(ms per call)':58} {'median':>9} {'p99':>9} {'mean CPU':>9}"


def overhead_line(label: str, ours: Timing, engine: Timing) -> str:
    over = ours.median_ms - engine.median_ms
    ratio = ours.median_ms / engine.median_ms if engine.median_ms > 0 else float("inf")
    return f"  {label}: overhead {over:.4f} ms median ({ratio:.1f}x the engine) " + verdict(
        over, OVERHEAD_BUDGET_MS, " ms"
    )


# -- online lookups -------------------------------------------------------------------------


def materialize_view(home: Path, n_entities: int) -> tuple[float, float]:
    """A fresh store of its own at ``home`` with ``n_entities`` entities (one row each, inside
    the TTL), filled through the public API; (wall, CPU) of ``features.materialize``."""
    from jupyter_mlinfra import features as fs

    os.environ["MLINFRA_HOME"] = str(home)  # the next public call opens this workspace
    rng = np.random.default_rng(SEED)
    end = pd.Timestamp.now(tz="UTC").floor("s")
    source = home.parent / f"source-{n_entities}.parquet"
    pd.DataFrame(
        {
            "customer_id": np.arange(n_entities, dtype="int64"),
            "event_timestamp": end
            - pd.to_timedelta(rng.integers(60, 86_400, n_entities), unit="s"),
            "f1": rng.normal(size=n_entities),
            "f2": rng.normal(size=n_entities),
            "f3": rng.normal(size=n_entities),
        }
    ).to_parquet(source, index=False)
    fs.entity("customer", ["customer_id"])
    fs.register("spend", entities="customer", source=str(source), ttl="2d")
    c0, t0 = time.process_time(), time.perf_counter()
    report = fs.materialize("spend")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert report["online_rows"] == n_entities, report
    return wall, cpu


class RawOnline:
    """The engine under ``get_online_features``: the store's SELECT on a raw connection."""

    def __init__(self, path: Path, version: int) -> None:
        self.conn = sqlite3.connect(str(path), isolation_level=None, cached_statements=512)
        self.conn.execute("PRAGMA mmap_size=268435456")  # as the store reads its file
        self.version = version
        self.one = (
            "SELECT entity_key, event_ts, created_ts, payload FROM mlinfra_online_features "
            "WHERE view = ? AND version = ? AND entity_key = ?"
        )
        self.many: dict[int, str] = {}

    def lookup(self, ids: list[int]) -> dict:
        n = len(ids)
        if n == 1:
            sql = self.one
        else:
            sql = self.many.get(n) or self.many.setdefault(
                n,
                "SELECT entity_key, event_ts, created_ts, payload FROM mlinfra_online_features "
                f"WHERE view = ? AND version = ? AND entity_key IN ({','.join('?' * n)})",
            )
        rows = self.conn.execute(sql, ("spend", self.version, *map(str, ids))).fetchall()
        return {r[0]: json.loads(r[3]) for r in rows}


def bench_online(work: Path, sizes: list[int], calls: int) -> list[str]:
    from jupyter_mlinfra import features as fs

    targets: list[str] = []
    overheads: list[str] = []
    medians: dict[tuple[int, int], float] = {}
    for n in sizes:
        home = work / f"home-online-{n}"
        home.mkdir(parents=True)
        wall, cpu = materialize_view(home, n)
        version = fs.describe("spend")["version"]
        raw = RawOnline(home / "online_features.db", version)
        print(
            f"\n{n:,} entities materialized (features.materialize: wall {wall:.2f} s, CPU "
            f"{cpu:.2f} s; {n / wall:,.0f} rows/s); {_now()}, load average {_load()}"
        )
        print(HEADER)
        rng = np.random.default_rng(SEED + n)
        order = rng.permutation(n)  # cold: every lookup takes entities not seen before
        fs.get_online_features(REFS, [{"customer_id": n - 1}])  # plan resolved, store opened
        used = 1
        for batch in (1, 100):
            k = min(calls, (n - used) // batch)
            ours, engine = Timing(), Timing()
            present = 0
            for i in range(k):
                ids = [int(x) for x in order[used + i * batch : used + (i + 1) * batch]]
                rows = [{"customer_id": x} for x in ids]
                res = ours.time(fs.get_online_features, REFS, rows)
                engine.time(raw.lookup, ids)
                present += sum(s["f1"] == "present" for s in res.status)
            used += k * batch
            assert present == k * batch, (present, k * batch)
            noun = "entity" if batch == 1 else "entities"
            print(row(f"get_online_features, {batch} {noun}, cold ({k} calls)", ours))
            print(row(f"  raw sqlite3 SELECT + json.loads, {batch} {noun}", engine))
            medians[(n, batch)] = ours.median_ms
            overheads.append(
                overhead_line(
                    f"get_online_features, {batch:>3} {noun:8}, {n:>9,} materialized, cold",
                    ours,
                    engine,
                )
            )
            targets.append(
                f"  get_online_features, {batch:>3} {noun:8}, {n:>9,} materialized, cold: "
                f"median {ours.median_ms:.4f} ms "
                + verdict(ours.median_ms, ONLINE_TARGET_MS[batch], " ms")
            )
            warm_ids = [int(x) for x in order[:1000]]
            for x in warm_ids:  # every one of them in the read cache
                fs.get_online_features(REFS, [{"customer_id": x}])
            warm = Timing()
            for _ in range(calls):
                ids = [warm_ids[j] for j in rng.integers(0, len(warm_ids), batch)]
                warm.time(fs.get_online_features, REFS, [{"customer_id": x} for x in ids])
            print(row(f"get_online_features, {batch} {noun}, warm ({calls} calls)", warm))
            targets.append(
                f"  get_online_features, {batch:>3} {noun:8}, {n:>9,} materialized, warm: "
                f"median {warm.median_ms:.4f} ms "
                + verdict(warm.median_ms, ONLINE_TARGET_MS[batch], " ms")
            )
        raw.conn.close()
    lo, hi = min(sizes), max(sizes)
    for batch in (1, 100):
        ratio = medians[(hi, batch)] / medians[(lo, batch)]
        targets.append(
            f"  flatness, {batch:>3} entit{'y' if batch == 1 else 'ies'}: cold median at "
            f"{hi:,} / at {lo:,} = {ratio:.2f}x " + verdict(ratio, FLAT_TARGET, "x")
        )
    return targets + overheads


# -- log_metric -----------------------------------------------------------------------------


def raw_catalog(url: str) -> sqlite3.Connection:
    path = url.split(":///", 1)[1]
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def bench_log_metric(work: Path, calls: int) -> list[str]:
    import nbformat

    from jupyter_mlinfra import jobs
    from jupyter_mlinfra.core.workspace import get_workspace

    home = work / "home-calls"
    os.environ["MLINFRA_HOME"] = str(home)
    nb = work / "train.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), nb)
    run = jobs.run(nb.name)  # submitted, not executed: the run a job's kernel would log to
    url = get_workspace().config.settings.resolved_catalog_url()
    raw = raw_catalog(url)
    insert = (
        "INSERT INTO mlinfra_run_metrics (run_id, name, value, step, logged_at) "
        "VALUES (?, ?, ?, ?, ?)"
    )

    def raw_insert(step: int) -> None:
        now = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
        raw.execute(insert, (run["id"], "loss", 0.5, step, now))

    targets: list[str] = []
    print(f"\njobs.log_metric ({_now()}, load average {_load()}):")
    print(HEADER)
    os.environ["MLINFRA_RUN_ID"] = run["id"]
    try:
        jobs.log_metric("loss", 1.0, 0)
        ours, engine = Timing(), Timing()
        for i in range(calls):
            ours.time(jobs.log_metric, "loss", 0.5, i)
            engine.time(raw_insert, i)
        stored = raw.execute(
            "SELECT count(*) FROM mlinfra_run_metrics WHERE run_id = ?", (run["id"],)
        ).fetchone()[0]
        assert stored == 2 * calls + 1, stored
        print(row(f"log_metric inside a run (SQLite catalog, {calls} calls)", ours))
        print(row("  raw sqlite3 INSERT of the same row, one transaction each", engine))
        targets.append(overhead_line("log_metric inside a run", ours, engine))
    finally:
        os.environ.pop("MLINFRA_RUN_ID", None)

    ours, engine = Timing(), Timing()
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        for i in range(calls):
            ours.time(jobs.log_metric, "loss", 0.5, i)
            engine.time(print, "[jupyter_mlinfra] metric loss = 0.5 (not in a job run: not stored)")
    print(row(f"log_metric outside a run (printed, not stored; {calls} calls)", ours))
    print(row("  print of the same line to the same sink", engine))
    targets.append(overhead_line("log_metric outside a run", ours, engine))
    raw.close()
    return targets


# -- models.load ----------------------------------------------------------------------------


def bench_models_load(calls: int) -> list[str]:
    import joblib
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlinfra import models

    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(200, 3))
    clf = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    models.register("churn", clf, input_example=X[:5], alias="prod")
    for ref in ("churn:1", "churn@prod"):  # loaded before the loop (the second load is kept)
        models.load(ref)
    local = Path(tempfile.mkdtemp(prefix="mlinfra-bench-model-")) / "churn.joblib"
    joblib.dump(clf, local)  # the by-hand way: saved once, loaded from the local file
    targets: list[str] = []
    print(
        f"\nmodels.load of a model already loaded in this process ({_now()}, load average "
        f"{_load()}):"
    )
    print(HEADER)
    for ref in ("churn:1", "churn@prod"):
        ours, resolve, engine = Timing(), Timing(), Timing()
        for _ in range(calls):
            loaded = ours.time(models.load, ref)
            resolve.time(models.get, ref)
            engine.time(joblib.load, local)
        assert loaded.predict(X[:2]).tolist() == clf.predict(X[:2]).tolist()
        print(row(f'models.load("{ref}") ({calls} calls)', ours))
        print(row(f'  models.get("{ref}") (resolved only, nothing loaded)', resolve))
        print(row("  joblib.load of the model from a local file", engine))
        targets.append(overhead_line(f'models.load("{ref}") of a loaded model', ours, engine))
    return targets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k entities, fewer calls")
    parser.add_argument("--calls", type=int, default=None, help="calls per measurement")
    args = parser.parse_args(argv)
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    calls = args.calls or (500 if args.quick else 2000)

    work = Path(tempfile.mkdtemp(prefix="mlinfra-bench-calls-"))
    for name in (
        "MLINFRA_CATALOG_URL",
        "MLINFRA_ARTIFACT_ROOT",
        "MLINFRA_ONLINE_STORE_URL",
        "MLINFRA_RUN_ID",
        "MLINFRA_SERVICE_URL",
    ):
        os.environ.pop(name, None)
    cwd = os.getcwd()
    os.chdir(work)  # the notebook a run is submitted for is under the root (the cwd)
    try:
        print(
            f"public calls in loops: {os.cpu_count()} CPUs; {_now()}; load average {_load()}; "
            f"{calls} calls per measurement, interleaved with the engine's"
        )
        targets = bench_online(work, sizes, calls)
        targets += bench_log_metric(work, calls)
        targets += bench_models_load(max(calls // 4, 100))
        print(f"\ntargets ({_now()}, load average {_load()}):")
        for line in targets:
            print(line)
        from jupyter_mlinfra.core.workspace import get_workspace

        get_workspace().close()
        return 0
    finally:
        os.chdir(cwd)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
