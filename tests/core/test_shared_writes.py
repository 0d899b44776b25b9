"""Capture mode: in a reproduce re-run every write to shared state is recorded, not applied.

In-process (the capture file variable set as reproduce sets it in the re-run's kernel), so
each guarded operation is checked quickly; the end-to-end run with a real kernel is
tests/core/models/test_reproduce_side_effects.py.
"""

from __future__ import annotations

import json

import nbformat
import pandas as pd

from jupyter_mlinfra.core.shared_writes import CAPTURE_FILE_ENV


def _source() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 1],
            "event_timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"], utc=True),
            "amount": [10.0, 20.0, 30.0],
        }
    )


def _with_double(df: pd.DataFrame) -> pd.DataFrame:
    df["amount_x2"] = df["amount"] * 2
    return df


def test_every_write_is_captured_and_reads_still_work(mlinfra_env, tmp_path, monkeypatch):
    from sklearn.dummy import DummyClassifier

    from jupyter_mlinfra.core.workspace import Workspace

    monkeypatch.setenv("MLINFRA_ROOT_DIR", str(tmp_path))
    workspace = Workspace.open()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(1)")]
    nbformat.write(nb, tmp_path / "score.ipynb")
    fs, store, jobs = (workspace.service(n) for n in ("features", "models", "jobs"))
    fs.register_entity("customer", ["customer_id"])
    fs.register_view("spend", entities="customer", source=_source(), transform=_with_double)
    fs.materialize("spend", end="2024-01-02T12:00:00Z")
    model = DummyClassifier().fit([[0], [1]], [0, 1])
    store.register("churn", model, metrics={"auc": 0.5}, figures=[], alias="production")
    jobs.create_job("nightly", str(tmp_path / "score.ipynb"))
    before = (
        fs.describe("spend"),
        store.describe_model("churn")["aliases"],
        jobs.list_jobs(),
        jobs.list_runs()["total"],
        fs.list_entities(),
    )

    log = tmp_path / "captured.jsonl"
    log.touch()
    monkeypatch.setenv(CAPTURE_FILE_ENV, str(log))
    from jupyter_mlinfra import models

    assert models.is_reproducing()
    changed = _source().assign(amount=[1.0, 2.0, 3.0])
    assert fs.register_entity("account", ["account_id"])["captured"] is True
    out = fs.register_view("spend", entities="customer", source=changed, transform=_with_double)
    assert out["captured"] and out["version"] == 1 and not out["created"]
    out = fs.materialize("spend")
    assert out["captured"] and out["rows"] == 0 and out["view"] == "spend"
    out = fs.push(
        "spend", [{"customer_id": 2, "event_timestamp": "2024-02-01T00:00:00Z", "amount": 99.0}] * 2
    )
    assert out["captured"] and out["rows"] == 2
    fs.update_view("spend", description="changed")
    fs.compact("spend")
    v = store.register("churn", model, metrics={"auc": 0.9}, figures=[], alias="production")
    assert v.registered is False and v.version is None
    assert store.set_alias("churn", "champion", 1)["captured"] is True
    store.update("churn", description="changed")
    store.archive("churn:1")
    store.delete_alias("churn", "production")
    assert jobs.create_job("weekly", str(tmp_path / "score.ipynb"))["captured"] is True
    run = jobs.submit(str(tmp_path / "score.ipynb"))
    assert run["captured"] and run["id"] == "" and run["state"] == "captured"
    jobs.pause_job("nightly")
    jobs.delete_job("nightly")
    fs.delete_view("spend")
    # reads still work in capture mode
    assert fs.get_online_features(["spend:amount_x2"], [{"customer_id": 1}]).to_dict()[
        "amount_x2"
    ] == [20.0]
    assert store.load("churn@production").predict([[0]]) is not None

    monkeypatch.delenv(CAPTURE_FILE_ENV)
    after = (
        fs.describe("spend"),
        store.describe_model("churn")["aliases"],
        jobs.list_jobs(),
        jobs.list_runs()["total"],
        fs.list_entities(),
    )

    def strip(d):
        return {**d, "freshness": {k: v for k, v in d["freshness"].items() if k != "age_seconds"}}

    assert (strip(after[0]), *after[1:]) == (strip(before[0]), *before[1:])
    assert store.get("churn").version == 1 and store.get("churn:1").status == "ready"

    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["kind"], e["target"]) for e in entries] == [
        ("features.entity", "account"),
        ("features.define", "spend"),
        ("features.materialize", "spend"),
        ("features.push", "spend"),
        ("features.update", "spend"),
        ("features.compact", "spend"),
        ("models.register", "churn"),
        ("models.alias", "churn"),
        ("models.update", "churn"),
        ("models.archive", "churn:1"),
        ("models.delete_alias", "churn"),
        ("jobs.create", "weekly"),
        ("jobs.submit", str(tmp_path / "score.ipynb")),
        ("jobs.pause", "nightly"),
        ("jobs.delete", "nightly"),
        ("features.delete", "spend"),
    ]
    push = entries[3]
    assert push["summary"] == "push rows to feature view spend"
    assert push["details"]["rows"] == "<2 items>" or len(push["details"]["rows"]) == 2
    assert entries[6]["payload"]["metrics"] == {"auc": 0.9}  # what reproduce compares
    workspace.close()
