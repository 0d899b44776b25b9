"""Deploying a model in remote mode: batch prediction, a Dockerfile and a prediction server,
each in the client's process over the model loaded (and cached) there from the service, which
never unpickles a caller's model. The batch input is a training frame fetched from the
service's feature store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from jupyter_mlinfra.core.errors import InvalidInput

VENV_BIN = str(Path(sys.executable).parent)


def featurize(df):
    return df[["amount"]]


@pytest.fixture(scope="module")
def deployed(service):
    """On the service's catalog, as alice: a public view "spend" (materialized) and a model
    "spender" trained on its "amount" feature, alias production -> version 1."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlinfra.core.config import resolve_config
    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace(resolve_config(environ={"MLINFRA_HOME": str(service.home)}), user="alice")
    fs = ws.service("features")
    fs.register_entity("customer", ["customer_id"])
    source = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "event_timestamp": pd.to_datetime(["2024-01-01"] * 4, utc=True),
            "amount": [1.0, 50.0, 2.0, 60.0],
        }
    )
    fs.register_view("spend", entities="customer", source=source, visibility="public")
    fs.materialize("spend")
    train = pd.DataFrame({"amount": [1.0, 2.0, 3.0, 50.0, 60.0, 70.0] * 3})
    labels = [0, 0, 0, 1, 1, 1] * 3
    store = ws.service("models")
    store.register(
        "spender",
        LogisticRegression().fit(train, labels),
        featurize=featurize,
        input_example=train.head(2),
    )
    store.set_alias("spender", "production", 1)
    ws.close()


def _entity_df():
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "event_timestamp": pd.to_datetime(["2024-02-01"] * 4, utc=True),
        }
    )


def test_batch_predict_in_the_client_over_a_remote_training_frame(
    service, remote, deployed, tmp_path
):
    ws = remote(service, "bob")
    frame = ws.service("features").get_training_frame(_entity_df(), ["spend:amount"])
    source = tmp_path / "customers.parquet"
    frame.to_parquet(source, index=False)
    models = ws.service("models")
    result = models.batch_predict("spender@production", str(source), str(tmp_path / "out.csv"))
    assert result["rows"] == 4 and result["model"] == "spender:1"
    assert "in-process" in result["executed_by"]
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["prediction"].tolist() == [0, 1, 0, 1]
    assert out["customer_id"].tolist() == [1, 2, 3, 4]
    with pytest.raises(InvalidInput, match="in this process"):
        models.batch_predict("spender", str(source), str(tmp_path / "x.csv"), as_job=True)
    assert not (tmp_path / "x.csv").exists()
    assert not (tmp_path / "client-bob" / "catalog.db").exists()


def test_dockerfile_from_the_services_metadata(service, remote, deployed, tmp_path):
    models = remote(service, "bob").service("models")
    result = models.dockerfile("spender@production", str(tmp_path / "image"))
    dockerfile = (tmp_path / "image" / "Dockerfile").read_text()
    assert f'MLINFRA_SERVICE_URL="{service.url}"' in dockerfile
    assert "MLINFRA_CATALOG_URL" not in dockerfile
    assert '"serve", "spender@production"' in dockerfile
    requirements = (tmp_path / "image" / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements
    assert result["served"] == "spender@production" and result["service_url"] == service.url


def test_a_prediction_server_over_a_remotely_loaded_model(service, remote, deployed):
    from jupyter_mlinfra.core.models.deploy import make_server

    models = remote(service, "alice").service("models")
    server = make_server(models, "spender@production", port=0, refresh=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        answer = requests.post(
            f"http://{host}:{port}/predict", json={"records": [{"amount": 1.5}, {"amount": 65}]}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == [0, 1] and answer.json()["version"] == 1
        assert server.check_for_new_version() is False
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _remote_env(service, user, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLINFRA_", "JUPYTERHUB_"))}
    env.update(
        MLINFRA_SERVICE_URL=service.url,
        MLINFRA_SERVICE_TOKEN=service.token(user),
        MLINFRA_HOME=str(tmp_path / f"cli-home-{user}"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "cli-config"),
        JUPYTER_CONFIG_PATH=str(tmp_path / "cli-config"),
    )
    return env


def test_cli_batch_predict_dockerfile_and_serve_in_remote_mode(
    service, service_kit, cli, deployed, tmp_path
):
    source = tmp_path / "in.parquet"
    pd.DataFrame({"amount": [1.0, 55.0]}).to_parquet(source)
    done = cli(service, "bob", "model", "batch-predict", "spender:1", str(source), "out.parquet")
    assert done.returncode == 0, done.stderr
    assert "2 rows predicted with spender:1" in done.stdout
    assert pd.read_parquet(tmp_path / "out.parquet")["prediction"].tolist() == [0, 1]
    written = cli(service, "bob", "model", "dockerfile", "spender@production", "-o", "img")
    assert written.returncode == 0, written.stderr
    assert service.url in (tmp_path / "img" / "Dockerfile").read_text()

    port = service_kit.free_port()
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        [os.path.join(VENV_BIN, "jupyter-mlinfra"), "serve", "spender@production"]
        + ["--port", str(port), "--refresh", "0"],
        env=_remote_env(service, "bob", tmp_path),
        cwd=tmp_path,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()
            try:
                health = requests.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        assert health.json()["version"] == 1
        answer = requests.post(
            f"http://127.0.0.1:{port}/predict",
            data=json.dumps([{"amount": 70.0}]),
            timeout=30,
        )
        assert answer.json()["predictions"] == [1], answer.text
    finally:
        process.terminate()
        process.wait(30)
    assert not (tmp_path / "cli-home-bob" / "catalog.db").exists()


def test_model_pages_in_remote_mode(service, remote, deployed):
    models = remote(service, "bob").service("models")
    page = models.list_models_page(limit=1)
    assert [m["name"] for m in page["items"]] == ["spender"] and page["total"] == 1
    found = models.search_page(owner="alice", limit=5)
    assert found["items"][0]["name"] == "spender" and found["total"] == 1
    versions = models.versions_page("spender", limit=5)
    assert [v["version"] for v in versions["items"]] == [1]


def test_reproduce_options_the_service_does_not_take_are_refused(service, remote, deployed):
    models = remote(service, "bob").service("models")
    with pytest.raises(InvalidInput, match="takes only tolerance"):
        models.reproduce("spender:1", timeout=5, kernel_name="python3")
