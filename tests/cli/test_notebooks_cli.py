"""`jupyter mlinfra notebooks` and parameter types at the command line, as a user types them;
the Python API (jupyter_mlinfra.notebooks) in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

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
    monkeypatch.setenv("MLINFRA_JOBS_RECORD_PROVENANCE", "false")
    return make_root(tmp_path / "root")


def test_parameter_types_then_search_and_write_out_executed_notebooks(root):
    bad = mlinfra("run", "ok.ipynb", "-p", "x", "2500.7", cwd=root)
    assert bad.returncode == 2
    assert bad.stderr.strip().endswith(
        "parameter x of ok.ipynb expects int (default 1), got float 2500.7"
    )
    empty = mlinfra("job", "create", "nightly", "ok.ipynb", "-p", "x", "", cwd=root)
    assert empty.returncode == 2 and "expects int (default 1), got an empty value" in empty.stderr
    assert json.loads(mlinfra("runs", "--json", cwd=root).stdout)["total"] == 0

    assert mlinfra("run", "ok.ipynb", "-p", "x", "5", "--wait", cwd=root).returncode == 0
    assert mlinfra("run", "fail.ipynb", "-p", "x", "3", "--wait", cwd=root).returncode == 1
    listed = mlinfra("notebooks", "--q", "y is 10", cwd=root)
    assert listed.returncode == 0, listed.stderr
    assert "ok.ipynb" in listed.stdout and "fail.ipynb" not in listed.stdout
    page = json.loads(mlinfra("notebooks", "--json", "-p", "x=3", cwd=root).stdout)
    assert [i["notebook"] for i in page["items"]] == ["fail.ipynb"]
    run_id = page["items"][0]["id"]
    wrote = mlinfra("notebooks", run_id, "--format", "html", cwd=root)
    assert wrote.returncode == 0, wrote.stderr
    html = (root / f"fail-{run_id[:12]}.html").read_text()
    assert "ValueError" in html and "bad value 3" in html
    missing = mlinfra("notebooks", "0" * 32, cwd=root)
    assert missing.returncode == 3 and "no run" in missing.stderr

    api = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "from jupyter_mlinfra import notebooks\n"
                "found = notebooks.search(q='bad value')\n"
                "print(len(found), found[0]['notebook'], len(notebooks.read(found[0]['id']).cells))"
            ),
        ],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
    )
    assert api.returncode == 0, api.stderr
    count, name, cells = api.stdout.split()
    assert (count, name) == ("1", "fail.ipynb") and int(cells) >= 4
