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

Run: ``python benchmarks/run_search.py [--runs N] [--repeat R] [--catalog URL]`` (default
SQLite in a temporary folder; ``--catalog postgresql+psycopg://...`` for an empty PostgreSQL
database).
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


def median_ms(fn, repeat: int) -> tuple[float, object]:
    fn()  # warm (statement cache, pages)
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--catalog", help="catalog URL (default: SQLite in a temp folder)")
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
    ]
    results = []
    header = (
        f"{'filter':<18}{'matches':>9}{'first page':>12}{'deep cursor':>13}"
        f"{'deep offset':>13}{'page kB':>9}"
    )
    print(header)
    for name, filters in cases:
        first_ms, page = median_ms(lambda f=filters: jobs.runs_page(limit=50, **f), args.repeat)
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
                "deep_depth": depth,
                "deep_cursor_ms": round(deep_ms, 2),
                "deep_offset_ms": round(offset_ms, 2),
                "page_kb": round(size_kb, 1),
            }
        )
    out = tmp / "run_search.json"
    out.write_text(
        json.dumps({"runs": args.runs, "backend": ws.catalog.backend, "results": results}, indent=1)
    )
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
