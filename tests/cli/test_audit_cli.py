"""`jupyter mlinfra audit`: the audit log from the command line (a user reads their own
lines, an admin everybody's; filters; --json is the REST envelope)."""

from __future__ import annotations

import json
import os
import subprocess


def mlinfra(*args, user):
    env = {**os.environ, "MLINFRA_USER": user, "MLINFRA_ROLES": json.dumps({"erin": "admin"})}
    return subprocess.run(
        ["jupyter", "mlinfra", *args], capture_output=True, text=True, env=env, timeout=180
    )


def test_audit_from_the_command_line(mlinfra_env):
    from sklearn.dummy import DummyClassifier

    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace.open(user="alice")
    ws.service("models").register("churn", DummyClassifier().fit([[0], [1]], [0, 1]), figures=[])
    ws.close()
    assert (
        mlinfra("model", "alias", "churn", "production", "1", "--protect", user="alice").returncode
        == 0
    )
    refused = mlinfra("model", "unalias", "churn", "production", user="bob")
    assert refused.returncode == 5, refused.stderr

    table = mlinfra("audit", user="erin")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:5] == ["AT", "USER", "ACTION", "TARGET", "OUTCOME"]
    assert lines[1].split()[1:5] == ["bob", "models.delete_alias", "churn", "denied"]
    assert lines[2].split()[1:5] == ["alice", "models.alias", "churn", "ok"]

    page = json.loads(
        mlinfra("audit", "--json", "--action", "models", "--outcome", "ok", user="erin").stdout
    )
    assert [(e["user"], e["action"]) for e in page["items"]] == [
        ("alice", "models.alias"),
        ("alice", "models.register"),
    ]
    assert page["next_cursor"] is None and page["total"] == 2
    own = json.loads(mlinfra("audit", "--json", user="bob").stdout)
    assert [e["user"] for e in own["items"]] == ["bob"]
    other = mlinfra("audit", "--user", "alice", user="bob")
    assert other.returncode == 5 and "admins and auditors" in other.stderr
    bad = mlinfra("audit", "--since", "yesterday", user="erin")
    assert bad.returncode == 2 and "since" in bad.stderr
    assert "no audit entries" in mlinfra("audit", "--since", "2999-01-01", user="erin").stdout
