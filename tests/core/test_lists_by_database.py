"""The lists of jobs, models, model versions and feature views are filtered and paged by the
database (SQLite and PostgreSQL): every filter alone and combined gives what a plain Python
filter of the same rows gives, a cursor walk sees every row once while rows are added, and a
cursor continues only the search it came from."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from jupyter_mlinfra.core.errors import InvalidInput
from jupyter_mlinfra.core.identity import may_read

T0 = datetime(2026, 4, 1, tzinfo=timezone.utc)
OWNERS = ["ann", "bob", "cyd"]
LABELS = ["nightly", "gpu", "team=risk", "exp"]
WORDS = ["churn", "fraud", "Risk", "daily", "50%_off"]


@pytest.fixture
def ws(workspace_on_each_backend):
    return workspace_on_each_backend


def walk(fetch, *args, limit=4, between=None, **filters) -> list:
    items, cursor, n = [], None, 0
    while True:
        page = fetch(*args, limit=limit, cursor=cursor, **filters)
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        n += 1
        if cursor is None:
            return items
        if between:
            between(n)


def icontains(text: str, q: str) -> bool:
    return q.lower() in (text or "").lower()


# -- jobs ---------------------------------------------------------------------------------------
def job_row(rng: random.Random, i: int, name: str | None = None, owner: str = "") -> dict:
    now = T0 + timedelta(minutes=i)
    return dict(
        id=uuid.uuid4().hex,
        # (owner, name) is unique: 23 names, each held by up to 3 owners
        owner=owner or OWNERS[(i // 23) % len(OWNERS)],
        # names repeat across owners: the list is ordered by name, then id
        name=name or f"job{i % 23:02d}",
        description=" ".join(rng.sample(WORDS, 2)),
        notebook=f"nb/{rng.choice(['train', 'etl'])}.ipynb",
        root_dir="/",
        tags=rng.sample(LABELS, rng.randint(0, 3)),
        active=rng.random() < 0.7,
        created_at=now,
        updated_at=now,
    )


def add_jobs(ws, rows: list[dict]) -> None:
    from jupyter_mlinfra.core.jobs.tables import JobDefinition

    with ws.catalog.session() as s:
        s.add_all([JobDefinition(**r) for r in rows])


def expected_jobs(rows, owner=None, tag=None, active=None, q=None) -> list[str]:
    tags = [tag] if isinstance(tag, str) else tag or []
    out = [
        r
        for r in rows
        if (not owner or r["owner"] == owner)
        and all(t in r["tags"] for t in tags)
        and (active is None or r["active"] is active)
        and (
            not q
            or icontains(r["name"], q)
            or icontains(r["notebook"], q)
            or icontains(r["description"], q)
        )
    ]
    return [r["id"] for r in sorted(out, key=lambda r: (r["name"], r["id"]))]


def test_jobs_filters_alone_and_combined_match_a_python_filter(ws):
    jobs = ws.service("jobs")
    rng = random.Random(3)
    rows = [job_row(rng, i) for i in range(69)]
    add_jobs(ws, rows)
    cases = [
        {},
        {"owner": "bob"},
        {"tag": "gpu"},
        {"tag": "team=risk"},
        {"tag": ["gpu", "nightly"]},
        {"tag": "absent"},
        {"active": True},
        {"active": False},
        {"q": "risk"},
        {"q": "50%_"},
        {"q": "etl"},
        {"owner": "ann", "tag": "exp", "active": True},
        {"tag": ["nightly", "exp"], "q": "churn", "owner": "cyd"},
    ]
    for case in cases:
        want = expected_jobs(rows, **case)
        assert [j["id"] for j in walk(jobs.list_jobs_page, **case)] == want, case
        assert jobs.list_jobs_page(**case)["total"] == len(want), case
        assert [j["id"] for j in jobs.list_jobs(**case)] == want, case


def test_jobs_pages_walk_every_job_once_while_jobs_are_added(ws):
    jobs = ws.service("jobs")
    rng = random.Random(5)
    rows = [job_row(rng, i) for i in range(40)]
    add_jobs(ws, rows)
    added: list[dict] = []

    def more(n):
        # before and after the walk's position, and under names the walk already passed
        batch = [
            job_row(rng, 100 + n, name=name, owner=f"new{n}") for name in ("aaa", "job05", "zzz")
        ]
        added.extend(batch)
        add_jobs(ws, batch)

    seen = [j["id"] for j in walk(jobs.list_jobs_page, limit=3, between=more)]
    assert len(seen) == len(set(seen))
    assert set(expected_jobs(rows)) <= set(seen)
    assert seen == sorted(
        seen, key=lambda i: next((r["name"], r["id"]) for r in rows + added if r["id"] == i)
    )


# -- models and model versions ------------------------------------------------------------------
def add_models(ws, rng: random.Random, count: int) -> list[dict]:
    """Models with 1-4 versions each (some archived), tags on both, metrics; the versions as
    dicts with their model's tags."""
    from jupyter_mlinfra.core.models.tables import (
        ModelMetric,
        ModelVersionRecord,
        RegisteredModel,
    )

    versions = []
    with ws.catalog.session() as s:
        for m in range(count):
            name = f"{rng.choice(['churn', 'fraud', 'risk'])}-{m:02d}"
            model_tags = {
                k: rng.choice(["a", "b"]) for k in rng.sample(["team", "stage"], rng.randint(0, 2))
            }
            n = rng.randint(1, 4)
            s.add(
                RegisteredModel(
                    name=name,
                    owner=rng.choice(OWNERS),
                    description=f"model {name}",
                    tags=model_tags,
                    last_version=n,
                    created_at=T0,
                    updated_at=T0,
                )
            )
            s.flush()
            for v in range(1, n + 1):
                tags = {
                    k: rng.choice(["a", "b"])
                    for k in rng.sample(["team", "gpu"], rng.randint(0, 2))
                }
                metrics = {"auc": round(rng.random(), 2)} if rng.random() < 0.8 else {}
                record = dict(
                    id=uuid.uuid4().hex,
                    model_name=name,
                    version=v,
                    owner=rng.choice(OWNERS),
                    status="archived" if rng.random() < 0.2 else "ready",
                    tags=tags,
                    metrics=metrics,
                    definition={"module": "sklearn.linear_model", "class": "Ridge"},
                    dependencies={"packages": [f"pkg{k}==1" for k in range(30)]},
                    # several versions share a creation time: ties are ordered by name, version
                    created_at=T0 + timedelta(minutes=rng.randrange(40)),
                )
                s.add(ModelVersionRecord(**record))
                s.flush()
                for key, value in metrics.items():
                    s.add(ModelMetric(version_id=record["id"], key=key, value=value))
                versions.append({**record, "model_tags": model_tags})
    return versions


