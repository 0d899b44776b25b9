"""Owners decide: another user changes a model only with a role that allows it."""

from __future__ import annotations

import pytest

from jupyter_mlinfra.core.errors import NotFound, PermissionDenied
from tests.core.people import workspace_as


@pytest.fixture
def dummy():
    from sklearn.dummy import DummyClassifier

    return DummyClassifier().fit([[0], [1]], [0, 1])


def test_bob_cannot_change_alices_model_an_admin_can(ws, dummy):
    alice = ws.for_user("alice").service("models")
    alice.register("churn", dummy, description="alice's", tags={"stage": "dev"}, figures=[])
    alice.register("churn", dummy, figures=[])
    bob = ws.for_user("bob").service("models")

    refusals = [
        lambda: bob.update("churn", description="bob's now"),
        lambda: bob.update("churn", tags={"stage": "prod"}),
        lambda: bob.update("churn", version=1, description="bob's now"),
        lambda: bob.update("churn", remove_tags=["stage"]),
        lambda: bob.archive("churn:1"),
        lambda: bob.register("churn", dummy, figures=[]),
    ]
    for refused in refusals:
        with pytest.raises(PermissionDenied, match="belongs to alice"):
            refused()
    alice.archive("churn:1")
    with pytest.raises(PermissionDenied):
        bob.archive("churn:1", archived=False)
    card = alice.describe_model("churn")
    assert card["description"] == "alice's" and card["latest_version"] == 2
    assert alice.get("churn:1").status == "archived"
    assert alice.get("churn:1").description == "alice's"
    assert alice.get("churn:1").tags["stage"] == "dev"

    admin = workspace_as(ws, "carol", roles={"carol": ["admin"]}).service("models")
    admin.archive("churn:1", archived=False)
    admin.update("churn", description="curated by carol", tags={"stage": "prod"})
    assert admin.register("churn", dummy, figures=[]).version == 3
    # a role can also come from a group the identity provider authenticated
    lead = workspace_as(
        ws, "dave", groups=["ml-leads"], roles={"group:ml-leads": ["admin"]}
    ).service("models")
    lead.update("churn", tags={"reviewed": "yes"})
    assert alice.get("churn:1").status == "ready"


def test_protected_alias_rule_is_the_same_rule(ws, dummy):
    alice = ws.for_user("alice").service("models")
    alice.register("churn", dummy, alias="production", protect_alias=True, figures=[])
    alice.register("churn", dummy, figures=[])
    with pytest.raises(PermissionDenied):
        ws.for_user("bob").service("models").set_alias("churn", "production", 2)
    admin = workspace_as(ws, "carol", roles={"carol": "admin"}).service("models")
    assert admin.set_alias("churn", "production", 2)["version"] == 2
    admin.delete_alias("churn", "production")
    with pytest.raises(NotFound):
        alice.get("churn@production")


def test_search_text_matches_wildcards_literally(ws, dummy):
    store = ws.service("models")
    store.register("churn-eu", dummy, figures=[])
    store.register("churn_us", dummy, figures=[])
    store.register("fraud", dummy, figures=[])
    assert [v.ref for v in store.search("churn_")] == ["churn_us:1"]
    assert store.search("%") == []
    assert [v.ref for v in store.search("n-e")] == ["churn-eu:1"]
