"""`jupyter mlinfra run/sweep --visibility`: who may read the runs, from the command line."""

from __future__ import annotations

import json
import os
import subprocess

from tests.core.jobs.notebooks import make_root


def mlinfra(*args, cwd, user):
    env = {
        **os.environ,
        "MLINFRA_USER": user,
        "MLINFRA_TEAMS": json.dumps({"alice": "fraud", "carol": "fraud"}),
    }
    return subprocess.run(
        ["jupyter", "mlinfra", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=180
    )


def test_run_visibility_from_the_command_line(mlinfra_env, tmp_path):
    root = make_root(tmp_path / "root")
    private = json.loads(
        mlinfra(
            "run", "ok.ipynb", "--visibility", "private", "--json", cwd=root, user="alice"
        ).stdout
    )
    team = json.loads(mlinfra("run", "ok.ipynb", "--json", cwd=root, user="alice").stdout)
    assert (private["visibility"], team["visibility"], team["team"]) == ("private", "team", "fraud")
    seen = json.loads(mlinfra("runs", "--json", cwd=root, user="carol").stdout)
    assert [r["id"] for r in seen["items"]] == [team["id"]]
    assert json.loads(mlinfra("runs", "--json", cwd=root, user="bob").stdout)["total"] == 0
    hidden = mlinfra("runs", private["id"], cwd=root, user="carol")
    assert hidden.returncode == 3 and "no run" in hidden.stderr
    bad = mlinfra("run", "ok.ipynb", "--visibility", "everyone", cwd=root, user="alice")
    assert bad.returncode == 2