def matching_versions(
    versions, q=None, owner=None, tags=None, metrics=None, include_archived=False
):
    terms = [tags] if isinstance(tags, str) else list(tags or [])
    out = []
    for v in versions:
        merged = {**v["model_tags"], **v["tags"]}
        if q and not icontains(v["model_name"], q) or owner and v["owner"] != owner:
            continue
        if not include_archived and v["status"] != "ready":
            continue
        ok = True
        for term in terms:
            key, sep, value = term.partition("=")
            if key not in merged or sep and merged[key] != value:
                ok = False
        for m in metrics or []:
            threshold = float(m.split(">=")[1])
            if v["metrics"].get("auc") is None or v["metrics"]["auc"] < threshold:
                ok = False
        if ok:
            out.append(v)
    return sorted(out, key=lambda v: (-v["created_at"].timestamp(), v["model_name"], -v["version"]))


MODEL_CASES = [
    {},
    {"q": "churn"},
    {"owner": "ann"},
    {"tags": "team"},
    {"tags": "team=a"},
    {"tags": ["gpu", "stage=b"]},
    {"metrics": ["auc>=0.5"]},
    {"include_archived": True},
    {"q": "risk", "tags": "team=b", "metrics": ["auc>=0.3"], "include_archived": True},
    {"owner": "bob", "tags": ["stage"], "q": "-0"},
]


def test_model_lists_match_a_python_filter(ws):
    store = ws.service("models")
    versions = add_models(ws, random.Random(11), 36)
    for case in MODEL_CASES:
        q = case.get("q")
        filters = {k: v for k, v in case.items() if k != "q"}
        want = matching_versions(versions, **case)
        # /model-versions: the matching versions, newest first
        got = walk(store.search_page, q, **filters)
        assert [(v["name"], v["version"]) for v in got] == [
            (v["model_name"], v["version"]) for v in want
        ], case
        assert store.search_page(q, **filters)["total"] == len(want), case
        assert all("dependencies" not in v and "artifacts" not in v for v in got)
        # /models: each model once, by name, with its newest matching version
        newest: dict[str, dict] = {}
        counts: dict[str, int] = {}
        for v in want:
            newest.setdefault(v["model_name"], v)
            counts[v["model_name"]] = counts.get(v["model_name"], 0) + 1
        models = walk(store.list_models_page, q, **filters)
        assert [(m["name"], m["version"], m["matching_versions"]) for m in models] == [
            (name, newest[name]["version"], counts[name]) for name in sorted(newest)
        ], case
        assert store.list_models_page(q, **filters)["total"] == len(newest), case
    # a model's versions, newest version first
    name = versions[0]["model_name"]
    mine = sorted((v for v in versions if v["model_name"] == name), key=lambda v: -v["version"])
    assert [v["version"] for v in walk(store.versions_page, name=name, limit=1)] == [
        v["version"] for v in mine
    ]
    ready = [v["version"] for v in mine if v["status"] == "ready"]
    assert [
        v["version"] for v in walk(store.versions_page, name=name, limit=1, include_archived=False)
    ] == ready


