"""Who acts: the user, teams from authenticated groups and the configuration, roles."""

from __future__ import annotations

import json

import pytest

from jupyter_mlinfra.core.config import resolve_config
from jupyter_mlinfra.core.errors import PermissionDenied
from jupyter_mlinfra.core.identity import Identity, check_may_change, may_read
from jupyter_mlinfra.core.workspace import Workspace


def test_teams_and_roles_come_from_the_configuration_and_the_groups(mlinfra_env):
    config = resolve_config(
        environ={
            "MLINFRA_HOME": str(mlinfra_env),
            "MLINFRA_TEAM": "payments",  # the old setting
            "MLINFRA_TEAMS": json.dumps({"alice": "fraud", "bob": ["risk", "fraud"]}),
            "MLINFRA_ROLES": json.dumps({"carol": "auditor", "group:ml-admins": ["admin"]}),
        }
    )
    ws = Workspace(config, user="alice")
    assert ws.identity == Identity("alice", ("fraud",))
    bob = ws.for_user("bob", groups=["ml", "ml-admins"]).identity
    assert (bob.teams, bob.team, bob.roles) == (
        ("risk", "fraud", "ml"),
        "risk",
        frozenset({"admin"}),
    )
    carol = ws.for_user("carol").identity
    assert carol.teams == () and carol.allows("read") and not carol.allows("change")
    nobody = ws.for_user("mallory").identity  # MLINFRA_TEAM names no team
    assert nobody.teams == () and nobody.roles == frozenset()


def test_the_one_rule():
    alice, bob = Identity("alice", ("fraud",)), Identity("bob", ("risk",))
    admin = Identity("erin", roles=frozenset({"admin"}))
    check_may_change(alice, "alice", "model churn")
    check_may_change(admin, "alice", "model churn")
    with pytest.raises(PermissionDenied, match="model churn belongs to alice"):
        check_may_change(bob, "alice", "model churn")
    assert may_read(bob, "alice", "public", "fraud")
    assert not may_read(bob, "alice", "team", "fraud")
    assert may_read(Identity("carol", ("fraud",)), "alice", "team", "fraud")
    assert not may_read(Identity("carol", ("fraud",)), "alice", "private", "fraud")
    assert not may_read(Identity("dan"), "alice", "team", "")  # no team is nobody's team
    assert may_read(admin, "alice", "private", "fraud")
