"""The audit log: every change to shared state and every refused change has its line, written
in the change's own transaction; users read their own lines, admins and auditors all."""

from __future__ import annotations

import nbformat
import pytest
import sqlalchemy as sa

from jupyter_mlinfra.core import audit
from jupyter_mlinfra.core.errors import InvalidInput, NotFound, PermissionDenied
from tests.core.people import workspace_as

ROLES = {"erin": "admin", "carol": "auditor"}


@pytest.fixture
def people(workspace, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(1)")]
    nbformat.write(nb, tmp_path / "score.ipynb")
    return {
        name: workspace_as(workspace, name, groups=groups, roles=ROLES, root_dir=str(tmp_path))
        for name, groups in (
            ("alice", ["team-a"]),
            ("bob", ["team-b"]),
            ("dave", ["team-a"]),
            ("erin", []),
            ("carol", []),
        )
    }


def _model(ws, name="churn", **kwargs):
    from sklearn.dummy import DummyClassifier

    model = DummyClassifier().fit([[0], [1]], [0, 1])
    return ws.service("models").register(name, model, metrics={"auc": 0.5}, figures=[], **kwargs)


def _aliases(ws, name="churn"):
    return {a["alias"]: a["version"] for a in ws.service("models").describe_model(name)["aliases"]}


def _lines(ws, **filters):
    return [
        (e["user"], e["action"], e["outcome"])
        for e in reversed(audit.query(ws, **filters)["items"])
    ]


def test_alias_moves_archives_and_deletes_are_recorded_with_who_and_what(people):
    alice = people["alice"]
    store = alice.service("models")
    _model(alice)
    _model(alice)
    store.set_alias("churn", "production", 1, protected=True)
    store.set_alias("churn", "production", 2)
    store.archive("churn:1")
    store.archive("churn:1", archived=False)
    store.delete_alias("churn", "production")
    page = audit.query(alice, action="models")
    assert [(e["action"], e["target"], e["outcome"]) for e in reversed(page["items"])] == [
        ("models.register", "churn", "ok"),
        ("models.register", "churn", "ok"),
        ("models.alias", "churn", "ok"),
        ("models.alias", "churn", "ok"),
        ("models.archive", "churn:1", "ok"),
        ("models.archive", "churn:1", "ok"),
        ("models.delete_alias", "churn", "ok"),
    ]
    first = page["items"][-3]
    assert first["user"] == "alice" and first["roles"] == []
    assert first["detail"] == "move alias churn@production to version 1"
    assert first["at"].endswith("Z") and page["total"] == 7


def test_a_refused_change_is_recorded_as_denied_and_changes_nothing(people):
    alice, bob = people["alice"], people["bob"]
    _model(alice)
    _model(alice)
    alice.service("models").set_alias("churn", "production", 1, protected=True)
    with pytest.raises(PermissionDenied):
        bob.service("models").set_alias("churn", "production", 2)
    with pytest.raises(PermissionDenied):
        bob.service("models").archive("churn:2")
    assert _aliases(alice) == {"production": 1}
    denied = audit.query(people["erin"], user="bob")["items"]
    assert [(e["action"], e["outcome"]) for e in reversed(denied)] == [
        ("models.alias", "denied"),
        ("models.archive", "denied"),
    ]
    assert (
        "refused: alias churn@production is protected and belongs to alice" in denied[-1]["detail"]
    )
    # bob sees his own refusals too
    assert len(audit.query(bob)["items"]) == 2


def test_a_change_that_fails_leaves_no_line_and_no_change_goes_without_one(people):
    alice = people["alice"]
    store = alice.service("models")
    _model(alice)
    with pytest.raises(NotFound):
        store.set_alias("churn", "production", 7)  # no such version: nothing changed
    assert _lines(alice, action="models.alias") == []
    # the audit table cannot be written: the change it would record is not made either
    with alice.catalog.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE mlinfra_audit RENAME TO mlinfra_audit_away"))
    try:
        with pytest.raises(sa.exc.OperationalError):
            store.set_alias("churn", "production", 1)
    finally:
        with alice.catalog.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE mlinfra_audit_away RENAME TO mlinfra_audit"))
    assert _aliases(alice) == {}
    store.set_alias("churn", "production", 1)
    assert _lines(alice, action="models.alias") == [("alice", "models.alias", "ok")]


def test_registrations_and_refused_registrations_are_recorded(people):
    alice, bob = people["alice"], people["bob"]
    _model(alice, alias="production")
    with pytest.raises(PermissionDenied):
        _model(bob)  # a version of alice's model
    assert _lines(people["erin"], action="models.register") == [
        ("alice", "models.register", "ok"),
        ("bob", "models.register", "denied"),
    ]
    first = audit.query(alice)["items"][-1]
    assert first["detail"] == (
        "register a new version of model churn and move alias @production to it"
    )


def test_job_changes_and_run_cancels_are_recorded(people, tmp_path):
    # dave is in alice's team: he reads her job and run, but may not change them
    alice, dave, erin = people["alice"], people["dave"], people["erin"]
    jobs = alice.service("jobs")
    jobs.create_job("nightly", str(tmp_path / "score.ipynb"), schedule="0 3 * * *")
    jobs.update_job("nightly", description="scores")
    jobs.pause_job("nightly")
    jobs.resume_job("nightly")
    run = jobs.submit(str(tmp_path / "score.ipynb"))
    with pytest.raises(PermissionDenied):
        dave.service("jobs").cancel_run(run["id"])
    with pytest.raises(PermissionDenied):
        dave.service("jobs").update_job("alice/nightly", notebook="theirs.ipynb")
    erin.service("jobs").cancel_run(run["id"])
    jobs.delete_job("nightly")
    assert _lines(erin) == [
        ("alice", "jobs.create", "ok"),
        ("alice", "jobs.update", "ok"),
        ("alice", "jobs.pause", "ok"),
        ("alice", "jobs.resume", "ok"),
        ("alice", "jobs.submit", "ok"),
        ("dave", "jobs.cancel", "denied"),
        ("dave", "jobs.update", "denied"),
        ("erin", "jobs.cancel", "ok"),
        ("alice", "jobs.delete", "ok"),
    ]
    cancel = audit.query(erin, user="erin")["items"][0]
    assert cancel["target"] == run["id"] and cancel["roles"] == ["admin"]


def test_feature_view_deletes_are_recorded(people):
    import pandas as pd

    alice, dave = people["alice"], people["dave"]
    fs = alice.service("features")
    fs.register_entity("customer", ["customer_id"])
    fs.register_view(
        "spend",
        entities="customer",
        visibility="team",
        source=pd.DataFrame(
            {
                "customer_id": [1],
                "event_timestamp": pd.to_datetime(["2024-01-01"], utc=True),
                "amount": [1.0],
            }
        ),
    )
    with pytest.raises(PermissionDenied):
        dave.service("features").delete_view("spend")  # he reads it (team), not his
    fs.delete_view("spend")
    assert [line for line in _lines(people["carol"], action="features.delete")] == [
        ("dave", "features.delete", "denied"),
        ("alice", "features.delete", "ok"),
    ]


def test_who_reads_what_filters_and_pages(people):
    alice, bob, erin, carol = (people[n] for n in ("alice", "bob", "erin", "carol"))
    _model(alice)
    for i in range(5):
        alice.service("models").set_alias("churn", f"a{i}", 1)
    _model(bob, "fraud")
    bob.service("models").set_alias("fraud", "production", 1)
    # a user reads their own lines only; asking for someone else's is refused
    assert {e["user"] for e in audit.query(bob)["items"]} == {"bob"}
    with pytest.raises(PermissionDenied, match="admins and auditors"):
        audit.query(bob, user="alice")
    # admins and auditors read everybody's
    for reader in (erin, carol):
        assert audit.query(reader)["total"] == 8  # 2 registrations, 6 alias moves
    assert audit.query(carol, target="fraud")["total"] == 2
    assert audit.query(carol, outcome="denied")["total"] == 0
    # pages by cursor, newest first, no gaps or repeats
    seen, cursor = [], None
    while True:
        page = audit.query(carol, limit=4, cursor=cursor)
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == 8
    assert audit.query(carol, limit=2, offset=6)["items"][-1]["id"] == seen[-1]
    newest = audit.query(carol, limit=1)["items"][0]
    assert [e["id"] for e in audit.query(carol, since=newest["at"])["items"]][-1] >= newest["id"]
    assert audit.query(carol, since="2999-01-01T00:00:00Z")["items"] == []
    for bad in ({"since": "yesterday"}, {"limit": 0}, {"cursor": "nope"}, {"outcome": "maybe"}):
        with pytest.raises(InvalidInput):
            audit.query(carol, **bad)


@pytest.mark.postgres
def test_on_postgresql_a_refusal_and_a_change_are_recorded(
    pg_catalog_url, mlinfra_env, monkeypatch
):
    from jupyter_mlinfra.core.workspace import Workspace

    monkeypatch.setenv("MLINFRA_CATALOG_URL", pg_catalog_url)
    ws = Workspace.open()
    try:
        alice = workspace_as(ws, "alice", roles=ROLES)
        bob = workspace_as(ws, "bob", roles=ROLES)
        _model(alice)
        alice.service("models").set_alias("churn", "production", 1, protected=True)
        with pytest.raises(PermissionDenied):
            bob.service("models").delete_alias("churn", "production")
        assert _lines(workspace_as(ws, "erin", roles=ROLES)) == [
            ("alice", "models.register", "ok"),
            ("alice", "models.alias", "ok"),
            ("bob", "models.delete_alias", "denied"),
        ]
    finally:
        ws.close()
