"""Jobs in remote mode: the public Python API and the CLI against a real service process,
whose scheduler runs the notebooks; two users, identity from their tokens."""

from __future__ import annotations

import json

import pytest

from jupyter_mlinfra.core.errors import InvalidInput, NotFound, PermissionDenied


@pytest.fixture
def as_alice(service, monkeypatch):
    """The public modules (``jupyter_mlinfra.jobs``...) in remote mode as alice."""
    from jupyter_mlinfra.core.workspace import get_workspace

    monkeypatch.setenv("MLINFRA_SERVICE_URL", service.url)
    monkeypatch.setenv("MLINFRA_SERVICE_TOKEN", service.token("alice"))
    ws = get_workspace(refresh=True)
    assert ws.remote is not None
    yield ws
    ws.remote.close()


def test_run_wait_list_get_log_output_through_the_public_api(service, as_alice):
    from jupyter_mlinfra import jobs

    run = jobs.run("train.ipynb", parameters={"x": 21}, wait=True, visibility="private")
    assert run["state"] == "succeeded" and run["owner"] == "alice"
    assert run["metrics"]["score"] == 42
    assert "x is 21" in jobs.log(run["id"])
    output = jobs.output(run["id"])
    assert any(
        "x is 21" in "".join(o.get("text", "")) for c in output.cells for o in c.get("outputs", [])
    )
    assert jobs.get_run(run["id"])["parameters"] == {"x": 21}
    assert run["id"] in [r["id"] for r in jobs.runs(notebook="train.ipynb")]
    page = jobs.runs_page(limit=1)
    assert len(page["items"]) == 1 and page["total"] >= 1


def test_jobs_create_run_pause_delete_and_errors_keep_their_class(service, as_alice):
    from jupyter_mlinfra import jobs

    job = jobs.create(
        "nightly", "train.ipynb", parameters={"x": 2}, schedule="0 2 * * *", timezone="Europe/Paris"
    )
    assert job["owner"] == "alice" and job["next_fire_times"]
    assert "nightly" in [j["name"] for j in jobs.list_jobs()]
    assert jobs.pause("nightly")["active"] is False
    assert jobs.resume("nightly")["active"] is True
    run = jobs.run(job="nightly", wait=True)
    assert run["state"] == "succeeded" and run["metrics"]["score"] == 4
    with pytest.raises(NotFound):
        jobs.get("no-such-job")
    with pytest.raises(InvalidInput):
        jobs.create("bad", "train.ipynb", schedule="not a cron")
    jobs.delete("nightly")
    with pytest.raises(NotFound):
        jobs.get("nightly")


def test_other_users_cannot_read_or_cancel_a_private_run(service, remote):
    alice = remote(service, "alice").service("jobs")
    bob = remote(service, "bob").service("jobs")
    carol = remote(service, "carol").service("jobs")  # admin
    run = alice.submit("train.ipynb", parameters={"sleep": 120}, visibility="private")
    try:
        with pytest.raises(NotFound):
            bob.get_run(run["id"])
        assert run["id"] not in [r["id"] for r in bob.list_runs()["items"]]
        with pytest.raises((NotFound, PermissionDenied)):
            bob.cancel_run(run["id"])
        assert carol.get_run(run["id"])["owner"] == "alice"
    finally:
        cancelled = alice.cancel_run(run["id"])
    assert cancelled["id"] == run["id"]
    final = alice.wait_for_runs([run["id"]], timeout=300)[0]
    assert final["state"] == "cancelled"


def test_notebook_paths_outside_the_service_root_are_refused(service, remote):
    alice = remote(service, "alice").service("jobs")
    for path in ("../outside.ipynb", "/etc/passwd"):
        with pytest.raises((InvalidInput, PermissionDenied, NotFound)):
            alice.submit(path)


def test_cli_run_wait_runs_log_cancel_in_remote_mode(service, cli, tmp_path):
    done = cli(service, "bob", "run", "train.ipynb", "-p", "x", "5", "--wait", "--json")
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["owner"] == "bob" and run["metrics"]["score"] == 10
    listed = cli(service, "bob", "runs", "--json")
    assert run["id"] in [r["id"] for r in json.loads(listed.stdout)["items"]]
    log = cli(service, "bob", "log", run["id"])
    assert log.returncode == 0 and "x is 5" in log.stdout
    missing = cli(service, "bob", "log", "0" * 32)
    assert missing.returncode == 3 and "Traceback" not in missing.stderr
    # the CLI opened nothing of its own
    assert not (tmp_path / "cli-home-bob" / "catalog.db").exists()


def test_list_jobs_page_through_the_public_api(service, as_alice):
    from jupyter_mlinfra import jobs

    for name in ("paged-a", "paged-b"):
        jobs.create(name, "train.ipynb", schedule="0 3 * * *")
    try:
        page = jobs.list_jobs_page(owner="alice", q="paged", limit=1)
        assert [j["name"] for j in page["items"]] == ["paged-a"]
        assert page["total"] == 2 and page["next_cursor"]
        rest = jobs.list_jobs_page(owner="alice", q="paged", cursor=page["next_cursor"])
        assert [j["name"] for j in rest["items"]] == ["paged-b"]
    finally:
        for name in ("paged-a", "paged-b"):
            jobs.delete(name)
