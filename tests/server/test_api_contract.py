"""The one API contract (docs/api.md), enforced for every capability at once.

- The OpenAPI description is a valid OpenAPI 3.0 document (openapi-spec-validator); every
  operation has an operationId and its 4xx answers with the error schema; every request body
  refuses unknown fields; every DELETE answers 204 without a body.
- Every list answers the same envelope {items, total, total_exact, limit, offset,
  next_cursor}, pages the same way (limit, offset or cursor; a stable order; nothing cut
  silently: a cursor walk sees every row once) and refuses bad paging arguments with a 400
  naming the parameter.
- Times in answers are ISO 8601 UTC with ``Z`` (online lookups included).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from tornado.httpclient import HTTPClientError

from tests.core.jobs.notebooks import make_root

ENVELOPE = ["items", "total", "total_exact", "limit", "offset", "next_cursor"]
# The lists the seed below fills with three rows or more (the walk test checks every list
# the description has; these must be among them and be walked page by page).
SEEDED = [
    "/jobs",
    "/runs",
    "/models",
    "/model-versions",
    "/models/{name}/versions",
    "/features",
    "/features/entities",
    "/provenance/notebooks",
    "/audit",
]
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")


@pytest.fixture
def jp_server_config(mlinfra_env):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlinfra": True}},
        "MLInfra": {"jobs_scheduler_in_server": False},
    }


@pytest.fixture
def seeded(jp_root_dir, mlinfra_env):
    """Three or more rows in every list (the server's own user owns them)."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlinfra.core.provenance.model import Execution
    from jupyter_mlinfra.core.workspace import Workspace

    make_root(jp_root_dir)
    ws = Workspace.open()
    try:
        jobs = ws.service("jobs")
        for name in ("charlie", "alpha", "bravo"):
            jobs.create_job(name, "ok.ipynb", root_dir=str(jp_root_dir), tags=["nightly"])
        for _ in range(3):
            jobs.run_job("alpha")
        rng = np.random.default_rng(0)
        X, y = rng.normal(size=(30, 3)), rng.integers(0, 2, 30)
        models = ws.service("models")
        for name, c in (
            ("fraud", 0.5),
            ("fraud", 1.0),
            ("churn", 1.0),
            ("fraud", 2.0),
            ("ltv", 1.0),
        ):
            models.register(name, LogisticRegression(C=c).fit(X, y), tags={"team": "risk"})
        features = ws.service("features")
        for entity in ("store", "customer", "driver"):
            features.register_entity(entity, [f"{entity}_id"])
        source = pd.DataFrame(
            {
                "customer_id": [1, 2],
                "amount": [1.0, 2.0],
                "event_timestamp": pd.to_datetime(["2026-11-01", "2026-11-02"], utc=True),
            }
        )
        for view in ("spend", "clicks", "visits"):
            features.register_view(view, entities="customer", source=source, ttl="30d")
        features.materialize("spend")
        provenance = ws.service("provenance")
        for i, nb in enumerate(("a.ipynb", "b.ipynb", "c.ipynb")):
            path = str(jp_root_dir / nb)
            provenance.record(
                [
                    Execution(
                        seq=1,
                        cell_id="c1",
                        source="x = 1",
                        session_id=f"s{i}",
                        notebook_path=path,
                        execution_count=1,
                        started_at=1.7e9 + i,
                        ended_at=1.7e9 + i + 0.01,
                        binds=frozenset({"x"}),
                    )
                ]
            )
    finally:
        ws.close()
    return jp_root_dir


async def _get(jp_fetch, parts, **params):
    response = await jp_fetch(
        "mlinfra", "api", *parts, params={k: str(v) for k, v in params.items()}
    )
    return json.loads(response.body)


async def _refused(jp_fetch, parts, method="GET", body=None, **params) -> tuple[int, str]:
    kwargs = {"method": method, "params": {k: str(v) for k, v in params.items()}}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("mlinfra", "api", *parts, **kwargs)
    return err.value.code, json.loads(err.value.response.body)["error"]["message"]


# -- the description --------------------------------------------------------------------------
def _operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "parameters" and isinstance(op, dict):
                yield path, method, op


def _resolve(doc, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_the_openapi_description_is_valid_and_complete():
    from openapi_spec_validator import validate

    from jupyter_mlinfra.server.handlers import load_openapi

    doc = load_openapi()
    validate(doc)  # OpenAPI 3.0: raises on any breach
    error = {"$ref": "#/components/schemas/Error"}
    ids = [op.get("operationId") for _, _, op in _operations(doc)]
    assert None not in ids, [(p, m) for p, m, op in _operations(doc) if "operationId" not in op]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for path, method, op in _operations(doc):
        where = f"{method.upper()} {path}"
        for status in ("400", "403", "404", *(["413"] if "requestBody" in op else [])):
            assert status in op["responses"], f"{where} does not describe its {status}"
        for status, answer in op["responses"].items():
            if status.startswith("4"):
                answer = (
                    doc["components"]["responses"][answer["$ref"].rsplit("/", 1)[-1]]
                    if "$ref" in answer
                    else answer
                )
                assert answer["content"]["application/json"]["schema"] == error, (
                    f"{where} {status} is not the error schema"
                )
        if method == "delete":
            assert set(op["responses"]) & {"200", "201"} == set(), where
            assert "content" not in op["responses"]["204"], where
        body = (op.get("requestBody") or {}).get("content", {}).get("application/json")
        if body:
            schema = _resolve(doc, body["schema"])
            assert schema.get("additionalProperties") is False, (
                f"{where}: its body must refuse unknown fields"
            )


def _list_paths(doc) -> list[str]:
    """The GET operations whose answer is a list: a bare array, an object around one array
    (the old {"jobs": [...]} shape), or the envelope."""
    lists = []
    for path, method, op in _operations(doc):
        ok = op["responses"].get("200", {})
        schema = _resolve(doc, ok.get("content", {}).get("application/json", {}).get("schema"))
        if method != "get" or not isinstance(schema, dict):
            continue
        props = schema.get("properties", {})
        arrays = [k for k, v in props.items() if _resolve(doc, v).get("type") == "array"]
        if schema.get("type") == "array" or (arrays and len(props) == 1) or "items" in props:
            lists.append(path)
    return lists


def test_every_list_operation_is_described_as_a_page():
    from jupyter_mlinfra.server.handlers import load_openapi

    doc = load_openapi()
    lists = _list_paths(doc)
    for path in lists:
        op = doc["paths"][path]["get"]
        schema = _resolve(doc, op["responses"]["200"]["content"]["application/json"]["schema"])
        assert schema.get("required") == ENVELOPE, f"GET {path} is not the envelope"
        params = {p["name"] for p in op.get("parameters", [])}
        assert {"limit", "offset", "cursor"} <= params, f"GET {path} does not page"
    assert set(SEEDED) <= set(lists), set(SEEDED) - set(lists)


def _identity(row: dict):
    """What tells one row of a list from another."""
    for key in ("id", "notebook_path"):
        if key in row:
            return row[key]
    return (row.get("name"), row.get("version"))


# -- the lists ----------------------------------------------------------------------------------
async def test_every_list_pages_the_same_way_and_cuts_nothing(jp_fetch, seeded):
    from jupyter_mlinfra.server.handlers import load_openapi

    for path in _list_paths(load_openapi()):
        parts = tuple(path.strip("/").replace("{name}", "fraud").split("/"))
        identity = _identity
        whole = await _get(jp_fetch, parts)
        assert list(whole) == ENVELOPE, parts
        assert whole["total"] == len(whole["items"]) and whole["total_exact"], parts
        assert (whole["limit"], whole["offset"], whole["next_cursor"]) == (50, 0, None)
        # bad paging arguments: a 400 naming the parameter, never clamped
        for value in (0, 1001, "ten", "2.5"):
            code, message = await _refused(jp_fetch, parts, limit=value)
            assert code == 400 and "limit" in message, (parts, value, message)
        code, message = await _refused(jp_fetch, parts, offset=-1)
        assert code == 400 and "offset" in message, (parts, message)
        code, message = await _refused(jp_fetch, parts, cursor="not-a-cursor")
        assert code == 400 and "cursor" in message, (parts, message)
        if path not in SEEDED:
            continue  # (an empty list here: its own tests fill it)
        assert whole["total"] >= 3, parts
        ids = [identity(r) for r in whole["items"]]
        assert len(set(ids)) == len(ids), parts
        # a walk by cursor, two rows a page: every row once, in the same order
        walked, cursor, pages = [], None, 0
        while True:
            page = await _get(jp_fetch, parts, limit=2, **({"cursor": cursor} if cursor else {}))
            assert page["total"] == whole["total"] and page["limit"] == 2, parts
            walked += [identity(r) for r in page["items"]]
            cursor, pages = page["next_cursor"], pages + 1
            if cursor is None:
                break
        assert walked == ids and pages == -(-len(ids) // 2), parts
        # offset pages agree with the order
        page = await _get(jp_fetch, parts, limit=1, offset=1)
        assert [identity(r) for r in page["items"]] == ids[1:2] and page["offset"] == 1
        first = await _get(jp_fetch, parts, limit=1)
        code, message = await _refused(jp_fetch, parts, cursor=first["next_cursor"], offset=1)
        assert code == 400 and "offset" in message and "cursor" in message, parts


async def test_a_cursor_walk_is_stable_while_rows_are_added(jp_fetch, seeded):
    from jupyter_mlinfra.core.workspace import Workspace

    first = await _get(jp_fetch, ("jobs",), limit=2)
    assert [j["name"] for j in first["items"]] == ["alpha", "bravo"]
    ws = Workspace.open()
    try:  # a job sorting before the cursor arrives between two pages
        ws.service("jobs").create_job("aardvark", "ok.ipynb", root_dir=str(seeded))
    finally:
        ws.close()
    rest = await _get(jp_fetch, ("jobs",), limit=2, cursor=first["next_cursor"])
    assert [j["name"] for j in rest["items"]] == ["charlie"] and rest["next_cursor"] is None
    assert rest["total"] == 4  # the total is today's


async def test_filters_have_the_same_names_and_booleans_parse_one_way(jp_fetch, seeded):
    assert [j["name"] for j in (await _get(jp_fetch, ("jobs",), q="alp"))["items"]] == ["alpha"]
    assert (await _get(jp_fetch, ("jobs",), tag="nightly"))["total"] == 3
    assert (await _get(jp_fetch, ("jobs",), tag="nightly", limit=1))["next_cursor"]
    assert [
        e["name"] for e in (await _get(jp_fetch, ("features", "entities"), q="driv"))["items"]
    ] == ["driver"]
    assert [
        n["path"] for n in (await _get(jp_fetch, ("provenance", "notebooks"), q="b.ipynb"))["items"]
    ] == ["b.ipynb"]
    for value, total in (("on", 3), ("YES", 3), ("off", 0), ("0", 0)):
        assert (await _get(jp_fetch, ("jobs",), active=value))["total"] == total, value
    code, message = await _refused(jp_fetch, ("jobs",), active="maybe")
    assert code == 400 and "active" in message
    code, message = await _refused(jp_fetch, ("models",), archived="maybe")
    assert code == 400 and "archived" in message


# -- deletes, bodies, times ------------------------------------------------------------------
async def test_deletes_answer_204_without_a_body(jp_fetch, seeded):
    for parts in (("features", "views", "visits"), ("jobs", "bravo")):
        response = await jp_fetch("mlinfra", "api", *parts, method="DELETE")
        assert (response.code, response.body) == (204, b""), parts
    await jp_fetch(
        "mlinfra",
        "api",
        "models",
        "fraud",
        "aliases",
        "prod",
        method="PUT",
        body=json.dumps({"version": 1}),
    )
    response = await jp_fetch(
        "mlinfra", "api", "models", "fraud", "aliases", "prod", method="DELETE"
    )
    assert (response.code, response.body) == (204, b"")


async def test_unknown_body_fields_are_refused_by_name(jp_fetch, seeded):
    for method, parts, body in (
        ("POST", ("jobs",), {"name": "j", "notebook": "ok.ipynb", "colour": 1}),
        ("PATCH", ("models", "fraud"), {"description": "x", "colour": 1}),
        ("PATCH", ("features", "views", "spend"), {"colour": 1}),
        (
            "POST",
            ("features", "online"),
            {"features": ["spend:amount"], "entity_rows": [{"customer_id": 1}], "colour": 1},
        ),
        ("POST", ("provenance", "check"), {"path": "a.ipynb", "colour": 1}),
    ):
        code, message = await _refused(jp_fetch, parts, method=method, body=body)
        assert code == 400 and "colour" in message, (parts, message)


async def test_durations_in_bodies_take_the_seconds_names(jp_fetch, seeded):
    """Request bodies take the names answers use (timeout_seconds, retry_backoff_seconds);
    the old names stay accepted; a name and its alias that disagree are a 400 naming both."""

    async def send(method, parts, body):
        response = await jp_fetch("mlinfra", "api", *parts, method=method, body=json.dumps(body))
        return json.loads(response.body)

    job = await send(
        "POST",
        ("jobs",),
        {
            "name": "timed",
            "notebook": "ok.ipynb",
            "timeout_seconds": 120,
            "retry_backoff_seconds": 5,
        },
    )
    assert (job["timeout_seconds"], job["retry_backoff_seconds"]) == (120, 5)
    job = await send("PATCH", ("jobs", "timed"), {"timeout_seconds": 60})
    assert (job["timeout_seconds"], job["retry_backoff_seconds"]) == (60, 5)
    job = await send("PATCH", ("jobs", "timed"), {"timeout": 90, "retry_backoff": 7})
    assert (job["timeout_seconds"], job["retry_backoff_seconds"]) == (90, 7)
    run = await send("POST", ("jobs", "timed", "run"), {"timeout_seconds": 30})
    assert run["timeout_seconds"] == 30
    run = await send("POST", ("runs",), {"notebook": "ok.ipynb", "timeout_seconds": 40})
    assert run["timeout_seconds"] == 40
    sweep = await send(
        "POST",
        ("sweeps",),
        {"notebook": "ok.ipynb", "grid": {"x": [1, 2]}, "timeout_seconds": 50},
    )
    for run_id in sweep["run_ids"]:
        assert (await _get(jp_fetch, ("runs", run_id)))["timeout_seconds"] == 50
    same = await send("PATCH", ("jobs", "timed"), {"timeout_seconds": 10, "timeout": 10})
    assert same["timeout_seconds"] == 10
    for method, parts, body in (
        (
            "POST",
            ("jobs",),
            {"name": "t2", "notebook": "ok.ipynb", "timeout_seconds": 1, "timeout": 2},
        ),
        ("PATCH", ("jobs", "timed"), {"retry_backoff_seconds": 1, "retry_backoff": 2}),
        ("POST", ("jobs", "timed", "run"), {"timeout_seconds": 1, "timeout": 2}),
        ("POST", ("runs",), {"notebook": "ok.ipynb", "timeout_seconds": 1, "timeout": 2}),
        (
            "POST",
            ("sweeps",),
            {"notebook": "ok.ipynb", "grid": {"x": [1]}, "timeout_seconds": 1, "timeout": 2},
        ),
    ):
        code, message = await _refused(jp_fetch, parts, method=method, body=body)
        name = "timeout" if "timeout" in body else "retry_backoff"
        assert code == 400 and f"{name}_seconds" in message and f"alias {name} " in message, (
            parts,
            message,
        )
    assert (await _get(jp_fetch, ("jobs", "timed")))["timeout_seconds"] == 10  # nothing written

    from jupyter_mlinfra import jobs

    created = jobs.create(
        "py-timed", "ok.ipynb", root_dir=str(seeded), timeout_seconds=15, retry_backoff_seconds=3
    )
    assert (created["timeout_seconds"], created["retry_backoff_seconds"]) == (15, 3)


def _matches(tags, terms) -> bool:
    """The tag rule of docs/api.md, on an answer's ``tags`` (labels or key=value)."""
    if isinstance(tags, dict):
        return all(
            term.partition("=")[0] in tags
            and ("=" not in term or str(tags[term.partition("=")[0]]) == term.partition("=")[2])
            for term in terms
        )
    return all(term in tags for term in terms)


async def test_the_tag_filter_means_the_same_on_every_list(jp_fetch, seeded):
    """tag=NAME: a label NAME or a key NAME (any value); tag=NAME=VALUE: that pair (a label
    "NAME=VALUE" on labelled things); repeated: all hold. Checked on every list with tag."""
    import asyncio

    from jupyter_mlinfra.core.workspace import Workspace

    async def send(method, parts, body):
        response = await jp_fetch("mlinfra", "api", *parts, method=method, body=json.dumps(body))
        return json.loads(response.body)

    await send(
        "POST",
        ("jobs",),
        {"name": "delta", "notebook": "ok.ipynb", "tags": ["nightly", "team=risk"]},
    )
    await send("PATCH", ("features", "views", "spend"), {"tags": ["nightly", "team=risk"]})
    await send("PATCH", ("features", "views", "clicks"), {"tags": ["team"]})
    await send("PATCH", ("models", "churn"), {"tags": {"nightly": "yes"}})
    await send("PATCH", ("models", "ltv"), {"tags": {"stage": "prod"}})
    run = await send("POST", ("runs",), {"notebook": "ok.ipynb", "tags": ["nightly", "team=risk"]})
    ws = Workspace.open()
    try:  # one executed notebook for /notebooks
        done = await asyncio.to_thread(ws.service("jobs").run_and_wait, run["id"], 300)
    finally:
        ws.close()
    assert done["state"] == "succeeded", done.get("error")

    lists = {
        "/jobs": ("jobs",),
        "/runs": ("runs",),
        "/models": ("models",),
        "/model-versions": ("model-versions",),
        "/features": ("features",),
        "/notebooks": ("notebooks",),
    }
    key = {"/jobs": "name", "/models": "name", "/features": "name"}
    filters = (
        ["nightly"],
        ["team"],
        ["team=risk"],
        ["stage=prod"],
        ["nightly", "team=risk"],
        ["nightly", "team"],
        ["absent"],
    )

    def ident(path, item):
        if path == "/model-versions":
            return (item["name"], item["version"])
        return item[key.get(path, "id")]

    # a model version holds its model's tags and its own (its own win)
    version_tags = {}
    for model in (await _get(jp_fetch, ("models",), limit=200))["items"]:
        detail = await _get(jp_fetch, ("models", model["name"]))
        for version in detail["versions"]:
            version_tags[(model["name"], version["version"])] = {
                **detail["tags"],
                **version["tags"],
            }

    def want_of(path, everything, terms):
        if path == "/model-versions":
            return sorted(k for k, tags in version_tags.items() if _matches(tags, terms))
        if path == "/models":
            return sorted({k[0] for k, tags in version_tags.items() if _matches(tags, terms)})
        return sorted(ident(path, i) for i in everything if _matches(i["tags"], terms))

    matched: dict[str, set] = {}
    for path, parts in lists.items():
        everything = (await _get(jp_fetch, parts, limit=200))["items"]
        assert everything, path
        for terms in filters:
            response = await jp_fetch(
                "mlinfra", "api", *parts, params=[*(("tag", t) for t in terms), ("limit", "200")]
            )
            got = sorted(ident(path, i) for i in json.loads(response.body)["items"])
            want = want_of(path, everything, terms)
            assert got == want, (path, terms, got, want)
            if got:
                matched.setdefault(path, set()).add(tuple(terms))
    # not vacuous: every list found something under a name, a pair and repeated terms
    for path in lists:
        assert {("nightly",), ("team=risk",), ("nightly", "team=risk")} <= matched[path], (
            path,
            matched.get(path),
        )
    assert {("team",), ("stage=prod",)} <= matched["/models"]  # a key, any value; a pair
    assert ("team",) in matched["/features"]  # the label "team" alone


def _times(value, where="") -> list[tuple[str, str]]:
    """Every (where, text) in an answer that is a time."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _times(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in _times(v, f"{where}[{i}]")]
    return [(where, value)] if isinstance(value, str) and ISO_TIME.match(value) else []


async def test_times_are_iso_utc_with_z_everywhere(jp_fetch, seeded):
    answers = {
        path: await _get(jp_fetch, path.strip("/").replace("{name}", "fraud").split("/"))
        for path in SEEDED
    }
    run_id = answers["/runs"]["items"][0]["id"]
    for parts in (
        ("jobs", "alpha"),
        ("runs", run_id),
        ("models", "fraud"),
        ("models", "fraud", "versions", "1"),
        ("features", "views", "spend"),
        ("jobs", "scheduler"),
    ):
        answers["/".join(parts)] = await _get(jp_fetch, parts)
    answers["schedule-preview"] = await _get(
        jp_fetch, ("jobs", "schedule-preview"), schedule="0 6 * * *"
    )
    online = await jp_fetch(
        "mlinfra",
        "api",
        "features",
        "online",
        method="POST",
        body=json.dumps({"features": ["spend:amount"], "entity_rows": [{"customer_id": 1}]}),
    )
    answers["online"] = json.loads(online.body)
    found = [
        (name + where, text) for name, answer in answers.items() for where, text in _times(answer)
    ]
    assert any(name.startswith("online") for name, _ in found), "no time in the lookup"
    assert len(found) > 20
    wrong = [
        (where, text) for where, text in found if not text.endswith("Z") and "_local" not in where
    ]
    assert not wrong, wrong[:10]
    runs = answers["/runs"]["items"]
    assert all("duration_seconds" in r and "timeout_seconds" in r for r in runs)


# -- the Python API ----------------------------------------------------------------------------
def test_python_lists_page_through_and_pages_are_the_envelope(seeded):
    from jupyter_mlinfra import features, jobs, models
    from jupyter_mlinfra.core.workspace import get_workspace

    get_workspace(refresh=True)  # this test's MLINFRA_HOME
    try:
        assert [j["name"] for j in jobs.list_jobs()] == ["alpha", "bravo", "charlie"]
        page = jobs.list_jobs_page(limit=2)
        assert list(page) == ENVELOPE and page["total"] == 3 and page["next_cursor"]
        assert [j["name"] for j in jobs.list_jobs_page(cursor=page["next_cursor"])["items"]] == [
            "charlie"
        ]
        assert len(jobs.runs()) == 3 and len(jobs.runs(limit=2)) == 2
        assert jobs.runs(offset=1) == jobs.runs()[1:]
        assert [m["name"] for m in models.list_models()] == ["churn", "fraud", "ltv"]
        assert models.versions_page("fraud", limit=2)["total"] == 3
        assert [v["version"] for v in models.search_page("fraud", limit=5)["items"]] == [3, 2, 1]
        assert len(models.search()) == 5
        assert features.list_views_page(limit=1)["total"] == 3
        assert features.list_entities_page(q="store")["items"][0]["name"] == "store"
    finally:
        get_workspace().close()
