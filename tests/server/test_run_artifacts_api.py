"""GET /runs/{id}/artifacts/{name}: the bytes of an artifact a run saved, for the run page's
previews (images, CSV, JSON, text as their own type, the first N bytes on request) and
downloads (anything else as an attachment); no script in an artifact runs; read only by who
may read the run."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from tests.core.jobs.notebooks import make_root
from tests.server.conftest import NamedUsers

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101005ee7e0fb0000000049454e44ae426082"
)


@pytest.fixture
def jp_server_config(mlinfra_env, monkeypatch):
    # runs stay queued: the artifacts are logged by the test, as the run's kernel would
    monkeypatch.setenv("MLINFRA_JOBS_SCHEDULER_IN_SERVER", "false")
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mlinfra": True},
            "identity_provider_class": NamedUsers,
        }
    }


@pytest.fixture
def nb_root(jp_root_dir):
    return make_root(jp_root_dir)


async def _run_with_artifacts(fetch, visibility: str) -> str:
    from jupyter_mlinfra.core.config import resolve_config
    from jupyter_mlinfra.core.workspace import Workspace

    run = json.loads(
        (
            await fetch(
                "mlinfra",
                "api",
                "runs",
                method="POST",
                body=json.dumps({"notebook": "ok.ipynb", "visibility": visibility}),
            )
        ).body
    )
    ws = Workspace(resolve_config(), user="alice")
    try:
        jobs = ws.service("jobs")
        jobs.log_artifact(run["id"], "plots/loss.png", PNG)
        jobs.log_artifact(run["id"], "scores.csv", b"step,loss\n" + b"1,0.5\n" * 5000)
        jobs.log_artifact(run["id"], "report.html", b"<script>parent.document.title='x'</script>")
        jobs.log_artifact(run["id"], "model.bin", b"\x00\x01\x02")
    finally:
        ws.close()
    return run["id"]


async def _refused(request) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as err:
        await request
    return err.value.code, json.loads(err.value.response.body)["error"]["message"]


async def test_artifact_bytes_served_as_their_type_for_previews(as_user, nb_root):
    alice = as_user("alice", "fraud")
    run_id = await _run_with_artifacts(alice, "team")

    png = await alice("mlinfra", "api", "runs", run_id, "artifacts", "plots/loss.png")
    assert png.body == PNG
    assert png.headers["Content-Type"] == "image/png"
    assert "Content-Disposition" not in png.headers
    assert png.headers["X-Content-Type-Options"] == "nosniff"
    assert png.headers["Content-Security-Policy"].startswith("sandbox")

    # a preview asks for the first bytes only, and learns the whole size
    head = await alice(
        "mlinfra", "api", "runs", run_id, "artifacts", "scores.csv", params={"limit": 64}
    )
    assert head.headers["Content-Type"].startswith("text/csv")
    assert head.body == (b"step,loss\n" + b"1,0.5\n" * 5000)[:64]
    assert int(head.headers["X-Artifact-Size"]) == 10 + 6 * 5000
    whole = await alice("mlinfra", "api", "runs", run_id, "artifacts", "scores.csv")
    assert len(whole.body) == 10 + 6 * 5000

    # HTML or unknown types are downloads, never a page that runs its script
    html = await alice("mlinfra", "api", "runs", run_id, "artifacts", "report.html")
    assert html.headers["Content-Type"] == "application/octet-stream"
    assert html.headers["Content-Disposition"].startswith('attachment; filename="report.html"')
    binary = await alice("mlinfra", "api", "runs", run_id, "artifacts", "model.bin")
    assert binary.body == b"\x00\x01\x02"
    assert "attachment" in binary.headers["Content-Disposition"]
    forced = await alice(
        "mlinfra", "api", "runs", run_id, "artifacts", "plots/loss.png", params={"download": "1"}
    )
    assert 'filename="loss.png"' in forced.headers["Content-Disposition"]

    # mistakes are named: no such artifact, a bad limit, a name outside the run's folder
    code, message = await _refused(alice("mlinfra", "api", "runs", run_id, "artifacts", "nope.csv"))
    assert code == 404 and "nope.csv" in message
    code, message = await _refused(
        alice("mlinfra", "api", "runs", run_id, "artifacts", "scores.csv", params={"limit": 0})
    )
    assert code == 400 and "limit" in message
    code, _ = await _refused(alice("mlinfra", "api", "runs", run_id, "artifacts", "a/../../x"))
    assert code in (400, 404)


async def test_artifacts_of_a_run_nobody_else_may_read_are_not_found(as_user, nb_root):
    alice, carol = as_user("alice", "fraud"), as_user("carol", "risk")
    run_id = await _run_with_artifacts(alice, "private")
    assert (await alice("mlinfra", "api", "runs", run_id, "artifacts", "scores.csv")).code == 200
    code, message = await _refused(
        carol("mlinfra", "api", "runs", run_id, "artifacts", "scores.csv")
    )
    assert code == 404 and "scores.csv" not in message


async def test_openapi_describes_the_artifact_door(jp_fetch):
    spec = json.loads((await jp_fetch("mlinfra", "api", "openapi.json")).body)
    op = spec["paths"]["/runs/{run_id}/artifacts/{name}"]["get"]
    assert op["operationId"] == "getRunArtifact"
    assert {"400", "404"} <= set(op["responses"])
