"""Reproduce has no side effects: every write to shared state in the re-run is captured.

The generating notebook defines and materializes a feature view, pushes a row, registers the
model (moving an alias), moves another alias and creates a job. Reproducing it (as a job run,
then through the shared runner) must leave the feature store, the model store and the jobs
exactly as they were, and list each write the notebook tried.
"""

from __future__ import annotations

import nbformat

GENERATE = """\
import random
import time
import pandas as pd
from sklearn.linear_model import LogisticRegression
from jupyter_mlinfra import features, jobs, models

now = pd.Timestamp.now(tz="UTC").floor("s")
# the source is relative to now: a re-run that applied it would make a new view version
txns = pd.DataFrame({"customer_id": [1, 2, 3, 1, 2, 3],
                     "event_timestamp": [now - pd.Timedelta(days=d) for d in (3, 3, 3, 2, 2, 2)],
                     "amount": [10.0, 50.0, 90.0, 20.0, 60.0, 100.0]})

def fraud_features(df):
    df = df.copy()
    df["amount_x2"] = df["amount"] * 2
    return df[["customer_id", "event_timestamp", "amount", "amount_x2"]]

features.entity("customer", join_keys=["customer_id"])
features.register("fraud_view", entities="customer", source=txns, transform=fraud_features)
features.materialize("fraud_view")
features.push("fraud_view", {"customer_id": 1, "event_timestamp": now,
                             "amount": round(random.uniform(1000, 2000), 3)})

entity_df = pd.DataFrame({"customer_id": [1, 2, 3],
                          "event_timestamp": [now - pd.Timedelta(hours=1)] * 3})
frame = features.get_training_frame(entity_df, ["fraud_view:amount_x2"])
y = [0, 1, 1]
clf = LogisticRegression().fit(frame[["amount_x2"]], y)
v = models.register("fraud_model", clf, training_data=frame, figures=[], alias="production",
                    metrics={"total": float(frame["amount_x2"].sum())})
models.set_alias("fraud_model", "champion", 1)
jobs.create(f"fraud_refresh_{time.time_ns()}", "score.ipynb")
"""


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def _shared_state(ws) -> dict:
    """What other people see: feature rows and values, definitions, models, aliases, jobs."""
    fs = ws.service("features")
    view = fs.describe("fraud_view")
    online = fs.get_online_features(
        ["fraud_view:amount_x2"], [{"customer_id": 1}, {"customer_id": 2}]
    ).to_dict()
    model = ws.service("models").describe_model("fraud_model")
    return {
        "view_version": view["latest_version"],
        "versions": [v["version"] for v in view["versions"]],
        "freshness": {k: v for k, v in view["freshness"].items() if k != "age_seconds"},
        "materializations": len(view["materializations"]),
        "online": online,
        "entities": fs.list_entities(),
        "model_versions": [v.version for v in model["versions"]],
        "latest_version": model["latest_version"],
        "aliases": model["aliases"],
        "jobs": sorted(j["name"] for j in ws.service("jobs").list_jobs()),
        "runs": ws.service("jobs").list_runs(limit=1000)["total"],
    }


def test_reproduce_captures_every_write_to_shared_state(mlinfra_env, tmp_path, monkeypatch):
    from jupyter_mlinfra.core.jobs.local import wait_with_local_scheduler
    from jupyter_mlinfra.core.workspace import Workspace

    monkeypatch.setenv("MLINFRA_ROOT_DIR", str(tmp_path))
    _notebook(tmp_path / "score.ipynb", "print('scoring')")
    generating = _notebook(tmp_path / "train.ipynb", GENERATE)
    ws = Workspace.open()
    run = ws.service("jobs").submit(str(generating))
    final = wait_with_local_scheduler(ws, [run["id"]], timeout=240)[0]
    assert final["state"] == "succeeded", final.get("error")
    before = _shared_state(ws)
    assert before["latest_version"] == 1 and len(before["jobs"]) == 1
    assert {a["alias"] for a in before["aliases"]} == {"production", "champion"}
    assert before["freshness"]["offline_rows"] == 7  # six materialized rows, one pushed

    store = ws.service("models")
    expected = [
        "features.entity",
        "features.define",
        "features.materialize",
        "features.push",
        "models.register",
        "models.alias",
        "jobs.create",
    ]
    runs = before.pop("runs")
    for via_jobs in (None, False):  # as a job run (the default), then through the runner
        result = store.reproduce("fraud_model:1", via_jobs=via_jobs)
        assert result["error"] is None, result["error"]
        assert result["reproduced"] is True, result["metrics"]
        after = _shared_state(ws)
        runs_now = after.pop("runs")
        assert after == before
        assert runs_now - runs == (1 if via_jobs is None else 0)  # only reproduce's own run
        runs = runs_now
        writes = result["captured_writes"]
        assert [w["kind"] for w in writes] == expected
        by_kind = {w["kind"]: w for w in writes}
        assert by_kind["features.materialize"]["target"] == "fraud_view"
        assert by_kind["features.push"]["target"] == "fraud_view"
        assert by_kind["models.register"]["target"] == "fraud_model"
        assert "@production" in by_kind["models.register"]["summary"]
        assert by_kind["models.alias"]["summary"] == "move alias fraud_model@champion to version 1"
        assert by_kind["jobs.create"]["target"].startswith("fraud_refresh_")
        assert all("payload" not in w for w in writes)

    from jupyter_mlinfra.core.models.text import format_reproduction

    text = format_reproduction(result)
    assert "tried 7 write(s) to shared state, captured and not applied" in text
    assert "features.push: push rows to feature view fraud_view" in text
    ws.close()
