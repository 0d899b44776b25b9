"""example_notebooks/features_demo.ipynb runs top to bottom (as `make demo` runs it) and leaves
what it promises: materialized views, a model listed under the view's "used by"."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "example_notebooks"


@pytest.mark.slow
def test_features_demo_notebook_runs(mlinfra_env, tmp_path):
    from jupyter_mlinfra.core.notebook_execution import execute_notebook
    from jupyter_mlinfra.core.workspace import Workspace

    nb = execute_notebook(
        EXAMPLES / "features_demo.ipynb",
        tmp_path / "out.ipynb",
        parameters={"n_customers": 100, "days": 10},
        kernel_name="python3",
        cwd=EXAMPLES,
        execution_timeout=120,
    )
    text = "\n".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    )
    assert "feature view spend v1 registered" in text
    assert "registered churn_demo:1" in text
    ws = Workspace.open()
    info = ws.service("features").describe("spend", statistics=False)
    assert info["freshness"]["offline_rows"] == 100 * 20 + 1  # the batch plus one pushed row
    assert [u["consumer"] for u in info["used_by"]] == ["model:churn_demo/1"]
    ws.close()
