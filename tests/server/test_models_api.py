"""The model store's REST API in a real Jupyter server."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from tornado.httpclient import HTTPClientError


@pytest.fixture
def registered(mlinfra_env):
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlinfra.core.workspace import Workspace

    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]})
    y = [0, 0, 0, 1, 1, 1]

    def featurize(df):
        return df[["a", "b"]] * 2

    ws = Workspace.open()
    store = ws.service("models")
    m1 = LogisticRegression(C=1.0).fit(featurize(frame), y)
    m2 = LogisticRegression(C=0.01).fit(featurize(frame), y)
    store.register(
        "toy",
        m1,
        featurize=featurize,
        input_example=frame,
        metrics={"acc": 0.8},
        alias="production",
        tags={"team": "x"},
        figures=[],
    )
    store.register(
        "toy", m2, featurize=featurize, input_example=frame, metrics={"acc": 0.9}, figures=[]
    )
    yield {"frame": frame, "m1": m1, "m2": m2, "featurize": featurize}
    ws.close()


async def _json(jp_fetch, *parts, **kw):
    response = await jp_fetch("mlinfra", "api", *parts, **kw)
    return json.loads(response.body) if response.body else None


async def test_list_show_and_search(jp_fetch, registered):
    body = await _json(jp_fetch, "models")
    assert [m["name"] for m in body["items"]] == ["toy"]
    assert body["items"][0]["aliases"] == {"production": 1}
    body = await _json(jp_fetch, "models", params={"metric": "acc>=0.85"})
    assert body["items"][0]["version"] == 2
    body = await _json(jp_fetch, "model-versions", params={"tag": "team=x", "q": "to"})
    assert [v["version"] for v in body["items"]] == [1]  # only version 1 is tagged
    model = await _json(jp_fetch, "models", "toy")
    assert model["latest_version"] == 2 and model["aliases"][0]["alias"] == "production"
    version = await _json(jp_fetch, "models", "toy", "versions", "1")
    assert version["definition"]["hyperparameters"]["C"] == 1.0
    assert {a["name"] for a in version["artifacts"]} >= {"model.joblib", "featurize.pkl"}
    source = await jp_fetch(
        "mlinfra", "api", "models", "toy", "versions", "1", "artifacts", "functions.py"
    )
    assert b'return df[["a", "b"]] * 2' in source.body
    diff = await _json(jp_fetch, "models", "toy", "compare", params={"a": "@production", "b": "2"})
    assert diff["hyperparameters"]["C"] == {"a": 1.0, "b": 0.01}


async def test_predict_moves_with_the_alias(jp_fetch, registered):
    frame, featurize = registered["frame"], registered["featurize"]
    records = frame.to_dict(orient="records")
    body = await _json(
        jp_fetch,
        "models",
        "toy",
        "predict",
        method="POST",
        body=json.dumps({"records": records, "alias": "production"}),
    )
    assert body["version"] == 1
    assert body["predictions"] == registered["m1"].predict(featurize(frame)).tolist()
    moved = await _json(
        jp_fetch,
        "models",
        "toy",
        "aliases",
        "production",
        method="PUT",
        body=json.dumps({"version": 2, "protected": True}),
    )
    assert moved == {
        "model": "toy",
        "alias": "production",
        "version": 2,
        "protected": True,
        "owner": moved["owner"],
    }
    body = await _json(
        jp_fetch,
        "models",
        "toy",
        "predict",
        method="POST",
        body=json.dumps({"records": records, "alias": "production"}),
    )
    assert body["version"] == 2
    assert body["predictions"] == registered["m2"].predict(featurize(frame)).tolist()


async def test_errors_are_json_with_status(jp_fetch, registered):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("mlinfra", "api", "models", "nope")
    assert err.value.code == 404
    assert json.loads(err.value.response.body)["error"]["code"] == "not_found"
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(
            "mlinfra",
            "api",
            "models",
            "toy",
            "predict",
            method="POST",
            body=json.dumps({"records": [{"a": 1.0}]}),
        )
    assert err.value.code == 400
    assert "b" in json.loads(err.value.response.body)["error"]["message"]
    with pytest.raises(HTTPClientError) as err:  # the target of @production
        await jp_fetch(
            "mlinfra",
            "api",
            "models",
            "toy",
            "versions",
            "1",
            method="PATCH",
            body=json.dumps({"archived": True}),
        )
    assert err.value.code == 409
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(
            "mlinfra",
            "api",
            "models",
            "toy",
            "aliases",
            "staging",
            method="PUT",
            body=json.dumps({"protected": True}),
        )
    assert err.value.code == 400


async def test_archive_and_openapi(jp_fetch, registered):
    body = await _json(
        jp_fetch,
        "models",
        "toy",
        "versions",
        "2",
        method="PATCH",
        body=json.dumps({"archived": True}),
    )
    assert body["status"] == "archived"
    listed = await _json(jp_fetch, "models")
    assert listed["items"][0]["version"] == 1
    doc = await _json(jp_fetch, "openapi.json")
    assert "/models/{name}/predict" in doc["paths"]
    assert "ModelVersion" in doc["components"]["schemas"]


async def test_predict_fills_features_from_the_online_store(jp_fetch, mlinfra_env):
    """A model trained on a feature-store training frame: records carrying only the entity
    key get their features from the online store (values sent in the request win)."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace.open()
    features = ws.service("features")
    now = pd.Timestamp.now(tz="UTC").floor("min")
    features.register_entity("customer", ["customer_id"])
    features.register_view(
        "spend",
        entities="customer",
        ttl="2d",
        visibility="public",
        source=pd.DataFrame(
            {
                "customer_id": [1, 2, 3, 4],
                "event_timestamp": [now - pd.Timedelta(hours=1)] * 4,
                "amount": [10.0, 200.0, 15.0, 300.0],
            }
        ),
    )
    features.materialize("spend")
    labels = pd.DataFrame(
        {"customer_id": [1, 2, 3, 4], "event_timestamp": [now] * 4, "big": [0, 1, 0, 1]}
    )
    frame = features.get_training_frame(labels, ["spend:amount"])

    def featurize(df):
        return df[["amount"]]

    model = LogisticRegression().fit(featurize(frame), frame["big"])
    v = ws.service("models").register(
        "spender", model, featurize=featurize, training_data=frame, figures=[]
    )
    assert v.data[0]["lineage"]["features"] == ["spend@1:amount"]
    assert any(
        u["consumer"] == "model:spender/1"
        for u in features.describe("spend", statistics=False)["used_by"]
    )
    body = await _json(
        jp_fetch,
        "models",
        "spender",
        "predict",
        method="POST",
        body=json.dumps(
            {
                "records": [
                    {"customer_id": 2},
                    {"customer_id": 1},
                    {"customer_id": 1, "amount": 250.0},
                ]
            }
        ),
    )
    expected = model.predict(pd.DataFrame({"amount": [200.0, 10.0, 250.0]})).tolist()
    assert body["predictions"] == expected
    features.close()
    ws.close()


