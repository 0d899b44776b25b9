"""REST doors of the jobs capability, with the scheduler running inside the server."""

from __future__ import annotations

import json

import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from tornado.httpclient import HTTPClientError

from tests.core.jobs.notebooks import make_root


class BobIdentity(IdentityProvider):
    """Every token-authenticated request is the Jupyter user "bob" (not a random one)."""

    def generate_anonymous_user(self, handler):
        return User(username="bob", name="bob", display_name="Bob")


@pytest.fixture
def jp_server_config(mlinfra_env):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlinfra": True},
            "identity_provider_class": BobIdentity,
        }
    }


@pytest.fixture
def nb_root(jp_root_dir, monkeypatch):
    monkeypatch.setenv("MLINFRA_JOBS_POLL_INTERVAL", "0.2")
    monkeypatch.setenv("MLINFRA_JOBS_WORKERS", "1")
    monkeypatch.setenv("MLINFRA_JOBS_RECORD_PROVENANCE", "false")  # covered in core tests
    return make_root(jp_root_dir)


async def _post(jp_fetch, *path, body):
    return await jp_fetch("mlinfra", "api", *path, method="POST", body=json.dumps(body))


async def _error(coro) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as err:
        await coro
    return err.value.code, json.loads(err.value.response.body)["error"]


async def test_job_crud_and_refusals_with_4xx_and_a_message(jp_fetch, nb_root):
    r = await _post(
        jp_fetch,
        "jobs",
        body={
            "name": "prepare",
            "notebook": "ok.ipynb",
            "schedule": "0 6 * * *",
            "timezone": "Europe/Paris",
        },
    )
    assert r.code == 201
    job = json.loads(r.body)
    assert len(job["next_fire_times"]) == 5
    code, err = await _error(
        _post(
            jp_fetch, "jobs", body={"name": "bad", "notebook": "ok.ipynb", "schedule": "every day"}
        )
    )
    assert code == 400 and "invalid cron expression" in err["message"]
    code, err = await _error(
        _post(jp_fetch, "jobs", body={"name": "x", "notebook": "missing.ipynb"})
    )
    assert code == 404 and "unknown notebook" in err["message"]
    code, err = await _error(
        _post(jp_fetch, "jobs", body={"name": "x", "notebook": "../escape.ipynb"})
    )
    assert code == 400 and "outside the server root" in err["message"]
    code, err = await _error(
        _post(
            jp_fetch, "jobs", body={"name": "x", "notebook": "ok.ipynb", "parameters": {"nope": 1}}
        )
    )
    assert code == 400 and "unknown parameter nope" in err["message"]
    await _post(
        jp_fetch, "jobs", body={"name": "train", "notebook": "ok.ipynb", "depends_on": ["prepare"]}
    )
    code, err = await _error(
        jp_fetch(
            "mlinfra",
            "api",
            "jobs",
            "prepare",
            method="PATCH",
            body=json.dumps({"depends_on": ["train"]}),
        )
    )
    assert code == 409 and "prepare -> train -> prepare" in err["message"]
    r = await _post(jp_fetch, "jobs", "prepare", "pause", body={})
    assert json.loads(r.body)["active"] is False
    listed = json.loads((await jp_fetch("mlinfra", "api", "jobs")).body)["items"]
    assert [j["name"] for j in listed] == ["prepare", "train"]
    preview = json.loads(
        (
            await jp_fetch(
                "mlinfra",
                "api",
                "jobs",
                "schedule-preview",
                params={"schedule": "*/15 * * * *", "timezone": "Asia/Tokyo"},
            )
        ).body
    )
    assert len(preview["next_fire_times"]) == 5
    params = json.loads(
        (
            await jp_fetch(
                "mlinfra", "api", "jobs", "notebook-parameters", params={"notebook": "ok.ipynb"}
            )
        ).body
    )
    assert [(p["name"], p["inferred_type_name"]) for p in params["parameters"]] == [
        ("x", "int"),
        ("label", "str"),
    ]


@pytest.fixture
def quota_of_one(monkeypatch):
    monkeypatch.setenv("MLINFRA_JOBS_MAX_QUEUED_PER_USER", "1")
    monkeypatch.setenv("MLINFRA_JOBS_SCHEDULER_IN_SERVER", "false")


async def test_quota_refusal_is_429_naming_the_quota(quota_of_one, jp_fetch, nb_root):
    status = json.loads((await jp_fetch("mlinfra", "api", "jobs", "scheduler")).body)
    assert status["in_server"] is False  # configurable: off here
    await _post(jp_fetch, "runs", body={"notebook": "ok.ipynb"})
    code, err = await _error(_post(jp_fetch, "runs", body={"notebook": "ok.ipynb"}))
    assert code == 429 and "max_queued" in err["message"]


