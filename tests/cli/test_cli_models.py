"""``jupyter mlinfra model ...`` and ``jupyter mlinfra serve`` (a real HTTP server process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pandas as pd
import pytest
from servers import free_port

from jupyter_mlinfra.cli.main import main


@pytest.fixture
def toy(mlinfra_env):
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlinfra.core.workspace import Workspace

    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]})

    def featurize(df):  # a local function: stored by value, loadable in another process
        return df[["a", "b"]] * 2

    ws = Workspace.open()
    store = ws.service("models")
    model = LogisticRegression().fit(featurize(frame), [0, 0, 0, 1, 1, 1])
    store.register(
        "toy",
        model,
        featurize=featurize,
        input_example=frame,
        metrics={"acc": 0.8},
        alias="production",
        figures=[],
    )
    store.register("toy", model, featurize=featurize, metrics={"acc": 0.9}, figures=[])
    yield {"frame": frame, "expected": model.predict(featurize(frame)).tolist()}
    ws.close()


def test_list_show_alias_archive(toy, capsys):
    assert main(["model", "list", "--metric", "acc>=0.85"]) == 0
    out = capsys.readouterr().out
    assert "toy" in out and "production->1" in out
    assert main(["model", "show", "toy:1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["aliases"] == ["production"] and shown["metrics"] == {"acc": 0.8}
    assert main(["model", "alias", "toy", "production", "2", "--protect"]) == 0
    assert "toy@production -> version 2 (protected)" in capsys.readouterr().out
    assert main(["model", "archive", "toy:2"]) == 4  # Conflict: the alias points at it
    assert "production" in capsys.readouterr().err
    assert main(["model", "archive", "toy:1"]) == 0
    assert main(["model", "show", "toy"]) == 0
    out = capsys.readouterr().out
    assert "archived" in out and "production" in out
    assert main(["model", "show", "nope"]) == 3
    assert "no model 'nope'" in capsys.readouterr().err


def test_alias_to_version_0_or_past_64_bits_is_a_usage_error(toy, capsys):
    # version 0 used to move the alias to the newest version
    for bad in ("0", "-1", str(2**63), str(2**70)):
        assert main(["model", "alias", "toy", "production", bad]) == 2, bad
        err = capsys.readouterr().err
        assert "versions are integers from 1" in err and len(err.strip().splitlines()) == 1
    assert main(["model", "show", "toy@production", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 1


def test_compare_batch_predict_and_dockerfile(toy, tmp_path, capsys, monkeypatch):
    assert main(["model", "compare", "toy:1", "toy:2"]) == 0
    assert "acc: 0.8 -> 0.9 (+0.1)" in capsys.readouterr().out
    toy["frame"].to_csv(tmp_path / "in.csv", index=False)
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            [
                "model",
                "batch-predict",
                "toy@production",
                str(tmp_path / "in.csv"),
                str(tmp_path / "out.parquet"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "6 rows predicted with toy:1" in out and "(jobs service (run " in out
    assert pd.read_parquet(tmp_path / "out.parquet")["prediction"].tolist() == toy["expected"]
    assert main(["model", "dockerfile", "toy@production", "-o", str(tmp_path / "img")]) == 0
    assert (tmp_path / "img" / "Dockerfile").read_text().count("toy@production") >= 1
    assert "scikit-learn==" in (tmp_path / "img" / "requirements.txt").read_text()


def _post(url: str, payload) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_serve_answers_predictions_over_http(toy, wait_until):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_mlinfra.cli.main",
            "serve",
            "toy@production",
            "--port",
            str(port),
            "--refresh",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        line = proc.stdout.readline()
        assert f"on http://127.0.0.1:{port}" in line, proc.stderr.read() if not line else line
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(base + "/health", timeout=10) as response:
            health = json.loads(response.read())
        assert health == {"status": "ok", "model": "toy", "version": 1, "served": "toy@production"}
        records = toy["frame"].to_dict(orient="records")
        status, body = _post(base + "/predict", {"records": records})
        assert status == 200 and body["predictions"] == toy["expected"]
        status, body = _post(base + "/mlinfra/api/models/toy/predict", records)
        assert status == 200 and body["version"] == 1
        status, body = _post(base + "/predict", {"records": [{"a": 1.0}]})
        assert status == 400 and "b" in body["error"]["message"]
        status, body = _post(base + "/predict", {"rows": []})
        assert status == 400
        # the alias moves: the running server follows it without a restart
        assert main(["model", "alias", "toy", "production", "2"]) == 0
        status, body = wait_until(
            lambda: (lambda answer: answer if answer[1].get("version") == 2 else None)(
                _post(base + "/predict", {"records": records})
            ),
            "the server to follow the alias to version 2",
            timeout=30,
            interval=0.2,
        )
        assert status == 200 and body["version"] == 2
        assert body["predictions"] == toy["expected"]
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    assert proc.returncode == 0
