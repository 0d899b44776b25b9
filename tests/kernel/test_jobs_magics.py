"""%mlinfra schedule / jobs / runs / run / sweep / cancel in a real IPython shell."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from tests.core.jobs.notebooks import make_root


@pytest.fixture
def root(ip, tmp_path, monkeypatch):
    root = make_root(tmp_path / "root")
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLINFRA_ROOT_DIR", str(root))
    monkeypatch.setenv("MLINFRA_JOBS_RECORD_PROVENANCE", "false")  # covered in core tests
    return root


def test_schedule_jobs_runs_cancel(ip, root, capsys):
    job = ip.run_line_magic(
        "mlinfra", "schedule nightly ok.ipynb --cron '0 2 * * *' --timezone Europe/Berlin -p x 3"
    )
    assert job["parameters"] == {"x": 3}
    out = capsys.readouterr().out
    assert out.count("T0") + out.count("T01:") >= 1 and "next fire times" in out
    table = ip.run_line_magic("mlinfra", "jobs")
    assert list(table["name"]) == ["nightly"] and table["schedule"][0] == "0 2 * * *"
    with pytest.raises(UsageError, match="invalid cron"):
        ip.run_line_magic("mlinfra", "schedule other ok.ipynb --cron 'never'")
    shared = ip.run_line_magic("mlinfra", "schedule shared ok.ipynb --visibility public")
    assert (shared["visibility"], job["visibility"]) == ("public", "team")
    with pytest.raises(UsageError, match="unknown parameter"):
        ip.run_line_magic("mlinfra", "run ok.ipynb -p nope 1")
    queued = ip.run_line_magic("mlinfra", "run ok.ipynb -p x 2")
    private = ip.run_line_magic("mlinfra", "run ok.ipynb --visibility private")
    assert (queued["visibility"], private["visibility"]) == ("team", "private")
    ip.run_line_magic("mlinfra", f"cancel {private['id']}")
    ip.run_line_magic("mlinfra", f"cancel {queued['id']}")
    runs = ip.run_line_magic("mlinfra", "runs --state cancelled")
    assert set(runs["id"]) == {queued["id"], private["id"]}


def _shown(ip, value) -> str:
    """What a cell ending with ``value`` shows (its text/plain representation)."""
    return ip.display_formatter.format(value)[0]["text/plain"]


def test_job_words_are_the_clis_and_results_show_as_one_line(ip, root, capsys):
    job = ip.run_line_magic(
        "mlinfra", "job create nightly ok.ipynb --schedule '0 2 * * *' -p x 3 --cpus 0.5"
    )
    assert (job["schedule"], job["parameters"], job["resources"]["cpus"]) == (
        "0 2 * * *",
        {"x": 3},
        0.5,
    )
    assert _shown(ip, job) == "job nightly -> ok.ipynb  0 2 * * * (UTC)  active"
    assert "next fire times" in capsys.readouterr().out
    assert list(ip.run_line_magic("mlinfra", "job list")["name"]) == ["nightly"]
    paused = ip.run_line_magic("mlinfra", "job pause nightly")
    assert paused["active"] is False and _shown(ip, paused).endswith("paused")
    ip.run_line_magic("mlinfra", "job delete nightly")
    assert ip.run_line_magic("mlinfra", "job list").empty
    with pytest.raises(UsageError, match="unknown action"):
        ip.run_line_magic("mlinfra", "job frobnicate")
    queued = ip.run_line_magic("mlinfra", "run ok.ipynb -p x 2 --tag nightly")
    assert queued["tags"] == ["nightly"]
    assert _shown(ip, queued) == f"run {queued['id']} queued (ok.ipynb)"
    shown = ip.run_line_magic("mlinfra", f"runs {queued['id'][:8]}")
    assert shown["id"] == queued["id"] and "\n" not in _shown(ip, shown)


@pytest.mark.slow
def test_run_wait_shows_progress_and_returns_the_result(ip, root):
    run = ip.run_line_magic("mlinfra", "run ok.ipynb -p x 4 --wait")
    assert run["state"] == "succeeded" and run["metrics"]["y"] == 8.0
    # the cell ends with one line, not the run's every field
    assert _shown(ip, run).startswith(f"run {run['id'][:12]}  succeeded  ok.ipynb")
    assert "\n" not in _shown(ip, run) and "y=8" in _shown(ip, run)
    df = ip.run_line_magic("mlinfra", "sweep ok.ipynb -g x 1,2")
    assert list(df["x"]) == [1, 2] and set(df["state"]) == {"queued"}
