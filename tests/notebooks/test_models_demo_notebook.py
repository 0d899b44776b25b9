"""example_notebooks/models_demo.ipynb, run all as a user does in JupyterLab (the notebook's own
``%load_ext`` starts recording; no batch runner loads it first): both registered versions are
clean, so a first Run All is not flagged dirty."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "example_notebooks"


@pytest.mark.slow
def test_models_demo_run_all_registers_clean_versions(mlinfra_env, tmp_path):
    from jupyter_mlinfra.core.notebook_execution import execute_notebook
    from jupyter_mlinfra.core.workspace import Workspace

    notebook = tmp_path / "models_demo.ipynb"
    shutil.copy(EXAMPLES / "models_demo.ipynb", notebook)
    execute_notebook(
        notebook,
        tmp_path / "out.ipynb",
        kernel_name="python3",
        cwd=tmp_path,
        execution_timeout=300,
        notebook_path=str(notebook),
        record_provenance=False,
    )  # as in JupyterLab: the notebook loads it
    ws = Workspace.open()
    try:
        store = ws.service("models")
        for ref in ("cancer-clf:1", "cancer-clf:2"):
            version = store.get(ref)
            assert version.clean is True, (ref, version.dirty_reasons)
        report = ws.service("provenance").check(str(notebook))
        assert report.before_recording == 0 and not report.hidden_state, report.to_text()
    finally:
        ws.close()
