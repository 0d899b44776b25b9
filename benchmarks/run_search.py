"""Run search benchmark: ``GET /mlinfra/api/runs`` filters at 100,000 runs.

100,000 synthetic runs (fixed seed) are written straight into a fresh catalog with bulk
inserts (runs, their tag and parameter rows: what submitting would write, without executing
anything): 20 owners (80 % of runs public, the rest private: the reader's visibility filter is
in every query), 50 jobs, 500 sweeps of 20 runs, 30 tags (0-3 a run), 4 parameters, 8 states,
creation times over 200 days, an environment of ~4.6 kB (200 packages) and ~300 characters of
cell text a run. Then, through the public path (``jupyter_mlinfra.jobs.runs_page``, which is
``JobsService.list_runs``, what the REST handler calls), each filter alone and some combined:
the first page of 50, a deep page by cursor (half-way through the matching runs, or 25,000
deep when more than the counted 1,000 match) and, for
comparison, the same deep page by offset; median of repeated calls, in ms, and the size of a
page as JSON.

Then the other lists at 10,000 each (``--items``): jobs, models (one to three versions
each: the model versions list), and feature views, each with tags, owners and text; through
their public paths (``JobsService.list_jobs_page``, ``ModelStore.list_models_page``,
``search_page``, ``FeatureService.list_views_page``, what the REST handlers call), the
first page and a page half-way deep by cursor, each filter alone and combined, against the
target (<= 50 ms a page of 50, flat in depth).

Run: ``python benchmarks/run_search.py [--runs N] [--items N] [--repeat R] [--catalog URL]``
(default SQLite in a temporary folder; ``--catalog postgresql+psycopg://...`` for an empty
PostgreSQL database).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

SEED = 20260301
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
STATES = ["succeeded"] * 6 + ["failed", "cancelled", "queued", "running", "timed_out"]
WORDS = "loss accuracy epoch batch train eval model data step rate value score".split()


def generate(n: int, rng: random.Random, job_ids: list[str]):
    env = {
        "python": "3.11.7",
        "packages": [f"package-{k:03d}==1.{k % 10}.{k % 7}" for k in range(200)],
    }
    tags = [f"tag{k:02d}" for k in range(30)]
    span = 200 * 24 * 3600
    for i in range(n):
        run_id = uuid.uuid4().hex
        sweep = f"sweep{(i // 20):03d}" if i < 10_000 else None
        params = {
            "lr": rng.choice([0.1, 0.03, 0.01, 0.003, 0.001]),
            "depth": rng.randint(1, 8),
            "seed": rng.randint(0, 999),
            "optimizer": rng.choice(["adam", "sgd"]),
        }
        text = " ".join(rng.choice(WORDS) for _ in range(45))
        if rng.random() < 0.005:
            text += " needle"
        owner = f"user{rng.randrange(20):02d}"
        yield {
            "id": run_id,
            "job_id": rng.choice(job_ids) if rng.random() < 0.6 else None,
            "owner": owner,
            "notebook": f"projects/p{rng.randrange(40)}/train.ipynb",
            "cwd": "/",
            "snapshot_key": f"runs/{run_id}/input.ipynb",
            "parameters": params,
            "state": rng.choice(STATES),
            "trigger": "sweep" if sweep else "manual",
            "priority": 0,
            "cpus": 1.0,
            "memory_mb": 0,
            "retries": 0,
            "retry_backoff": 30.0,
            "tags": rng.sample(tags, rng.randint(0, 3)),
            "attempt": 1,
            "sweep_id": sweep,
            "upstream_run_ids": [],
            "created_at": T0 + timedelta(seconds=rng.randrange(span)),
            "cancel_requested": False,
            "progress": {},
            "history": [],
            "environment": env,
            "output_text": text,
            "visibility": "public" if rng.random() < 0.8 else "private",
            "team": "",
        }


def populate(ws, n: int) -> dict:
    from sqlalchemy import insert

    from jupyter_mlinfra.core.jobs.tables import JobDefinition, Run, RunParam, RunTag, search_rows

    rng = random.Random(SEED)
    now = datetime.now(timezone.utc)
    jobs = [
        {
            "id": uuid.uuid4().hex,
            "owner": "user00",
            "name": f"job{k:02d}",
            "notebook": "train.ipynb",
            "root_dir": "/",
            "created_at": now,
            "updated_at": now,
        }
        for k in range(50)
    ]
    started = time.perf_counter()
    with ws.catalog.session() as s:
        conn = s.connection()
        conn.execute(insert(JobDefinition.__table__), jobs)
        batch: list[dict] = []
        for row in generate(n, rng, [j["id"] for j in jobs]):
            batch.append(row)
            if len(batch) == 5000:
                _flush(conn, batch, insert, Run, RunTag, RunParam, search_rows)
                batch = []
        if batch:
            _flush(conn, batch, insert, Run, RunTag, RunParam, search_rows)
    return {"seconds": time.perf_counter() - started, "job": jobs[7]["name"]}


def _flush(conn, batch, insert, Run, RunTag, RunParam, search_rows) -> None:
    conn.execute(insert(Run.__table__), batch)
    tags, params = [], []
    for row in batch:
        t, p = search_rows(row["id"], row["created_at"], row["tags"], row["parameters"])
        tags += t
        params += p
    conn.execute(insert(RunTag.__table__), tags)
    conn.execute(insert(RunParam.__table__), params)


CPU: dict[str, float] = {}  # the last median_ms's process CPU (median, ms)


def median_ms(fn, repeat: int) -> tuple[float, object]:
    """Median wall time of ``fn`` in ms, and its last answer; the median CPU time of this
    process is left in CPU["last"] (SQLite works in this process; PostgreSQL's server CPU is
    not in it)."""
    fn()  # warm (statement cache, pages)
    times, cpus, out = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
        cpus.append((time.process_time() - c) * 1000)
    CPU["last"] = statistics.median(cpus)
    return statistics.median(times), out


TARGET_MS = 50.0
LABELS = [f"label{k:02d}" for k in range(20)]
TEXT = "churn fraud risk daily hourly customer merchant card spend score".split()


def populate_lists(ws, n: int, rng: random.Random) -> None:
    """``n`` jobs, ``n`` models (1-3 versions each, tags on both, a metric) and ``n`` feature
    views (a version each), bulk-inserted as registering them would write them (with the
    views' search text)."""
    from sqlalchemy import insert

    from jupyter_mlinfra.core.features.tables import (
        FeatureViewRecord,
        FeatureViewVersionRecord,
        search_text,
    )
    from jupyter_mlinfra.core.jobs.tables import JobDefinition
    from jupyter_mlinfra.core.models.tables import ModelMetric, ModelVersionRecord, RegisteredModel

    now = datetime.now(timezone.utc)
    jobs, models, versions, metrics, views, view_versions = [], [], [], [], [], []
    for i in range(n):
        owner = f"user{rng.randrange(20):02d}"
        words = " ".join(rng.sample(TEXT, 3))
        jobs.append(
            {
                "id": uuid.uuid4().hex,
                "owner": owner,
                "name": f"job-{i:05d}",
                "description": f"{words} pipeline {i}",
                "notebook": f"projects/p{rng.randrange(40)}/train.ipynb",
                "root_dir": "/",
                "parameters": {"lr": {"default": 0.1}, "depth": {"default": 3}},
                "tags": rng.sample(LABELS, rng.randint(0, 3)),
                "active": rng.random() < 0.9,
                "created_at": now,
                "updated_at": now,
            }
        )
        name = f"model-{i:05d}-{rng.choice(TEXT)}"
        model_tags = {"team": rng.choice(["risk", "growth", "ops"])}
        count = rng.randint(1, 3)
        models.append(
            {
                "name": name,
                "owner": owner,
                "description": words,
                "tags": model_tags,
                "last_version": count,
                "created_at": now,
                "updated_at": now,
            }
        )
        for v in range(1, count + 1):
            vid = uuid.uuid4().hex
            auc = round(rng.random(), 3)
            versions.append(
                {
                    "id": vid,
                    "model_name": name,
                    "version": v,
                    "owner": owner,
                    "status": "ready" if rng.random() < 0.9 else "archived",
                    "description": "",
                    "tags": {"stage": rng.choice(["dev", "prod"])} if rng.random() < 0.5 else {},
                    "flavor": "sklearn",
                    "definition": {"module": "sklearn.linear_model", "class": "Ridge"},
                    "signature": {
                        "inputs": [{"name": f"x{k}", "type": "double"} for k in range(20)]
                    },
                    # what a list row leaves out (the detail has it)
                    "dependencies": {"packages": [f"package-{k:03d}==1.0" for k in range(200)]},
                    "data": [],
                    "code": {},
                    "metrics": {"auc": auc},
                    "artifacts": [],
                    "clean": True,
                    "dirty_reasons": [],
                    "created_at": T0 + timedelta(seconds=rng.randrange(200 * 86400)),
                }
            )
            metrics.append({"version_id": vid, "key": "auc", "value": auc})
        view = f"view_{i:05d}_{rng.choice(TEXT)}"
        entities = rng.sample(["customer", "merchant", "card", "device"], rng.randint(1, 2))
        views.append(
            {
                "name": view,
                "owner": owner,
                "team": "",
                "visibility": "public" if rng.random() < 0.8 else "private",
                "description": words,
                "tags": json.dumps(rng.sample(LABELS, rng.randint(0, 3))),
                "latest_version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        view_versions.append(
            {
                "view_name": view,
                "version": 1,
                "fingerprint": "f",
                "entities": json.dumps(entities),
                "join_keys": json.dumps({f"{e}_id": "int64" for e in entities}),
                "features": json.dumps(
                    [{"name": f"{rng.choice(TEXT)}_{k}", "dtype": "float64"} for k in range(8)]
                ),
                "event_timestamp_column": "ts",
                "source_kind": "dataframe",
                "created_by": owner,
                "created_at": now,
            }
        )
    # what the write paths add: the views' search text
    for view_row, version_row in zip(views, view_versions, strict=True):
        view_row["search_text"] = search_text(
            view_row["name"],
            view_row["description"],
            view_row["tags"],
            version_row["features"],
            version_row["entities"],
        )
    with ws.catalog.session() as s:
        conn = s.connection()
        for table, rows in [
            (JobDefinition, jobs),
            (RegisteredModel, models),
            (ModelVersionRecord, versions),
            (ModelMetric, metrics),
            (FeatureViewRecord, views),
            (FeatureViewVersionRecord, view_versions),
        ]:
            for k in range(0, len(rows), 5000):
                conn.execute(insert(table.__table__), rows[k : k + 5000])


def bench_lists(ws, n: int, repeat: int, only: list[str] | None = None) -> list[dict]:
    """Each list's filters alone and combined: first page, and a page half-way by cursor
    (``only``: just these lists)."""
    from sqlalchemy import text

    rng = random.Random(SEED + 1)
    started = time.perf_counter()
    populate_lists(ws, n, rng)
    with ws.catalog.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    print(
        f"\n{n:,} jobs, models and feature views bulk-inserted in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    jobs, models, features = ws.service("jobs"), ws.service("models"), ws.service("features")
    cases = [
        ("jobs", "no filter", jobs.list_jobs_page, (), {}),
        ("jobs", "tag", jobs.list_jobs_page, (), {"tag": "label03"}),
        ("jobs", "q", jobs.list_jobs_page, (), {"q": "fraud"}),
        ("jobs", "owner", jobs.list_jobs_page, (), {"owner": "user03"}),
        (
            "jobs",
            "2 tags+active",
            jobs.list_jobs_page,
            (),
            {"tag": ["label01", "label02"], "active": True},
        ),
        (
            "jobs",
            "owner+tag+q",
            jobs.list_jobs_page,
            (),
            {"owner": "user03", "tag": "label05", "q": "risk"},
        ),
        ("models", "no filter", models.list_models_page, (None,), {}),
        ("models", "tag", models.list_models_page, (None,), {"tags": ["stage=prod"]}),
        ("models", "q", models.list_models_page, ("fraud",), {}),
        ("models", "owner", models.list_models_page, (None,), {"owner": "user03"}),
        ("models", "metric", models.list_models_page, (None,), {"metrics": ["auc>=0.9"]}),
        (
            "models",
            "q+tag+metric",
            models.list_models_page,
            ("risk",),
            {"tags": ["team=risk"], "metrics": ["auc>=0.5"]},
        ),
        ("model versions", "no filter", models.search_page, (None,), {}),
        ("model versions", "tag", models.search_page, (None,), {"tags": ["team=growth"]}),
        ("model versions", "owner", models.search_page, (None,), {"owner": "user03"}),
        ("model versions", "metric", models.search_page, (None,), {"metrics": ["auc>=0.9"]}),
        (
            "model versions",
            "q+tag+metric",
            models.search_page,
            ("risk",),
            {"tags": ["stage=dev"], "metrics": ["auc>=0.5"]},
        ),
        ("feature views", "no filter", features.list_views_page, (), {}),
        ("feature views", "tag", features.list_views_page, (), {"tag": "label03"}),
        ("feature views", "text", features.list_views_page, (), {"text": "fraud"}),
        ("feature views", "entity", features.list_views_page, (), {"entity": "card"}),
        ("feature views", "owner", features.list_views_page, (), {"owner": "user03"}),
        (
            "feature views",
            "text+tag+entity",
            features.list_views_page,
            (),
            {"text": "risk score", "tag": "label02", "entity": "customer"},
        ),
    ]
    if only:
        cases = [c for c in cases if c[0] in only]
    out = []
    print(
        f"{'list':<15}{'filter':<22}{'matches':>9}{'first page':>12}{'deep cursor':>13}{'page kB':>9}"
    )
    for name, label, fetch, args, filters in cases:
        first_ms, page = median_ms(lambda f=fetch, a=args, k=filters: f(*a, limit=50, **k), repeat)
        first_cpu = CPU["last"]
        total = page["total"]
        # half-way through the matches (a bounded total: try half the list deep, then less)
        depth = total // 2 if page.get("total_exact", True) else n // 2
        while depth >= 50 and not fetch(*args, limit=1, offset=depth, **filters)["items"]:
            depth //= 2
        depth = depth // 50 * 50
        deep_ms = deep_cpu = float("nan")
        if depth >= 50:
            anchor = fetch(*args, limit=1, offset=depth - 1, **filters)["next_cursor"]
            deep_ms, _ = median_ms(
                lambda f=fetch, a=args, k=filters, c=anchor: f(*a, limit=50, cursor=c, **k), repeat
            )
            deep_cpu = CPU["last"]
        size_kb = len(json.dumps(page["items"])) / 1000
        shown = f"{total:,}" + ("" if page.get("total_exact", True) else "+")
        print(
            f"{name:<15}{label:<22}{shown:>9}{first_ms:>10.1f}ms{deep_ms:>11.1f}ms{size_kb:>9.1f}",
            flush=True,
        )
        out.append(
            {
                "list": name,
                "filter": label,
                "matches": total,
                "total_exact": page.get("total_exact", True),
                "first_page_ms": round(first_ms, 2),
                "first_page_cpu_ms": round(first_cpu, 2),
                "deep_depth": depth,
                "deep_cursor_ms": round(deep_ms, 2),
                "deep_cursor_cpu_ms": round(deep_cpu, 2),
                "page_kb": round(size_kb, 1),
            }
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10_000, help="jobs, models, views each")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--catalog", help="catalog URL (default: SQLite in a temp folder)")
    parser.add_argument(
        "--lists",
        help="only these lists, comma-separated (jobs, models, model versions, feature views); "
        "with --runs 0 the run search is skipped",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mlinfra-run-search-"))
    os.environ["MLINFRA_HOME"] = str(tmp / "home")
    os.environ["LOGNAME"] = os.environ["USER"] = "user03"  # the reader (not an admin)
    if args.catalog:
        os.environ["MLINFRA_CATALOG_URL"] = args.catalog
    from jupyter_mlinfra import jobs
    from jupyter_mlinfra.core.workspace import get_workspace

    ws = get_workspace()
    print(
        f"catalog {ws.catalog.backend}, reader {ws.identity.user}, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    info = populate(ws, args.runs)
    print(f"{args.runs:,} runs bulk-inserted in {info['seconds']:.1f} s", flush=True)
    if ws.catalog.backend == "postgresql":
        with ws.catalog.engine.begin() as conn:
            from sqlalchemy import text

            conn.execute(text("ANALYZE"))
    else:
        with ws.catalog.engine.begin() as conn:
            from sqlalchemy import text

            conn.execute(text("ANALYZE"))
    since = (T0 + timedelta(days=50)).isoformat().replace("+00:00", "Z")
    until = (T0 + timedelta(days=120)).isoformat().replace("+00:00", "Z")
    cases = [
        ("no filter", {}),
        ("state", {"state": "failed"}),
        ("job", {"job": f"user00/{info['job']}"}),
        ("owner", {"owner": "user03"}),
        ("tag", {"tag": "tag07"}),
        ("sweep", {"sweep": "sweep123"}),
        ("parameter", {"parameters": {"lr": "0.01"}}),
        ("2 parameters", {"parameters": {"lr": "0.01", "depth": "3"}}),
        ("text q", {"q": "needle"}),
        ("time range", {"since": since, "until": until}),
        ("tag+state", {"tag": "tag07", "state": "succeeded"}),
        (
            "tag+param+time",
            {"tag": "tag07", "parameters": {"optimizer": "adam"}, "since": since, "until": until},
        ),
        (
            "job+state+param",
            {"job": f"user00/{info['job']}", "state": "succeeded", "parameters": {"depth": "5"}},
        ),
        ("owner+tag+q", {"owner": "user03", "tag": "tag01", "q": "needle"}),
        (
            "state+tag+param+time",
            {
                "state": "failed",
                "tag": "tag03",
                "parameters": {"depth": "2"},
                "since": since,
                "until": until,
            },
        ),
        ("q+job", {"q": "needle", "job": f"user00/{info['job']}"}),
        ("2 tags", {"tag": ["tag01", "tag02"]}),
        ("2 parameters+state", {"parameters": {"lr": "0.1", "seed": "7"}, "state": "succeeded"}),
    ]
    results = []
    header = (
        f"{'filter':<18}{'matches':>9}{'first page':>12}{'deep cursor':>13}"
        f"{'deep offset':>13}{'page kB':>9}"
    )
    print(header)
    for name, filters in cases if args.runs else []:
        first_ms, page = median_ms(lambda f=filters: jobs.runs_page(limit=50, **f), args.repeat)
        first_cpu = CPU["last"]
        total = page["total"]
        # half-way through the matches (a count beyond the cap: try 25,000 deep, then less)
        depth = total // 2 // 50 * 50 if page["total_exact"] else 25_000
        while depth >= 50 and not jobs.runs_page(limit=1, offset=depth, **filters)["items"]:
            depth //= 2
        depth = depth // 50 * 50
        deep_ms = offset_ms = float("nan")
        if depth >= 50:
            anchor = jobs.runs_page(limit=1, offset=depth - 1, **filters)["next_cursor"]
            deep_ms, deep = median_ms(
                lambda a=anchor, f=filters: jobs.runs_page(limit=50, cursor=a, **f), args.repeat
            )
            offset_ms, same = median_ms(
                lambda d=depth, f=filters: jobs.runs_page(limit=50, offset=d, **f), args.repeat
            )
            assert [r["id"] for r in deep["items"]] == [r["id"] for r in same["items"]]
        size_kb = len(json.dumps(page["items"])) / 1000
        shown = f"{total:,}" + ("" if page["total_exact"] else "+")
        print(
            f"{name:<18}{shown:>9}{first_ms:>10.1f}ms{deep_ms:>11.1f}ms"
            f"{offset_ms:>11.1f}ms{size_kb:>9.1f}",
            flush=True,
        )
        results.append(
            {
                "filter": name,
                "matches": total,
                "total_exact": page["total_exact"],
                "first_page_ms": round(first_ms, 2),
                "first_page_cpu_ms": round(first_cpu, 2),
                "deep_depth": depth,
                "deep_cursor_ms": round(deep_ms, 2),
                "deep_offset_ms": round(offset_ms, 2),
                "page_kb": round(size_kb, 1),
            }
        )
    only = [x.strip() for x in args.lists.split(",")] if args.lists else None
    lists = bench_lists(ws, args.items, args.repeat, only) if args.items else []
    print()
    print(
        f"summary ({ws.catalog.backend}; target: a page of 50 <= {TARGET_MS:.0f} ms, flat in depth)"
    )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"{'list':<15}{'filter':<22}{'matches':>9}{'first':>9}{'cpu':>8}{'deep':>9}{'cpu':>8}"
        "  target"
    )
    for row in [{"list": "runs", **r} for r in results] + lists:
        worst = max(
            row["first_page_ms"],
            row["deep_cursor_ms"] if row["deep_cursor_ms"] == row["deep_cursor_ms"] else 0,
        )
        shown = f"{row['matches']:,}" + ("" if row.get("total_exact", True) else "+")
        print(
            f"{row['list']:<15}{row['filter']:<22}{shown:>9}{row['first_page_ms']:>7.1f}ms"
            f"{row['first_page_cpu_ms']:>6.1f}ms{row['deep_cursor_ms']:>7.1f}ms"
            f"{row.get('deep_cursor_cpu_ms', float('nan')):>6.1f}ms  "
            f"{'met' if worst <= TARGET_MS else 'MISSED'}",
            flush=True,
        )
    out = tmp / "run_search.json"
    out.write_text(
        json.dumps(
            {
                "runs": args.runs,
                "items": args.items,
                "backend": ws.catalog.backend,
                "results": results,
                "lists": lists,
            },
            indent=1,
        )
    )
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
