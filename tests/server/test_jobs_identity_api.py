"""A run never acts as someone else, over REST, for named users whose groups the identity
provider (JupyterHub, here its stand-in) authenticates: a downstream run is its own job's
owner's, depending on another user's job needs its leave, and running it needs a role."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from tests.core.jobs.notebooks import make_root
from tests.server.conftest import NamedUsers


@pytest.fixture
def jp_server_config(mlinfra_env, monkeypatch):
    # runs stay queued: who owns them is the point here, not their execution
    monkeypatch.setenv("MLINFRA_JOBS_SCHEDULER_IN_SERVER", "false")
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlinfra": True},
            "identity_provider_class": NamedUsers,
        },
        "MLInfra": {"roles": {"group:ml-admins": ["admin"]}},
    }


@pytest.fixture
def nb_root(jp_root_dir):
    return make_root(jp_root_dir)


async def _post(fetch, *path, body):
    return json.loads(
        (await fetch("mlinfra", "api", *path, method="POST", body=json.dumps(body))).body
    )


async def _refused(request) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as err:
        await request
    return err.value.code, json.loads(err.value.response.body)["error"]["message"]


async def test_jobs_of_other_users_over_rest(as_user, nb_root):
    alice, bob = as_user("alice", "fraud"), as_user("bob", "fraud")
    carol, erin = as_user("carol", "risk"), as_user("erin", "ml-admins")
    private = await _post(
        alice, "jobs", body={"name": "prep", "notebook": "ok.ipynb", "visibility": "private"}
    )
    team = await _post(alice, "jobs", body={"name": "features", "notebook": "ok.ipynb"})
    assert (private["visibility"], team["visibility"], team["team"]) == ("private", "team", "fraud")
    code, message = await _refused(
        alice(
            "mlinfra",
            "api",
            "jobs",
            method="POST",
            body=json.dumps({"name": "odd", "notebook": "ok.ipynb", "visibility": "everyone"}),
        )
    )
    assert code == 400
    # depending on another user's job: only with its leave
    code, message = await _refused(
        bob(
            "mlinfra",
            "api",
            "jobs",
            method="POST",
            body=json.dumps(
                {"name": "train", "notebook": "ok.ipynb", "depends_on": ["alice/prep"]}
            ),
        )
    )
    assert code == 403 and "private" in message
    code, _ = await _refused(
        carol(
            "mlinfra",
            "api",
            "jobs",
            method="POST",
            body=json.dumps(
                {"name": "train", "notebook": "ok.ipynb", "depends_on": ["alice/features"]}
            ),
        )
    )
    assert code == 403
    train = await _post(
        bob,
        "jobs",
        body={"name": "train", "notebook": "ok.ipynb", "depends_on": ["alice/features"]},
    )
    # Alice runs her job: Bob's downstream run is Bob's, not Alice's
    run = await _post(alice, "jobs", "features", "run", body={})
    downstream = [r for r in run["pipeline_run_ids"] if r != run["id"]]
    assert run["owner"] == "alice" and len(downstream) == 1
    got = json.loads((await bob("mlinfra", "api", "runs", downstream[0])).body)
    assert (got["owner"], got["job_id"], got["trigger"]) == ("bob", train["id"], "dependency")
    # running another user's job: refused, or (an admin) run as its owner
    code, message = await _refused(
        bob("mlinfra", "api", "jobs", private["id"], "run", method="POST", body="{}")
    )
    assert code == 403 and "only its owner" in message
    by_admin = await _post(erin, "jobs", private["id"], "run", body={})
    assert by_admin["owner"] == "alice"
