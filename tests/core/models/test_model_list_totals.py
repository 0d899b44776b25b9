"""The models and model versions lists with a tag or metric filter, past the count budget
(2,500 models, more than ``paging.COUNT_BUDGET`` rows to check): every page comes from the
database in order, a cursor walk gives exactly what a plain Python filter of the same rows
gives (each row once), and the total is exact when a filter with an index is narrow (an
owner's versions, a high metric threshold) and otherwise a lower bound, ``total_exact``
false, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from jupyter_mlinfra.core.paging import COUNT_BUDGET

T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)
OWNERS = ["ann", "bob", "cyd"]
MODELS = 2500


@pytest.fixture
def ws(workspace_on_each_backend):
    return workspace_on_each_backend


def add_models(ws, rng: random.Random, count: int) -> list[dict]:
    """``count`` models of 1-2 versions (some archived), tags on models and versions, an
    ``auc`` metric on most versions; written as registering writes them (bulk, for speed).
    The versions, as dicts with their model's tags."""
    from sqlalchemy import insert

    from jupyter_mlinfra.core.models.tables import ModelMetric, ModelVersionRecord, RegisteredModel

    models, versions, metrics = [], [], []
    for m in range(count):
        name = f"{rng.choice(['churn', 'fraud', 'risk'])}-{m:05d}"
        model_tags = {"team": rng.choice(["a", "b", "c"])} if rng.random() < 0.7 else {}
        n = rng.randint(1, 2)
        models.append(
            dict(
                name=name,
                owner=rng.choice(OWNERS),
                description="",
                tags=model_tags,
                last_version=n,
                created_at=T0,
                updated_at=T0,
            )
        )
        for v in range(1, n + 1):
            auc = round(rng.random(), 3) if rng.random() < 0.9 else None
            record = dict(
                id=uuid.uuid4().hex,
                model_name=name,
                version=v,
                owner=rng.choice(OWNERS),
                status="archived" if rng.random() < 0.1 else "ready",
                description="",
                tags={"stage": rng.choice(["dev", "prod"])} if rng.random() < 0.5 else {},
                flavor="sklearn",
                definition={"module": "sklearn.linear_model", "class": "Ridge"},
                signature={},
                dependencies={},
                data=[],
                code={},
                metrics={} if auc is None else {"auc": auc},
                artifacts=[],
                clean=True,
                dirty_reasons=[],
                # shared creation times: ties are ordered by name, then version
                created_at=T0 + timedelta(minutes=rng.randrange(600)),
            )
            versions.append(record)
            if auc is not None:
                metrics.append(dict(version_id=record["id"], key="auc", value=auc))
    with ws.catalog.session() as s:
        conn = s.connection()
        for table, rows in [
            (RegisteredModel, models),
            (ModelVersionRecord, versions),
            (ModelMetric, metrics),
        ]:
            conn.execute(insert(table.__table__), rows)
    tags_of = {m["name"]: m["tags"] for m in models}
    return [{**v, "model_tags": tags_of[v["model_name"]]} for v in versions]


def wanted(versions, q=None, owner=None, tags=(), metrics=()) -> list[dict]:
    """The matching versions by a plain Python filter, newest first."""
    out = []
    for v in versions:
        merged = {**v["model_tags"], **v["tags"]}
        if v["status"] != "ready" or (q and q not in v["model_name"]):
            continue
        if owner and v["owner"] != owner:
            continue
        if any(
            key not in merged or (sep and merged[key] != value)
            for key, sep, value in (t.partition("=") for t in tags)
        ):
            continue
        if any(
            v["metrics"].get("auc") is None or v["metrics"]["auc"] < float(m.split(">=")[1])
            for m in metrics
        ):
            continue
        out.append(v)
    return sorted(out, key=lambda v: (-v["created_at"].timestamp(), v["model_name"], -v["version"]))


def walk(fetch, q, **filters) -> tuple[list, dict]:
    """Every row of a list, cursor to cursor; and its first page."""
    items, cursor, first = [], None, None
    while True:
        page = fetch(q, limit=700, cursor=cursor, **filters)
        first = first or page
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, first


# (filters, whether the total is exact: a narrow owner or metric filter counts exactly)
CASES = [
    ({"tags": ["stage=prod"]}, False),
    ({"tags": ["team"]}, False),
    ({"metrics": ["auc>=0.3"]}, False),
    ({"tags": ["team=a", "stage"]}, False),
    ({"metrics": ["auc>=0.95"]}, True),
    ({"owner": "bob", "tags": ["stage=dev"]}, True),
    ({"q": "risk", "tags": ["team=b"], "metrics": ["auc>=0.2"]}, False),
    ({"q": "fraud", "owner": "cyd", "metrics": ["auc>=0.5"]}, True),
]


def test_tag_and_metric_lists_match_a_python_filter_with_bounded_totals(ws):
    store = ws.service("models")
    versions = add_models(ws, random.Random(5), MODELS)
    assert len(versions) > COUNT_BUDGET
    for case, exact in CASES:
        filters = {k: v for k, v in case.items() if k != "q"}
        want = wanted(versions, **case)
        assert want, case
        # /model-versions: each matching version once, newest first
        got, first = walk(store.search_page, case.get("q"), **filters)
        assert [(v["name"], v["version"]) for v in got] == [
            (v["model_name"], v["version"]) for v in want
        ], case
        assert first["total_exact"] is exact, case
        if exact:
            assert first["total"] == len(want), case
        else:  # a lower bound, from the newest COUNT_BUDGET versions
            assert 0 < first["total"] <= len(want), case
        # /models: each model once, by name, with its newest matching version and the count
        newest: dict[str, dict] = {}
        counts: dict[str, int] = {}
        for v in want:
            newest.setdefault(v["model_name"], v)
            counts[v["model_name"]] = counts.get(v["model_name"], 0) + 1
        models, first = walk(store.list_models_page, case.get("q"), **filters)
        assert [(m["name"], m["version"], m["matching_versions"]) for m in models] == [
            (name, newest[name]["version"], counts[name]) for name in sorted(newest)
        ], case
        assert first["total_exact"] is exact, case
        if exact:
            assert first["total"] == len(newest), case
        else:  # a lower bound, from COUNT_BUDGET versions by model name
            assert 0 < first["total"] <= len(newest), case


def test_lists_without_a_tag_or_metric_filter_count_exactly(ws):
    store = ws.service("models")
    versions = add_models(ws, random.Random(6), MODELS)
    for q, filters in [(None, {}), ("churn", {}), (None, {"owner": "ann"})]:
        want = wanted(versions, q=q, **filters)
        page = store.search_page(q, limit=10, **filters)
        assert (page["total"], page["total_exact"]) == (len(want), True)
        page = store.list_models_page(q, limit=10, **filters)
        names = {v["model_name"] for v in want}
        assert (page["total"], page["total_exact"]) == (len(names), True)


@pytest.mark.postgres
def test_postgresql_catalog_connections_do_not_jit_compile(
    pg_catalog_url, mlinfra_env, monkeypatch
):
    """A list page's query costs the planner enough to JIT-compile it (100-200 ms, more than
    running it): the catalog's connections have JIT off, also after a rollback."""
    from sqlalchemy import text

    from jupyter_mlinfra.core.workspace import Workspace

    monkeypatch.setenv("MLINFRA_CATALOG_URL", pg_catalog_url)
    workspace = Workspace.open()
    try:
        for _ in range(2):
            with workspace.catalog.read_session() as s:
                assert s.scalar(text("SHOW jit")) == "off"
                s.rollback()
    finally:
        workspace.close()
