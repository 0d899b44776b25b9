"""`jupyter mlinfra run|job|runs|sweep|test` as a user types them: exit codes and output."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.core.jobs.notebooks import make_root

pytestmark = pytest.mark.slow


def mlinfra(*args, cwd):
    return subprocess.run(
        ["jupyter", "mlinfra", *args], capture_output=True, text=True, cwd=cwd, timeout=180
    )


@pytest.fixture
def root(mlinfra_env, tmp_path, monkeypatch):
    monkeypatch.setenv("MLINFRA_JOBS_POLL_INTERVAL", "0.1")
    # exit codes are under test here; provenance in runs is covered by tests/core/jobs
    monkeypatch.setenv("MLINFRA_JOBS_RECORD_PROVENANCE", "false")
    return make_root(tmp_path / "root")


def test_run_wait_exit_code_is_zero_only_on_success(root):
    ok = mlinfra("run", "ok.ipynb", "-p", "x", "5", "--wait", cwd=root)
    assert ok.returncode == 0, ok.stderr
    assert "succeeded" in ok.stdout and "y=10" in ok.stdout
    bad = mlinfra("run", "fail.ipynb", "-p", "x", "3", "--wait", cwd=root)
    assert bad.returncode == 1
    assert "failed" in bad.stdout and "ValueError: bad value 3" in bad.stdout
    refused = mlinfra("run", "ok.ipynb", "-p", "lr", "0.1", cwd=root)
    assert refused.returncode == 2
    assert refused.stderr.strip().endswith("its parameters cell defines: label, x")
    listed = json.loads(mlinfra("runs", "--json", cwd=root).stdout)
    assert listed["total"] == 2
    assert {r["state"] for r in listed["items"]} == {"succeeded", "failed"}
    table = mlinfra("runs", "--state", "failed", cwd=root).stdout
    assert "fail.ipynb" in table and "ok.ipynb" not in table


def test_job_commands_and_cycle_refusal(root):
    made = mlinfra(
        "job",
        "create",
        "prepare",
        "ok.ipynb",
        "--schedule",
        "0 6 * * *",
        "--timezone",
        "America/New_York",
        cwd=root,
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.count("next:") == 5
    assert (
        mlinfra(
            "job", "create", "train", "ok.ipynb", "--depends-on", "prepare", cwd=root
        ).returncode
        == 0
    )
    bad = mlinfra("job", "create", "later", "ok.ipynb", "--schedule", "0 25 * * *", cwd=root)
    assert bad.returncode == 2 and "invalid cron expression" in bad.stderr
    assert mlinfra("job", "pause", "prepare", cwd=root).returncode == 0
    listed = mlinfra("job", "list", cwd=root).stdout
    assert "paused" in listed and "train" in listed
    gone = mlinfra("job", "delete", "prepare", cwd=root)
    assert gone.returncode == 4 and "dependency of train" in gone.stderr


def test_another_users_job_is_neither_a_dependency_nor_run_without_leave(root, monkeypatch):
    monkeypatch.setenv("MLINFRA_USER", "alice")
    made = mlinfra("job", "create", "prep", "ok.ipynb", "--visibility", "private", cwd=root)
    assert made.returncode == 0 and "visibility private" in made.stdout, made.stderr
    monkeypatch.setenv("MLINFRA_USER", "bob")
    dep = mlinfra("job", "create", "train", "ok.ipynb", "--depends-on", "alice/prep", cwd=root)
    assert dep.returncode == 5 and "alice/prep is private" in dep.stderr
    ran = mlinfra("run", "--job", "alice/prep", cwd=root)
    assert ran.returncode == 5 and "only its owner" in ran.stderr
    assert json.loads(mlinfra("runs", "--json", cwd=root).stdout)["total"] == 0


def test_notebooks_as_tests(root):
    result = mlinfra("test", "ok.ipynb", "fail.ipynb", cwd=root)
    assert result.returncode == 1
    assert "PASSED ok.ipynb" in result.stdout
    assert "FAILED fail.ipynb" in result.stdout and "ValueError" in result.stdout
    assert "1 passed, 1 failed" in result.stdout.splitlines()[-1]
    assert mlinfra("test", "ok.ipynb", cwd=root).returncode == 0


def test_scheduler_daemon_serves_run_wait_and_reports_its_status(root, wait_until):
    import os
    import signal
    import sys
    from datetime import datetime

    assert "no scheduler serves this catalog" in mlinfra("scheduler", "--status", cwd=root).stdout
    # It polls every 2 minutes: a run from another process starts at once only because
    # that process rings the daemon's doorbell.
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_mlinfra.cli.main",
            "scheduler",
            "--workers",
            "1",
            "--poll-interval",
            "120",
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        scheduler_id = daemon.stdout.readline().split()[3].rstrip(":")
        alive = wait_until(
            lambda: json.loads(mlinfra("scheduler", "--status", "--json", cwd=root).stdout),
            "the daemon to record itself",
            timeout=30,
            interval=0.2,
        )
        assert [(r["id"], r["serving"], r["alive"]) for r in alive] == [(scheduler_id, True, True)]
        assert alive[0]["doorbell_port"] > 0
        # run --wait follows the daemon's run rather than starting its own scheduler
        ok = mlinfra("run", "ok.ipynb", "-p", "x", "2", "--wait", cwd=root)
        assert ok.returncode == 0, ok.stderr
        run = json.loads(mlinfra("runs", "--json", cwd=root).stdout)["items"][0]
        assert run["worker"].split(":")[1] == scheduler_id.rsplit("-", 1)[-1]
        waited = (
            datetime.fromisoformat(run["started_at"]) - datetime.fromisoformat(run["created_at"])
        ).total_seconds()
        assert waited < 60, f"the run waited {waited:.1f} s for the daemon's 120 s poll"
    finally:
        os.kill(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=30)
    assert "no scheduler serves" in mlinfra("scheduler", "--status", cwd=root).stdout
    gone = json.loads(mlinfra("scheduler", "--status", "--all", "--json", cwd=root).stdout)
    assert [r["id"] for r in gone] == [scheduler_id]  # run --wait started none of its own
    assert gone[0]["alive"] is False
    assert gone[0]["stopped_at"] is not None


def test_cli_leaves_out_jsonschemas_iri_grammar(root):
    """`jupyter mlinfra run` imports papermill and so jsonschema, which would build the IRI
    grammar of rfc3987-syntax (installed here, by jupyter_events) for 1.3 s of CPU: twice
    the rest of the command. The CLI leaves it out; the run is queued all the same."""
    import sys

    code = (
        "import sys\n"
        "from jupyter_mlinfra.cli.main import main\n"
        "code = main(['run', 'ok.ipynb', '-p', 'x', '4'])\n"
        "print('grammar built:', sys.modules.get('rfc3987_syntax') is not None)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "grammar built: False" in result.stdout
    queued = json.loads(mlinfra("runs", "--json", cwd=root).stdout)["items"][0]
    assert queued["state"] == "queued" and queued["parameters"] == {"x": 4}
    import importlib.util

    assert importlib.util.find_spec("rfc3987_syntax") is not None  # else this proves nothing


def test_cli_run_wait_leaves_out_papermills_remote_storage_clients(root):
    """papermill imports pyarrow (and numpy), boto3, gcsfs... at import, for s3://, hdfs://
    paths the CLI never gives it: about half of importing papermill. `jupyter mlinfra run
    --wait` executes the run without them, and they still import when something needs them."""
    import importlib.util
    import sys

    code = (
        "import sys\n"
        "from jupyter_mlinfra.cli.main import main\n"
        "code = main(['run', 'ok.ipynb', '-p', 'x', '4', '--wait'])\n"
        "print('imported:', sorted(m for m in ('pyarrow', 'numpy', 'boto3') "
        "if m in sys.modules))\n"
        "import boto3, pyarrow.fs\n"
        "print('importable later:', boto3.__name__, pyarrow.fs.__name__)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=240
    )
    assert result.returncode == 0, result.stderr
    assert "succeeded" in result.stdout and "y=8" in result.stdout
    assert "imported: []" in result.stdout
    assert "importable later: boto3 pyarrow.fs" in result.stdout
    assert importlib.util.find_spec("pyarrow") and importlib.util.find_spec("boto3")


def test_run_of_an_unchanged_notebook_skips_papermill_and_still_checks_parameters(root):
    """Submitting a notebook again, unchanged, takes its snapshot and its parameters cell
    from the cache of the first submission (keyed by the notebook's bytes): the command
    neither imports papermill nor nbformat (about 0.5 s of CPU). Parameters are still
    checked, and an edited notebook is read again."""
    import sys

    first = mlinfra("run", "ok.ipynb", "-p", "x", "4", cwd=root)
    assert first.returncode == 0, first.stderr
    code = (
        "import sys\n"
        "from jupyter_mlinfra.cli.main import main\n"
        "code = main(sys.argv[1:])\n"
        "print('imported:', sorted(m for m in ('papermill', 'nbformat') if m in sys.modules))\n"
        "sys.exit(code)\n"
    )

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=root
        )

    again = cli("run", "ok.ipynb", "-p", "x", "5", "--json")
    assert again.returncode == 0, again.stderr
    assert "imported: []" in again.stdout
    # a sweep of it too: one read of the notebook (the cache) for all its runs
    swept = cli("sweep", "ok.ipynb", "-g", "x", "1,2,3", "--json")
    assert swept.returncode == 0, swept.stderr
    assert "imported: []" in swept.stdout
    refused_sweep = cli("sweep", "ok.ipynb", "-g", "x", "1,abc")
    assert refused_sweep.returncode == 2 and "expects int" in refused_sweep.stderr
    refused = cli("run", "ok.ipynb", "-p", "lr", "0.1")
    assert refused.returncode == 2
    assert refused.stderr.strip().endswith("its parameters cell defines: label, x")
    wrong_type = cli("run", "ok.ipynb", "-p", "x", "abc")
    assert wrong_type.returncode == 2 and "expects int" in wrong_type.stderr
    # the notebook gains a parameter: read again, and its run is executed from the new text
    nb = json.loads((root / "ok.ipynb").read_text())
    nb["cells"][0]["source"] = "x = 1\nlabel = 'a'\nz = 0"
    nb["cells"][1]["source"] += "\njupyter_mlinfra.log_metric('z', z)"
    (root / "ok.ipynb").write_text(json.dumps(nb))
    edited = cli("run", "ok.ipynb", "-p", "z", "3", "--wait")
    assert edited.returncode == 0, edited.stderr
    assert "z=3" in edited.stdout


def test_a_command_imports_only_its_own_command_module(root):
    """`jupyter mlinfra run` builds the parser of the jobs commands only: it does not import
    the model store's, the feature store's or the audit's command modules."""
    import sys

    code = (
        "import sys\n"
        "from jupyter_mlinfra.cli.main import main\n"
        "code = main(['run', 'ok.ipynb', '-p', 'x', '4'])\n"
        "print('imported:', sorted(m for m in sys.modules if m.startswith('jupyter_mlinfra.cli.')))\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr
    assert "imported: ['jupyter_mlinfra.cli.jobs', 'jupyter_mlinfra.cli.main']" in result.stdout


def test_sweep_wait_prints_its_table_without_pandas(root):
    """`jupyter mlinfra sweep --wait` prints one row per run (parameters, duration, metrics)
    and exits 0 only if every run succeeded, without importing pandas (~0.4 s of CPU, a
    sizeable part of a short sweep's per-run cost); --json gives the same rows."""
    import sys

    code = (
        "import sys\n"
        "from jupyter_mlinfra.cli.main import main\n"
        "code = main(sys.argv[1:])\n"
        "print('pandas imported:', 'pandas' in sys.modules)\n"
        "sys.exit(code)\n"
    )

    def sweep(*args):
        return subprocess.run(
            [sys.executable, "-c", code, "sweep", "ok.ipynb", "-g", "x", "1,3", *args],
            capture_output=True,
            text=True,
            cwd=root,
            timeout=240,
        )

    shown = sweep("--wait")
    assert shown.returncode == 0, shown.stderr
    assert "pandas imported: False" in shown.stdout
    lines = shown.stdout.splitlines()
    header = next(line for line in lines if line.startswith("run_id"))
    assert header.split() == ["run_id", "state", "x", "duration", "y", "half"]
    rows = [line.split() for line in lines if line.endswith(("0.5", "1.5"))]
    assert [(r[1], r[2], r[4], r[5]) for r in rows] == [
        ("succeeded", "1", "2", "0.5"),
        ("succeeded", "3", "6", "1.5"),
    ]
    as_json = sweep("--wait", "--json")
    assert as_json.returncode == 0, as_json.stderr
    results = json.loads(as_json.stdout.split("pandas imported")[0])["results"]
    assert [(r["state"], r["x"], r["y"], r["half"]) for r in results] == [
        ("succeeded", 1, 2.0, 0.5),
        ("succeeded", 3, 6.0, 1.5),
    ]
    assert all(r["duration"] > 0 for r in results)
