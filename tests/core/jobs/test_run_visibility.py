"""Who reads a run, its output and its log: its job's visibility (a run without a job: its
own, team by default), for the team of its owner as the deployment configures it."""

from __future__ import annotations

import pytest

from jupyter_mlinfra.core.errors import InvalidInput, NotFound, PermissionDenied
from tests.core.people import workspace_as

TEAMS = {"alice": "fraud", "carol": "fraud", "bob": "risk"}


def _people(ws, **extra):
    return {
        name: workspace_as(ws, name, teams=TEAMS, **extra).service("jobs")
        for name in ("alice", "bob", "carol")
    }


def _unreadable(jobs, run_id: str) -> None:
    for read in (
        jobs.get_run,
        jobs.run_output,
        jobs.run_input,
        jobs.run_log,
        jobs.run_artifacts,
        jobs.cancel_run,
        jobs.retry_run,
    ):
        with pytest.raises(NotFound, match=f"no run '{run_id}'"):
            read(run_id)


def test_another_team_cannot_read_a_team_run_its_output_or_its_log(jobs_ws, monkeypatch):
    people = _people(jobs_ws)
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    run = alice.submit("ok.ipynb", parameters={"x": 21})
    done = alice.run_and_wait(run["id"], timeout=240)
    assert done["state"] == "succeeded", done.get("error")
    assert done["visibility"] == "team" and done["team"] == "fraud"

    # carol, of alice's team, reads all of it
    assert carol.get_run(run["id"])["metrics"]["y"] == 42
    assert any("y is 42" in line["text"] for line in carol.run_log(run["id"])["lines"])
    assert b"y is" in carol.run_output(run["id"])
    assert [r["id"] for r in carol.list_runs()["items"]] == [run["id"]]
    with pytest.raises(PermissionDenied):  # reading is not changing
        carol.retry_run(run["id"])

    # bob, of another team, gets "not found" (run ids do not leak) and an empty list
    _unreadable(bob, run["id"])
    assert bob.list_runs() == {
        "items": [],
        "total": 0,
        "total_exact": True,
        "limit": 50,
        "offset": 0,
        "next_cursor": None,
    }
    assert bob.list_runs(q="ok")["total"] == 0

    # a team bob sets for himself gains nothing: the old setting, the environment, a
    # mapping in his own settings is not what the deployment configured
    monkeypatch.setenv("MLINFRA_TEAM", "fraud")
    _unreadable(workspace_as(jobs_ws, "bob", teams=TEAMS).service("jobs"), run["id"])

    # an auditor reads every run; an admin may also act on it
    auditor = workspace_as(jobs_ws, "dan", roles={"dan": ["auditor"]}).service("jobs")
    assert auditor.get_run(run["id"])["owner"] == "alice"
    assert auditor.list_runs()["total"] == 1
    with pytest.raises(PermissionDenied):
        auditor.retry_run(run["id"])
    admin = workspace_as(
        jobs_ws, "erin", groups=["ml-admins"], roles={"group:ml-admins": ["admin"]}
    ).service("jobs")
    assert admin.retry_run(run["id"])["owner"] == "alice"


def test_runs_follow_their_jobs_visibility(jobs_ws):
    people = _people(jobs_ws)
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    alice.create_job("nightly", "ok.ipynb", visibility="private")
    private_run = alice.run_job("nightly")
    _unreadable(carol, private_run["id"])
    assert carol.list_runs()["total"] == 0

    with pytest.raises(InvalidInput, match="has the job's visibility"):
        alice.run_job("nightly", visibility="public")
    alice.update_job("nightly", visibility="public")  # earlier runs follow their job
    assert bob.get_run(private_run["id"])["owner"] == "alice"
    assert [r["id"] for r in bob.list_runs(job="alice/nightly")["items"]] == [private_run["id"]]
    public_run = alice.submit("ok.ipynb", visibility="private")
    assert carol.list_runs()["total"] == 1
    _unreadable(carol, public_run["id"])


def test_search_text_matches_wildcards_literally(jobs):
    jobs.create_job("daily_report", "ok.ipynb", description="100% of rows")
    jobs.create_job("daily-digest", "ok.ipynb")
    jobs.submit("ok.ipynb")
    assert [j["name"] for j in jobs.list_jobs(q="y_r")] == ["daily_report"]
    assert [j["name"] for j in jobs.list_jobs(q="100%")] == ["daily_report"]
    assert [j["name"] for j in jobs.list_jobs(q="%")] == ["daily_report"]
    assert jobs.list_runs(q="_")["total"] == 0 and jobs.list_runs(q="%")["total"] == 0
    assert jobs.list_runs(q="ok.")["total"] == 1
    assert jobs.list_runs(notebook="o_")["total"] == 0


def test_a_run_acts_with_its_owners_team_and_roles(jobs_ws, nb_root):
    from .notebooks import write

    write(
        nb_root / "who.ipynb",
        None,
        "from jupyter_mlinfra.core.workspace import get_workspace\n"
        "me = get_workspace().identity\n"
        "print('identity', me.user, list(me.teams), sorted(me.roles))",
    )
    # alice's groups come from the identity provider, her role from the configuration the
    # scheduler has (the kernel sees neither)
    alice = workspace_as(jobs_ws, "alice", groups=["fraud"], roles={"alice": ["auditor"]}).service(
        "jobs"
    )
    run = alice.submit("who.ipynb")
    done = alice.run_and_wait(run["id"], timeout=240)
    assert done["state"] == "succeeded", done.get("error")
    output = alice.run_output(run["id"]).decode()
    assert "identity alice ['fraud'] ['auditor']" in output, output
