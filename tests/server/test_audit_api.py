"""GET /mlinfra/api/audit: who did what over REST, for named users whose groups the identity
provider (JupyterHub, here its stand-in) authenticates. Admins and auditors read every
user's entries; anyone else their own."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from tests.server.conftest import NamedUsers


@pytest.fixture
def jp_server_config(mlinfra_env):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlinfra": True},
            "identity_provider_class": NamedUsers,
        },
        "MLInfra": {"roles": {"group:ml-admins": ["admin"], "carol": "auditor"}},
    }


async def _error(request) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as err:
        await request
    return err.value.code, json.loads(err.value.response.body)["error"]


async def _audit(fetch, **params) -> dict:
    return json.loads((await fetch("mlinfra", "api", "audit", params=params)).body)


async def test_alias_moves_and_refusals_over_rest(as_user, mlinfra_env):
    from sklearn.dummy import DummyClassifier

    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace.open(user="alice")
    model = DummyClassifier().fit([[0], [1]], [0, 1])
    ws.service("models").register("churn", model, figures=[])
    ws.service("models").register("churn", model, figures=[])
    ws.close()
    alice, bob = as_user("alice", "fraud"), as_user("bob", "fraud")
    admin, carol = as_user("erin", "ml-admins"), as_user("carol")
    r = await alice(
        "mlinfra",
        "api",
        "models",
        "churn",
        "aliases",
        "production",
        method="PUT",
        body=json.dumps({"version": 1, "protected": True}),
    )
    assert r.code == 200
    code, _ = await _error(
        bob(
            "mlinfra",
            "api",
            "models",
            "churn",
            "aliases",
            "production",
            method="PUT",
            body=json.dumps({"version": 2}),
        )
    )
    assert code == 403

    page = await _audit(admin)
    assert [(e["user"], e["action"], e["target"], e["outcome"]) for e in page["items"]] == [
        ("bob", "models.alias", "churn", "denied"),
        ("alice", "models.alias", "churn", "ok"),
        ("alice", "models.register", "churn", "ok"),
        ("alice", "models.register", "churn", "ok"),
    ]
    assert set(page) == {"items", "total", "total_exact", "limit", "offset", "next_cursor"}
    assert "belongs to alice" in page["items"][0]["detail"]
    # an auditor reads everything, filtered; a user reads their own lines only
    assert (await _audit(carol, user="bob", outcome="denied"))["total"] == 1
    assert [e["user"] for e in (await _audit(bob))["items"]] == ["bob"]
    assert [e["user"] for e in (await _audit(alice, action="models.alias"))["items"]] == ["alice"]
    code, error = await _error(bob("mlinfra", "api", "audit", params={"user": "alice"}))
    assert (code, error["code"]) == (403, "permission_denied")
    # pages by cursor
    first = await _audit(admin, limit=3)
    second = await _audit(admin, limit=3, cursor=first["next_cursor"])
    assert second["items"][0]["id"] < first["items"][-1]["id"] and second["next_cursor"] is None
    assert len(second["items"]) == 1
    # bad parameters are a 400 naming them, checked at the door
    for params, name in (
        ({"limit": "0"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"outcome": "maybe"}, "outcome"),
    ):
        code, error = await _error(admin("mlinfra", "api", "audit", params=params))
        assert code == 400 and name in error["message"]
