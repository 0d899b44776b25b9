"""Owners decide, over REST, for named users whose groups the identity provider (JupyterHub,
here its stand-in) authenticates: another user changes a model only with a role that allows
it, and reads a run, its output and its log only as its visibility says."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from tests.core.jobs.notebooks import make_root
from tests.server.conftest import NamedUsers


@pytest.fixture
def jp_server_config(mlinfra_env, monkeypatch):
    monkeypatch.setenv("MLINFRA_JOBS_POLL_INTERVAL", "0.2")
    monkeypatch.setenv("MLINFRA_JOBS_WORKERS", "1")
    monkeypatch.setenv("MLINFRA_JOBS_RECORD_PROVENANCE", "false")
    # a team set in the environment (the old `team` setting) grants nothing
    monkeypatch.setenv("MLINFRA_TEAM", "fraud")
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlinfra": True},
            "identity_provider_class": NamedUsers,
        },
        "MLInfra": {"roles": {"group:ml-admins": ["admin"]}},
    }


async def _status(request) -> int:
    try:
        return (await request).code
    except HTTPClientError as err:
        return err.code


def _patch(fetch, *path, body):
    return fetch("mlinfra", "api", *path, method="PATCH", body=json.dumps(body))


async def test_bob_cannot_change_alices_model_an_admin_can(as_user, mlinfra_env):
    from sklearn.dummy import DummyClassifier

    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace.open(user="alice")
    ws.service("models").register(
        "churn", DummyClassifier().fit([[0], [1]], [0, 1]), description="alice's", figures=[]
    )
    ws.close()
    alice, bob = as_user("alice", "fraud"), as_user("bob", "fraud")
    admin = as_user("erin", "ml-admins")
    for body in ({"description": "bob's"}, {"tags": {"stage": "prod"}}, {"remove_tags": ["owner"]}):
        assert await _status(_patch(bob, "models", "churn", body=body)) == 403
    for body in ({"archived": True}, {"description": "bob's"}):
        assert await _status(_patch(bob, "models", "churn", "versions", "1", body=body)) == 403
    card = json.loads((await bob("mlinfra", "api", "models", "churn")).body)
    assert card["description"] == "alice's" and card["versions"][0]["status"] == "ready"

    assert (
        await _status(_patch(admin, "models", "churn", "versions", "1", body={"archived": True}))
        == 200
    )
    assert (
        await _status(_patch(alice, "models", "churn", "versions", "1", body={"archived": False}))
        == 200
    )
    assert await _status(_patch(admin, "models", "churn", body={"description": "curated"})) == 200


async def test_another_team_cannot_read_a_team_run(as_user, jp_root_dir, await_until):
    make_root(jp_root_dir)
    alice, carol, bob = as_user("alice", "fraud"), as_user("carol", "fraud"), as_user("bob", "risk")
    r = await alice(
        "mlinfra",
        "api",
        "runs",
        method="POST",
        body=json.dumps({"notebook": "ok.ipynb", "parameters": {"x": 4}}),
    )
    run_id = json.loads(r.body)["id"]

    async def ended() -> dict | None:
        run = json.loads((await alice("mlinfra", "api", "runs", run_id)).body)
        return run if run["state"] not in ("queued", "running") else None

    run = await await_until(ended, "the run to end", timeout=120, interval=0.1)
    assert run["state"] == "succeeded", run["error"]
    assert (run["owner"], run["visibility"], run["team"]) == ("alice", "team", "fraud")

    for path in ((), ("output",), ("log",)):
        assert await _status(carol("mlinfra", "api", "runs", run["id"], *path)) == 200
        assert await _status(bob("mlinfra", "api", "runs", run["id"], *path)) == 404
    for action in ("cancel", "retry"):
        assert (
            await _status(
                bob("mlinfra", "api", "runs", run["id"], action, method="POST", body="{}")
            )
            == 404
        )
    listed = json.loads((await carol("mlinfra", "api", "runs")).body)
    assert [r["id"] for r in listed["items"]] == [run["id"]]
    assert json.loads((await bob("mlinfra", "api", "runs")).body)["total"] == 0
    # the error does not say whether the run exists
    with pytest.raises(HTTPClientError) as err:
        await bob("mlinfra", "api", "runs", run["id"])
    assert json.loads(err.value.response.body)["error"]["code"] == "not_found"


async def test_a_run_submitted_private_is_its_owners_and_q_matches_literally(as_user, jp_root_dir):
    make_root(jp_root_dir)
    alice, carol = as_user("alice", "fraud"), as_user("carol", "fraud")
    r = await alice(
        "mlinfra",
        "api",
        "runs",
        method="POST",
        body=json.dumps({"notebook": "ok.ipynb", "visibility": "private"}),
    )
    run = json.loads(r.body)
    assert run["visibility"] == "private"
    assert await _status(carol("mlinfra", "api", "runs", run["id"])) == 404
    assert await _status(alice("mlinfra", "api", "runs", run["id"])) == 200
    assert (
        await _status(
            alice(
                "mlinfra",
                "api",
                "runs",
                method="POST",
                body=json.dumps({"notebook": "ok.ipynb", "visibility": "everyone"}),
            )
        )
        == 400
    )
    for q, total in (("ok", 1), ("%", 0), ("_", 0), ("o_", 0)):
        page = json.loads((await alice("mlinfra", "api", "runs", params={"q": q})).body)
        assert page["total"] == total, q


async def test_health_says_who_the_server_thinks_you_are(as_user):
    carol = json.loads((await as_user("carol", "fraud", "ml")("mlinfra", "api", "health")).body)
    assert (carol["user"], carol["teams"], carol["roles"]) == ("carol", ["fraud", "ml"], [])
    # a group that grants a role is not a team
    erin = json.loads((await as_user("erin", "ml-admins")("mlinfra", "api", "health")).body)
    assert (erin["user"], erin["teams"], erin["roles"]) == ("erin", [], ["admin"])
