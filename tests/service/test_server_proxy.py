"""A Jupyter server in remote mode (a JupyterHub single-user server with service_url): the
extension opens no catalog, starts no scheduler, and the side panel's /mlinfra/api requests
are answered by the central service for the server's owner."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError


@pytest.fixture
def jp_server_config(service, mlinfra_env, monkeypatch):
    monkeypatch.setenv("MLINFRA_SERVICE_URL", service.url)
    monkeypatch.setenv("MLINFRA_SERVICE_TOKEN", service.token("bob"))
    return {"ServerApp": {"jpserver_extensions": {"jupyter_mlinfra": True}}}


async def test_panel_requests_go_to_the_service(jp_fetch, service, mlinfra_env):
    health = json.loads((await jp_fetch("mlinfra", "api", "health")).body)
    assert health["user"] == "bob" and health["teams"] == ["risk"]
    assert health["catalog"]["url"].endswith(str(service.home / "catalog.db"))
    run = json.loads(
        (
            await jp_fetch(
                "mlinfra",
                "api",
                "runs",
                method="POST",
                body=json.dumps({"notebook": "train.ipynb", "parameters": {"x": 4}}),
            )
        ).body
    )
    assert run["owner"] == "bob"
    listed = json.loads((await jp_fetch("mlinfra", "api", "runs", params={"limit": "5"})).body)
    assert run["id"] in [r["id"] for r in listed["items"]]
    cancelled = json.loads(
        (
            await jp_fetch("mlinfra", "api", "runs", run["id"], "cancel", method="POST", body="{}")
        ).body
    )
    assert cancelled["id"] == run["id"]
    with pytest.raises(HTTPClientError) as missing:  # the service's own error, as it is
        await jp_fetch("mlinfra", "api", "jobs", "no-such-job")
    assert missing.value.code == 404
    assert json.loads(missing.value.response.body)["error"]["code"] == "not_found"
    # nothing was opened locally
    assert not (mlinfra_env / "catalog.db").exists()