# -- feature views ------------------------------------------------------------------------------
def add_views(ws, rng: random.Random, count: int) -> list[dict]:
    from jupyter_mlinfra.core.features.tables import FeatureViewRecord, FeatureViewVersionRecord

    views = []
    with ws.catalog.session() as s:
        for i in range(count):
            name = f"view_{i:02d}_{rng.choice(['daily', 'hourly'])}"
            entities = rng.sample(["customer", "merchant", "card"], rng.randint(1, 2))
            features = [
                {"name": f"{rng.choice(['spend', 'count', 'Risk'])}_{k}", "dtype": "float64"}
                for k in range(rng.randint(1, 3))
            ]
            view = dict(
                name=name,
                owner=rng.choice([ws.identity.user, *OWNERS]),
                team=rng.choice(["", "risk"]),
                visibility=rng.choice(["private", "team", "public"]),
                description=" ".join(rng.sample(WORDS, 2)),
                tags=json.dumps(rng.sample(LABELS, rng.randint(0, 2))),
                latest_version=2,
                created_at=T0,
                updated_at=T0,
            )
            s.add(FeatureViewRecord(**view))
            s.flush()
            for version in (1, 2):
                s.add(
                    FeatureViewVersionRecord(
                        view_name=name,
                        version=version,
                        fingerprint="f",
                        # the old version's entities and features are not the view's
                        entities=json.dumps(entities if version == 2 else ["old_entity"]),
                        join_keys=json.dumps({f"{e}_id": "int64" for e in entities}),
                        features=json.dumps(
                            features
                            if version == 2
                            else [{"name": "old_feature", "dtype": "int64"}]
                        ),
                        event_timestamp_column="ts",
                        source_kind="dataframe",
                        created_by=view["owner"],
                    )
                )
            views.append({**view, "entities": entities, "features": features})
    return views


def expected_views(ws, views, text=None, owner=None, tag=None, entity=None) -> list[str]:
    terms = [tag] if isinstance(tag, str) else tag or []
    out = []
    for v in views:
        tags = json.loads(v["tags"])
        if not may_read(ws.identity, v["owner"], v["visibility"], v["team"]):
            continue
        if owner and v["owner"] != owner or any(t not in tags for t in terms):
            continue
        if entity and entity not in v["entities"]:
            continue
        haystack = " ".join(
            [v["name"], v["description"], " ".join(tags)]
            + [f["name"] for f in v["features"]]
            + v["entities"]
        ).lower()
        if text and not all(word in haystack for word in text.lower().split()):
            continue
        out.append(v["name"])
    return sorted(out)


def test_feature_views_filters_match_a_python_filter(ws):
    features = ws.service("features")
    views = add_views(ws, random.Random(13), 40)
    cases = [
        {},
        {"owner": "bob"},
        {"tag": "gpu"},
        {"tag": ["nightly", "team=risk"]},
        {"entity": "card"},
        {"entity": "old_entity"},
        {"text": "risk"},
        {"text": "spend daily"},
        {"text": "old_feature"},
        {"text": "50%_off"},
        {"text": "float64"},
        {"text": "customer", "tag": "exp", "owner": "ann"},
    ]
    for case in cases:
        want = expected_views(ws, views, **case)
        got = walk(features.list_views_page, **case)
        assert [v["name"] for v in got] == want, case
        assert features.list_views_page(**case)["total"] == len(want), case


