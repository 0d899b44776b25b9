"""`make bench-venvs`: a competing tool that does not install is reported, never skipped.

No benchmark runs here (and no wall-clock figure is asserted): only what the benchmarks print
in place of a tool's rows when its venv could not be made.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def venvs(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_venvs", BENCH / "_venvs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", tmp_path / ".venvs")
    return module


def test_a_tool_whose_venv_was_never_made_is_reported(venvs):
    assert venvs.unavailable("feast") == (
        "feast: did not install: venv not created (run `make bench-venvs`)"
    )


def test_a_tool_that_does_not_install_is_reported_with_pip_s_reason(venvs, tmp_path):
    # a requirement pip refuses without touching the network: a local path that is not there
    missing = tmp_path / "no-such-project"
    venvs.TOOLS["broken"] = [str(missing)]
    venvs.PROBES["broken"] = "import broken"

    status = venvs.ensure("broken")

    assert status["ok"] is False
    line = venvs.unavailable("broken")
    assert line.startswith("broken: did not install: ")
    assert "no-such-project" in line  # pip's own words, not a generic message
    # kept on disk, so the benchmark run that follows reports it too
    saved = json.loads((tmp_path / ".venvs" / "broken" / "status.json").read_text())
    assert saved["ok"] is False and saved["reason"] == status["reason"]


def test_a_tool_that_installs_but_does_not_import_is_reported(venvs):
    venvs.TOOLS["noimport"] = ["pip"]  # already there: pip succeeds offline...
    venvs.PROBES["noimport"] = "import no_such_module_for_mlinfra_bench"  # ...the probe fails

    status = venvs.ensure("noimport")

    assert status["ok"] is False
    assert "installed but does not import" in status["reason"]
    assert "no_such_module_for_mlinfra_bench" in status["reason"]
