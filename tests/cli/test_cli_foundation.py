"""`jupyter mlinfra` as a user runs it: a subprocess, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess


def run(*args, env=None):
    return subprocess.run(["jupyter", "mlinfra", *args], capture_output=True, text=True, env=env)


def test_info_prints_sources(mlinfra_env):
    result = run("info")
    assert result.returncode == 0, result.stderr
    assert "env MLINFRA_HOME" in result.stdout
    assert str(mlinfra_env / "catalog.db") in result.stdout


def test_info_json(mlinfra_env):
    result = run("info", "--json")
    data = json.loads(result.stdout)
    names = {row["name"]: row for row in data["settings"]}
    assert names["home"]["value"] == str(mlinfra_env)
    assert data["health"]["catalog"]["backend"] == "sqlite"


def test_configuration_error_is_one_line_and_nonzero(mlinfra_env, monkeypatch):
    monkeypatch.setenv("MLINFRA_CATALOG_URL", "nonsense://")
    result = run("info")
    assert result.returncode == 8
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "catalog URL" in lines[0]


def test_help_lists_every_subcommand_and_each_has_help():
    result = run("--help")
    assert result.returncode == 0, result.stderr
    for word in (
        "info",
        "run",
        "job",
        "model",
        "feature",
        "verify",
        "enable-recording",
        "service",
        "audit",
        "notebooks",
    ):
        assert word in result.stdout
    for word in ("enable-recording", "service", "job", "model", "feature", "notebooks"):
        sub = run(word, "--help")
        assert sub.returncode == 0, (word, sub.stderr[-500:])
        assert word in sub.stdout or "usage:" in sub.stdout


def test_unknown_command_fails():
    result = run("no-such-command")
    assert result.returncode != 0


def test_gc_removes_only_old_unreferenced_blobs(mlinfra_env):
    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace.open()
    ws.artifacts.put("kept", b"still named")
    ws.artifacts.put("dropped", b"named no more")
    ws.artifacts.delete("dropped")
    ws.close()
    young = run("gc")  # the orphan is seconds old: it may be a write in progress
    assert young.returncode == 0, young.stderr
    assert young.stdout.startswith("removed 0 unreferenced blob(s)")
    old = run("gc", "--min-age", "0")
    assert old.returncode == 0 and old.stdout.startswith("removed 1 unreferenced blob(s)")
    ws = Workspace.open()
    assert ws.artifacts.get("kept") == b"still named"
    ws.close()
    bad = run("gc", "--min-age", "-5")
    assert bad.returncode == 2 and bad.stderr.strip().endswith(
        "--min-age must be a number of seconds >= 0"
    )


def test_every_command_is_listed_under_its_module():
    """main.COMMANDS (which module a command line needs) names exactly the commands each
    module registers, so `jupyter mlinfra CMD` finds CMD however few modules it imports."""
    import argparse
    import importlib

    from jupyter_mlinfra.cli.main import COMMAND_MODULES, COMMANDS

    assert list(COMMANDS) == COMMAND_MODULES
    for name in COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(name).register(sub)
        assert tuple(sub.choices) == COMMANDS[name], name
    for command in ("run", "model", "audit", "verify"):
        assert run(command, "--help").returncode == 0