async def test_run_executes_in_the_server_scheduler(jp_fetch, nb_root, await_until):
    r = await _post(
        jp_fetch, "runs", body={"notebook": "ok.ipynb", "parameters": {"x": 4}, "tags": ["api"]}
    )
    run = json.loads(r.body)
    assert r.code == 201 and run["state"] == "queued"

    async def ended() -> dict | None:
        now = json.loads((await jp_fetch("mlinfra", "api", "runs", run["id"])).body)
        return now if now["state"] not in ("queued", "running") else None

    run = await await_until(ended, "the run to end", timeout=120, interval=0.1)
    assert run["state"] == "succeeded", run["error"]
    assert run["metrics"]["y"] == 8.0
    out = await jp_fetch("mlinfra", "api", "runs", run["id"], "output")
    assert json.loads(out.body)["nbformat"] == 4 and json.loads(out.body)["cells"]
    assert out.headers["Content-Type"] == "application/x-ipynb+json"
    log = json.loads((await jp_fetch("mlinfra", "api", "runs", run["id"], "log")).body)
    assert any("y is 8" in line["text"] for line in log["lines"])
    more = json.loads(
        (
            await jp_fetch(
                "mlinfra", "api", "runs", run["id"], "log", params={"offset": log["next_offset"]}
            )
        ).body
    )
    assert more["lines"] == []
    page = json.loads(
        (
            await jp_fetch(
                "mlinfra", "api", "runs", params={"tag": "api", "limit": 1, "param.x": "4"}
            )
        ).body
    )
    assert page["total"] == 1 and page["items"][0]["id"] == run["id"]
    code, err = await _error(_post(jp_fetch, "runs", run["id"], "cancel", body={}))
    assert code == 409
    again = json.loads((await _post(jp_fetch, "runs", run["id"], "retry", body={})).body)
    assert again["trigger"] == "retry"
    status = json.loads((await jp_fetch("mlinfra", "api", "jobs", "scheduler")).body)
    assert status["in_server"] is True and status["scheduler"]["running"] is True


async def test_openapi_describes_jobs_and_runs(jp_fetch):
    doc = json.loads((await jp_fetch("mlinfra", "api", "openapi.json")).body)
    for path in (
        "/jobs",
        "/jobs/{ref}",
        "/runs",
        "/runs/{run_id}/cancel",
        "/runs/{run_id}/output",
        "/runs/{run_id}/log",
        "/sweeps",
    ):
        assert path in doc["paths"]
    assert "429" in doc["paths"]["/runs"]["post"]["responses"]


async def test_run_search_pages_by_cursor_with_filters_and_names_bad_parameters(jp_fetch, nb_root):
    import random

    from jupyter_mlinfra.core.workspace import Workspace
    from tests.core.jobs.test_run_search import add_runs, expected, run_row

    ws = Workspace.open()  # the server's catalog (same MLINFRA_HOME)
    rng = random.Random(5)
    rows = [run_row(rng, i) for i in range(60)]
    add_runs(ws.service("jobs"), rows)
    ws.close()

    async def walk(**query):
        ids, cursor = [], None
        while True:
            params = {"limit": "8", **query, **({"cursor": cursor} if cursor else {})}
            page = json.loads((await jp_fetch("mlinfra", "api", "runs", params=params)).body)
            assert set(page) == {"items", "total", "total_exact", "limit", "offset", "next_cursor"}
            for item in page["items"]:
                assert "environment" not in item and "history" not in item
            ids += [r["id"] for r in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return ids, page["total"]

    ids, total = await walk()
    assert ids == expected(rows) and total == 60
    since = rows[20]["created_at"]
    ids, total = await walk(
        **{"tag": "gpu", "param.lr": "0.1", "since": since.isoformat().replace("+00:00", "Z")}
    )
    want = expected(rows, tag="gpu", parameters={"lr": 0.1}, since=since)
    assert ids == want and total == len(want)
    one = json.loads((await jp_fetch("mlinfra", "api", "runs", rows[0]["id"])).body)
    assert one["environment"]["packages"]
    for name, value in [
        ("limit", "0"),
        ("limit", "5000"),
        ("limit", "many"),
        ("cursor", "garbage"),
        ("since", "last week"),
        ("until", "2026-02-30"),
    ]:
        code, err = await _error(jp_fetch("mlinfra", "api", "runs", params={name: value}))
        assert code == 400 and name in err["message"], (name, err)


async def test_a_cursor_given_back_with_other_filters_is_a_400(jp_fetch, nb_root):
    import random

    from jupyter_mlinfra.core.workspace import Workspace
    from tests.core.jobs.test_run_search import add_runs, run_row

    ws = Workspace.open()  # the server's catalog (same MLINFRA_HOME)
    add_runs(ws.service("jobs"), [run_row(random.Random(9), i) for i in range(30)])
    ws.close()
    first = json.loads(
        (await jp_fetch("mlinfra", "api", "runs", params={"limit": "2", "tag": "gpu"})).body
    )
    cursor = first["next_cursor"]
    page = json.loads(
        (
            await jp_fetch(
                "mlinfra", "api", "runs", params={"limit": "2", "tag": "gpu", "cursor": cursor}
            )
        ).body
    )
    assert page["items"] and page["items"][0]["id"] not in {r["id"] for r in first["items"]}
    for other in [{"tag": "night"}, {}, {"tag": "gpu", "state": "failed"}]:
        code, err = await _error(
            jp_fetch("mlinfra", "api", "runs", params={"limit": "2", "cursor": cursor, **other})
        )
        assert code == 400 and err["message"].startswith("cursor"), (other, err)
    code, err = await _error(
        jp_fetch("mlinfra", "api", "features", params={"limit": "2", "cursor": cursor})
    )
    assert code == 400 and "cursor" in err["message"]
