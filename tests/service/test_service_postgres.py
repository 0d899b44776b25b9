"""The central service on a PostgreSQL catalog: two users' identities, a job run by its
scheduler, and the model store, through clients in remote mode."""

from __future__ import annotations

import pytest

from jupyter_mlinfra.core.errors import NotFound

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(900)]


def test_service_on_postgresql(pg_service, remote):
    alice, bob = remote(pg_service, "alice"), remote(pg_service, "bob")
    health = alice.health()
    assert health["catalog"]["backend"] == "postgresql" and health["user"] == "alice"
    assert "password" not in str(health) and bob.health()["user"] == "bob"
    jobs = alice.service("jobs")
    run = jobs.submit("train.ipynb", parameters={"x": 3}, visibility="private")
    done = jobs.wait_for_runs([run["id"]], timeout=600)[0]
    assert done["state"] == "succeeded" and done["metrics"]["score"] == 6
    assert done["owner"] == "alice"
    with pytest.raises(NotFound):
        bob.service("jobs").get_run(run["id"])
    assert [r["id"] for r in jobs.list_runs()["items"]] == [run["id"]]
