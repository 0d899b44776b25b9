"""Reproduce: a version registered from a papermill run is re-run in a fresh kernel."""

from __future__ import annotations

import nbformat
import pytest

from jupyter_mlinfra.core.notebook_execution import execute_notebook

TRAIN = """\
import random
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from jupyter_mlinfra import models

frame = load_iris(as_frame=True).frame
X, y = frame.drop(columns=["target"]), frame["target"]
clf = LogisticRegression(C=C, max_iter=300).fit(X, y)
accuracy = float(clf.score(X, y))
v = models.register("repro", clf, training_data=frame, figures=[],
                    metrics={"accuracy": accuracy, "C_used": C, "lucky": random.random()})
"""


@pytest.fixture
def notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("C = 1.0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(TRAIN)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = tmp_path / "train.ipynb"
    nbformat.write(nb, path)
    return path


def test_reproduce_reruns_the_snapshot_with_the_recorded_parameters(workspace, notebook,
                                                                    tmp_path):
    execute_notebook(notebook, tmp_path / "out.ipynb", parameters={"C": 0.5},
                     cwd=tmp_path, notebook_path=str(notebook))
    store = workspace.service("models")
    v = store.get("repro")
    assert v.code["parameters"] == {"C": 0.5}
    assert v.artifact("notebook.ipynb") is not None
    assert v.metrics["C_used"] == 0.5
    notebook.write_text("{}")  # the working copy changes afterwards: the snapshot is used

    result = store.reproduce("repro:1")
    assert result["source"] == "notebook snapshot"
    assert result["parameters"] == {"C": 0.5}
    metrics = result["metrics"]
    assert metrics["C_used"]["within_tolerance"] and metrics["C_used"]["reproduced"] == 0.5
    assert metrics["accuracy"]["within_tolerance"]
    assert metrics["accuracy"]["reproduced"] == pytest.approx(v.metrics["accuracy"])
    assert not metrics["lucky"]["within_tolerance"]  # an unseeded random number
    assert result["reproduced"] is False and result["error"] is None
    assert result["data"] == {"training": {"same": True}}
    assert store.status()["versions"] == 1  # reproducing registered nothing
    assert "shared notebook runner" in result["executed_by"]