async def test_reproduce_endpoint_reruns_the_replay_script(
    jp_fetch, mlinfra_env, tmp_path, monkeypatch
):
    """A version registered outside a notebook file keeps its replay script; reproducing it
    (POST .../reproduce) re-runs that script in a fresh kernel and compares the metric."""
    from sklearn.dummy import DummyClassifier

    from jupyter_mlinfra.core.models.capture import SessionContext
    from jupyter_mlinfra.core.workspace import Workspace

    monkeypatch.chdir(tmp_path)
    cells = [
        "from sklearn.dummy import DummyClassifier\nfrom jupyter_mlinfra import models",
        "m = DummyClassifier(strategy='most_frequent').fit([[0], [1], [2]], [0, 1, 1])\n"
        "score = float(m.score([[0], [1], [2]], [0, 1, 1]))",
        "models.register('rep', m, metrics={'score': score}, figures=[])",
    ]
    ws = Workspace.open()
    model = DummyClassifier(strategy="most_frequent").fit([[0], [1], [2]], [0, 1, 1])
    v = ws.service("models").register(
        "rep", model, metrics={"score": 2 / 3}, figures=[], context=SessionContext(history=cells)
    )
    assert v.artifact("notebook.ipynb") is None and v.artifact("replay.py") is not None
    body = await _json(
        jp_fetch,
        "models",
        "rep",
        "versions",
        "1",
        "reproduce",
        method="POST",
        body=json.dumps({"tolerance": 1e-9}),
        request_timeout=240,
    )
    assert body["source"] == "replay script"
    assert body["error"] is None, body["error"]
    assert body["reproduced"] is True
    assert body["metrics"]["score"]["reproduced"] == pytest.approx(2 / 3)
    assert ws.service("models").status()["versions"] == 1
    # the re-run's registration is listed as a captured write (the panel shows the list)
    assert [(w["kind"], w["target"]) for w in body["captured_writes"]] == [
        ("models.register", "rep")
    ]
    ws.close()


async def test_records_a_model_cannot_take_are_a_400_not_a_500(jp_fetch, mlinfra_env):
    # A model registered without an input example fails inside predict on records without
    # its columns: the caller's mistake (400, the model's complaint quoted short), not a 500.
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace.open()
    ws.service("models").register(
        "bare",
        LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0]], [0, 1, 1]),
        figures=[],
    )
    ws.close()
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(
            "mlinfra",
            "api",
            "models",
            "bare",
            "predict",
            method="POST",
            body=json.dumps({"records": [{}]}),
        )
    assert err.value.code == 400
    error = json.loads(err.value.response.body)["error"]
    assert error["code"] == "invalid_input" and "cannot predict these records" in error["message"]
