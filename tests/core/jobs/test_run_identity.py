"""A run never acts as someone else: each run of a pipeline is its own job's owner's, depending
on another user's job takes that job's leave (its visibility), and running another user's job
takes a role that may change it (the run is then still its owner's)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from jupyter_mlinfra.core.errors import InvalidInput, PermissionDenied, QuotaExceeded
from jupyter_mlinfra.core.jobs.tables import Run


@pytest.fixture
def team_ws(jobs_ws):
    """alice and bob in team fraud, carol in team risk, dave an admin."""
    settings = jobs_ws.config.settings
    settings.teams = {"alice": "fraud", "bob": ["fraud"], "carol": "risk"}
    settings.roles = {"dave": ["admin"]}
    return jobs_ws


def _jobs(ws, user):
    return ws.for_user(user).service("jobs")


def _owners(ws, run_ids):
    with ws.catalog.read_session() as s:
        rows = dict(s.execute(select(Run.id, Run.owner).where(Run.id.in_(run_ids))).all())
    return [rows[r] for r in run_ids]


def test_a_downstream_run_belongs_to_its_own_jobs_owner(team_ws):
    alice, bob = _jobs(team_ws, "alice"), _jobs(team_ws, "bob")
    alice.create_job("prepare", "ok.ipynb")  # team visibility (default)
    bob.create_job("train", "ok.ipynb", depends_on=["alice/prepare"])
    alice.create_job("report", "ok.ipynb", depends_on=["prepare"])
    run = alice.run_job("prepare")
    ids = run["pipeline_run_ids"]
    assert len(ids) == 3
    names = {
        alice.get_job("prepare")["id"]: "prepare",
        alice.get_job("report")["id"]: "report",
        bob.get_job("train")["id"]: "train",
    }
    with team_ws.catalog.read_session() as s:
        owner_of = {
            names[j]: o
            for j, o in s.execute(select(Run.job_id, Run.owner).where(Run.id.in_(ids))).all()
        }
    # Bob's notebook runs as Bob (its kernel's MLINFRA_USER is the run's owner), not as Alice
    assert owner_of == {"prepare": "alice", "report": "alice", "train": "bob"}


def test_depending_on_another_users_job_needs_its_leave(team_ws):
    alice, bob, carol = (_jobs(team_ws, u) for u in ("alice", "bob", "carol"))
    alice.create_job("private-prep", "ok.ipynb", visibility="private")
    alice.create_job("team-prep", "ok.ipynb")
    alice.create_job("public-prep", "ok.ipynb", visibility="public")
    assert alice.get_job("team-prep")["visibility"] == "team"
    assert alice.get_job("team-prep")["team"] == "fraud"
    with pytest.raises(PermissionDenied, match="private"):
        bob.create_job("b1", "ok.ipynb", depends_on=["alice/private-prep"])
    with pytest.raises(PermissionDenied, match="team"):
        carol.create_job("c1", "ok.ipynb", depends_on=["alice/team-prep"])
    assert bob.list_jobs(owner="bob") == [] and carol.list_jobs(owner="carol") == []
    bob.create_job("b1", "ok.ipynb", depends_on=["alice/team-prep"])
    carol.create_job("c1", "ok.ipynb", depends_on=["alice/public-prep"])
    # adding a dependency later is held to the same rule
    with pytest.raises(PermissionDenied):
        carol.update_job("c1", depends_on=["alice/public-prep", "alice/private-prep"])
    assert carol.get_job("c1")["depends_on"] == ["alice/public-prep"]
    with pytest.raises(InvalidInput, match="visibility"):
        alice.create_job("odd", "ok.ipynb", visibility="everyone")
    # an admin may wire it
    _jobs(team_ws, "dave").create_job("d1", "ok.ipynb", depends_on=["alice/private-prep"])


def test_a_job_made_private_no_longer_triggers_other_users_jobs(team_ws):
    alice, bob = _jobs(team_ws, "alice"), _jobs(team_ws, "bob")
    alice.create_job("prepare", "ok.ipynb", visibility="public")
    bob.create_job("train", "ok.ipynb", depends_on=["alice/prepare"])
    assert len(alice.run_job("prepare")["pipeline_run_ids"]) == 2
    alice.update_job("prepare", visibility="private")
    assert len(alice.run_job("prepare")["pipeline_run_ids"]) == 1
    # Bob's job is untouched and still his to edit (its dependency stays as it was)
    bob.update_job("train", description="still mine")


def test_running_another_users_job_is_refused_or_runs_as_its_owner(team_ws):
    alice, bob, dave = _jobs(team_ws, "alice"), _jobs(team_ws, "bob"), _jobs(team_ws, "dave")
    alice.create_job("train", "ok.ipynb", visibility="public")
    with pytest.raises(PermissionDenied):
        bob.run_job("alice/train")
    with pytest.raises(PermissionDenied):
        bob.submit(job="alice/train")
    with pytest.raises(PermissionDenied):
        bob.sweep(job="alice/train", grid={"x": [1, 2]})
    with team_ws.catalog.read_session() as s:
        assert s.scalar(select(Run.id)) is None  # nothing was queued
    # an admin may run it: the runs are Alice's (her notebook acts as her), never Dave's
    run = dave.run_job("alice/train")
    sweep = dave.sweep(job="alice/train", grid={"x": [1, 2]})
    assert _owners(team_ws, [run["id"], *sweep["run_ids"]]) == ["alice"] * 3


def test_downstream_runs_count_against_their_owners_queue_quota(team_ws):
    team_ws.config.settings.jobs_user_quotas = {"bob": {"max_queued": 1}}
    alice, bob = _jobs(team_ws, "alice"), _jobs(team_ws, "bob")
    alice.create_job("prepare", "ok.ipynb")
    bob.create_job("train", "ok.ipynb", depends_on=["alice/prepare"])
    alice.run_job("prepare")
    with pytest.raises(QuotaExceeded, match="bob"):
        alice.run_job("prepare")  # Bob already has a run waiting: his limit of 1
