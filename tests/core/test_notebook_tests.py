"""Notebooks as tests from plain Python (core.notebook_tests; `jupyter mlinfra test` prints
these results)."""

from __future__ import annotations

import pytest

from jupyter_mlinfra.core.errors import InvalidInput
from jupyter_mlinfra.core.notebook_tests import collect_notebooks, run_notebook_tests
from tests.core.jobs.notebooks import make_root


def test_each_notebook_passes_or_fails_with_its_cell_and_error(tmp_path, mlinfra_env):
    root = make_root(tmp_path / "root")
    results = list(run_notebook_tests([str(root / "ok.ipynb"), str(root / "fail.ipynb")]))
    assert [(r.path.name, r.passed) for r in results] == [("ok.ipynb", True), ("fail.ipynb", False)]
    failed = results[1]
    assert failed.error["type"] == "ValueError" and "cell_index" in failed.error
    assert failed.line().startswith(f"FAILED {root / 'fail.ipynb'} in cell ")
    assert results[0].line().startswith(f"PASSED {root / 'ok.ipynb'} (")


def test_a_folder_is_searched_and_a_bad_path_runs_nothing(tmp_path):
    root = make_root(tmp_path / "root")
    (root / ".ipynb_checkpoints").mkdir()
    (root / ".ipynb_checkpoints" / "ok-checkpoint.ipynb").write_text("{}")
    found = collect_notebooks([str(root / "sub")])
    assert [p.name for p in found] == ["noparams.ipynb"]
    assert ".ipynb_checkpoints" not in {
        part for p in collect_notebooks([str(root)]) for part in p.parts
    }
    with pytest.raises(InvalidInput, match="nope.txt is not a notebook"):
        next(run_notebook_tests([str(root / "ok.ipynb"), str(root / "nope.txt")]))
