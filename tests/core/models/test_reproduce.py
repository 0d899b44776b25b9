"""Reproduce: a version registered from a papermill run is re-run in a fresh kernel."""

from __future__ import annotations

import nbformat
import pytest

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
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / "train.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_job_trained_version_is_reproduced_with_its_parameters(
    mlinfra_env, notebook, tmp_path, monkeypatch
):
    from jupyter_mlinfra.core.jobs.local import wait_with_local_scheduler
    from jupyter_mlinfra.core.workspace import Workspace

    # trained by a job run: the version records the run and its parameters
    monkeypatch.setenv("MLINFRA_ROOT_DIR", str(tmp_path))
    trainer = Workspace.open()
    run = trainer.service("jobs").submit(str(notebook), parameters={"C": 0.5})
    final = wait_with_local_scheduler(trainer, [run["id"]], timeout=240)[0]
    assert final["state"] == "succeeded", final.get("error")
    trainer.close()
    workspace = Workspace.open()
    store = workspace.service("models")
    v = store.get("repro")
    assert v.run_id == run["id"] and v.code["run_id"] == run["id"]
    assert v.code["parameters"] == {"C": 0.5}
    assert v.artifact("notebook.ipynb") is not None
    assert v.metrics["C_used"] == 0.5
    notebook.write_text("{}")  # the working copy changes afterwards: the snapshot is used

    result = store.reproduce("repro:1", via_jobs=False)  # through the shared runner
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

    # by default the re-run is a job run (executed here: no scheduler is running)
    monkeypatch.setenv("MLINFRA_ROOT_DIR", str(tmp_path / "elsewhere"))
    as_jobs = Workspace.open()
    result = as_jobs.service("models").reproduce("repro:1")
    assert result["executed_by"] == f"jobs service (run {result['run_id']})"
    assert result["error"] is None, result["error"]
    assert result["metrics"]["C_used"]["within_tolerance"]
    assert result["metrics"]["accuracy"]["within_tolerance"]
    run = as_jobs.service("jobs").get_run(result["run_id"])
    assert run["state"] == "succeeded" and "mlinfra-reproduce" in run["tags"]
    assert run["parameters"] == {"C": 0.5}
    assert as_jobs.service("models").status()["versions"] == 1
    as_jobs.close()
    workspace.close()
