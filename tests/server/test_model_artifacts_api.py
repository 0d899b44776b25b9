"""GET /models/{name}/versions/{version}/artifacts/{artifact}: what the model page's
artifact previews read - a file saved with the model served as its type, the first N bytes
on request with the whole size in X-Artifact-Size, and no script in an artifact runs."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from tornado.httpclient import HTTPClientError

CSV = b"step,loss\n" + b"1,0.5\n" * 5000


@pytest.fixture
def model_with_files(mlinfra_env, tmp_path):
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlinfra.core.workspace import Workspace

    (tmp_path / "scores.csv").write_bytes(CSV)
    (tmp_path / "report.html").write_bytes(b"<script>parent.document.title='x'</script>")
    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    ws = Workspace.open()
    try:
        ws.service("models").register(
            "toy",
            LogisticRegression().fit(frame, [0, 0, 1, 1]),
            input_example=frame,
            figures=[],
            files=[tmp_path / "scores.csv", tmp_path / "report.html"],
        )
    finally:
        ws.close()


def _artifact(jp_fetch, name: str, **params):
    return jp_fetch(
        "mlinfra",
        "api",
        "models",
        "toy",
        "versions",
        "1",
        "artifacts",
        *name.split("/"),
        params=params,
    )


async def test_a_saved_file_is_previewed_as_its_type_first_bytes_on_request(
    jp_fetch, model_with_files
):
    whole = await _artifact(jp_fetch, "files/scores.csv")
    assert whole.body == CSV
    assert whole.headers["Content-Type"].startswith("text/csv")
    assert "Content-Disposition" not in whole.headers
    assert whole.headers["X-Artifact-Size"] == str(len(CSV))
    assert whole.headers["X-Content-Type-Options"] == "nosniff"

    first = await _artifact(jp_fetch, "files/scores.csv", limit=64)
    assert first.body == CSV[:64]
    assert first.headers["X-Artifact-Size"] == str(len(CSV))

    download = await _artifact(jp_fetch, "files/scores.csv", download="1")
    assert download.headers["Content-Disposition"].startswith("attachment")

    with pytest.raises(HTTPClientError) as err:
        await _artifact(jp_fetch, "files/scores.csv", limit=0)
    assert err.value.code == 400
    assert "limit" in json.loads(err.value.response.body)["error"]["message"]


async def test_no_script_in_a_model_artifact_runs(jp_fetch, model_with_files):
    html = await _artifact(jp_fetch, "files/report.html")
    assert html.headers["Content-Type"] == "application/octet-stream"
    assert html.headers["Content-Disposition"].startswith("attachment")
    assert html.headers["Content-Security-Policy"].startswith("sandbox")
    assert html.headers["X-Content-Type-Options"] == "nosniff"