# -- cursors --------------------------------------------------------------------------------------
def test_a_cursor_continues_only_the_search_it_came_from(ws):
    rng = random.Random(17)
    add_jobs(ws, [job_row(rng, i) for i in range(12)])
    add_models(ws, rng, 8)
    add_views(ws, rng, 8)
    jobs, store, features = ws.service("jobs"), ws.service("models"), ws.service("features")
    lists = [
        (jobs.list_jobs_page, {"tag": "gpu"}, {"tag": "exp"}),
        (jobs.list_jobs_page, {"active": True}, {"active": False}),
        (store.list_models_page, {"include_archived": True}, {}),
        (store.search_page, {"tags": "team"}, {"tags": "team=a"}),
        (features.list_views_page, {}, {"text": "daily"}),
    ]
    for fetch, filters, other in lists:
        cursor = fetch(limit=1, **filters)["next_cursor"]
        assert cursor, fetch
        assert fetch(limit=1, cursor=cursor, **filters)["items"]
        with pytest.raises(InvalidInput, match="^cursor .* another search"):
            fetch(limit=1, cursor=cursor, **other)
    # one list's cursor given to another
    cursor = jobs.list_jobs_page(limit=1)["next_cursor"]
    with pytest.raises(InvalidInput, match="^cursor"):
        features.list_views_page(limit=1, cursor=cursor)
    with pytest.raises(InvalidInput, match="^cursor"):
        store.list_models_page(limit=1, cursor=cursor)


# -- a change is found at once ------------------------------------------------------------------
def _spend_source():
    import pandas as pd

    return pd.DataFrame(
        {
            "customer_id": [1, 2],
            "event_timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True),
            "amount": [10.0, 20.0],
        }
    )


def _doubled(df):
    df["amount_doubled"] = df["amount"] * 2
    return df


def _tripled(df):
    df["amount_tripled"] = df["amount"] * 3
    return df


def test_a_change_is_found_by_the_filters_at_once(ws):
    """The text filter reads a stored search text (kept by the write paths), the metric
    filter an index: a tag change, a new version's metric and a view's redefinition or new
    description and tags are found by the very next list call."""
    from sklearn.dummy import DummyClassifier

    store, fs = ws.service("models"), ws.service("features")

    def versions(**filters):
        return [(v["name"], v["version"]) for v in walk(store.search_page, None, **filters)]

    def models(**filters):
        return [(m["name"], m["version"]) for m in walk(store.list_models_page, None, **filters)]

    def views(text):
        return [v["name"] for v in walk(fs.list_views_page, text=text)]

    model = DummyClassifier().fit([[0], [1]], [0, 1])
    store.register("churn", model, metrics={"auc": 0.5}, figures=[], tags={"stage": "dev"})
    assert versions(tags="stage=dev") == [("churn", 1)]
    # a version's tag changes
    store.update("churn", version=1, tags={"stage": "prod"})
    assert versions(tags="stage=dev") == [] and versions(tags="stage=prod") == [("churn", 1)]
    # the model's tags: a key the version also holds is the version's
    store.update("churn", tags={"team": "risk", "stage": "x"})
    assert versions(tags="team=risk") == [("churn", 1)] and models(tags="team") == [("churn", 1)]
    assert versions(tags="stage=x") == []
    store.update("churn", version=1, remove_tags=["stage"])
    assert versions(tags="stage=x") == [("churn", 1)] and versions(tags="stage=prod") == []
    # a new version with a new metric
    assert versions(metrics=["auc>=0.8"]) == [] and models(metrics=["auc>=0.8"]) == []
    store.register("churn", model, metrics={"auc": 0.9}, figures=[])
    assert versions(metrics=["auc>=0.8"]) == [("churn", 2)]
    assert models(metrics=["auc>=0.8"]) == [("churn", 2)]
    assert models(metrics=["auc>=0.4"], tags="team=risk") == [("churn", 2)]

    fs.register_entity("customer", ["customer_id"])
    fs.register_view(
        "spend", entities="customer", source=_spend_source(), transform=_doubled, tags=["gpu"]
    )
    assert views("amount_doubled") == ["spend"] and views("tripled") == []
    # redefined: the new version's features are searched, the old one's no longer
    fs.register_view("spend", entities="customer", source=_spend_source(), transform=_tripled)
    assert views("amount_tripled") == ["spend"] and views("doubled") == []
    fs.update_view("spend", description="Weekly spend", tags=["nightly"])
    assert views("weekly nightly") == ["spend"] and views("gpu") == []


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_rows_made_before_the_search_text_are_found_by_every_filter(
    backend, request, mlinfra_env, monkeypatch, tmp_path
):
    """The 0015_list_search_text migration fills the views' search text from the rows a
    catalog already has (written here with plain SQL: no ORM event); the model filters
    still hold after it."""
    import sqlalchemy as sa
    from alembic import command

    from jupyter_mlinfra.core.catalog import Catalog
    from jupyter_mlinfra.core.models.tables import (
        ModelMetric,
        ModelVersionRecord,
        RegisteredModel,
    )
    from jupyter_mlinfra.core.workspace import Workspace

    url = (
        request.getfixturevalue("pg_catalog_url")
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'old.db'}"
    )
    rng = random.Random(19)
    old = Catalog(url)
    versions, views = [], []
    with old.engine.begin() as conn:
        config = old._alembic_config(conn)
        command.upgrade(config, "0014_list_indexes")
        command.upgrade(config, "0005_features")
        for m in range(12):
            name = f"{rng.choice(['churn', 'fraud'])}-{m:02d}"
            model_tags = {k: rng.choice("ab") for k in rng.sample(["team", "stage"], 1)}
            conn.execute(
                sa.insert(RegisteredModel.__table__),
                dict(
                    name=name,
                    owner="ann",
                    description="",
                    tags=model_tags,
                    last_version=2,
                    created_at=T0,
                    updated_at=T0,
                ),
            )
            for v in (1, 2):
                tags = {k: rng.choice("ab") for k in rng.sample(["team", "gpu"], rng.randint(0, 2))}
                record = dict(
                    id=uuid.uuid4().hex,
                    model_name=name,
                    version=v,
                    owner="ann",
                    status="ready",
                    description="",
                    tags=tags,
                    flavor="",
                    definition={},
                    signature={},
                    dependencies={},
                    data=[],
                    code={},
                    metrics={"auc": round(rng.random(), 2)},
                    artifacts=[],
                    clean=True,
                    dirty_reasons=[],
                    run_id=None,
                    created_at=T0 + timedelta(minutes=m * 2 + v),
                )
                conn.execute(sa.insert(ModelVersionRecord.__table__), record)
                conn.execute(
                    sa.insert(ModelMetric.__table__),
                    dict(version_id=record["id"], key="auc", value=record["metrics"]["auc"]),
                )
                versions.append({**record, "model_tags": model_tags})
        view_t = sa.table(
            "mlinfra_feature_views",
            *[
                sa.column(c)
                for c in (
                    "name",
                    "owner",
                    "team",
                    "visibility",
                    "description",
                    "tags",
                    "latest_version",
                    "created_at",
                    "updated_at",
                )
            ],
        )
        version_t = sa.table(
            "mlinfra_feature_view_versions",
            *[
                sa.column(c)
                for c in (
                    "view_name",
                    "version",
                    "fingerprint",
                    "entities",
                    "join_keys",
                    "features",
                    "event_timestamp_column",
                    "created_timestamp_column",
                    "source_kind",
                    "source_ref",
                    "transform_name",
                    "transform_source",
                    "transform_key",
                    "created_by",
                    "created_at",
                )
            ],
        )
        for i in range(10):
            features = [{"name": f"{rng.choice(['spend', 'Risk'])}_{i}", "dtype": "float64"}]
            view = dict(
                name=f"view_{i:02d}",
                owner="ann",
                team="",
                visibility="public",
                description=" ".join(rng.sample(WORDS, 2)),
                tags=json.dumps(rng.sample(LABELS, 1)),
                latest_version=1,
                created_at=T0,
                updated_at=T0,
            )
            conn.execute(sa.insert(view_t), view)
            conn.execute(
                sa.insert(version_t),
                dict(
                    view_name=view["name"],
                    version=1,
                    fingerprint="f",
                    entities=json.dumps(["customer"]),
                    join_keys="{}",
                    features=json.dumps(features),
                    event_timestamp_column="ts",
                    created_timestamp_column="",
                    source_kind="dataframe",
                    source_ref="",
                    transform_name="",
                    transform_source="",
                    transform_key="",
                    created_by="ann",
                    created_at=T0,
                ),
            )
            views.append({**view, "entities": ["customer"], "features": features})
    old.engine.dispose()

    monkeypatch.setenv("MLINFRA_CATALOG_URL", url)
    ws = Workspace.open()
    try:
        store, fs = ws.service("models"), ws.service("features")
        for case in [{"tags": "team=a"}, {"tags": ["gpu", "stage"]}, {"metrics": ["auc>=0.5"]}]:
            want = matching_versions(versions, **case)
            got = walk(store.search_page, None, **case)
            assert [(v["name"], v["version"]) for v in got] == [
                (v["model_name"], v["version"]) for v in want
            ], case
            assert want, case
        for text in ["risk", "spend daily", "customer", "nightly"]:
            want = expected_views(ws, views, text=text)
            assert [v["name"] for v in walk(fs.list_views_page, text=text)] == want, text
            assert want, text
    finally:
        ws.close()
