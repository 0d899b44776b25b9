"""The REST API's foundation: health, OpenAPI, auth and the error format."""

import json

import pytest
from tornado.httpclient import HTTPClientError


async def test_health_reports_version_and_backends(jp_fetch, mlinfra_env):
    response = await jp_fetch("mlinfra", "api", "health")
    assert response.code == 200
    body = json.loads(response.body)
    from jupyter_mlinfra import __version__

    assert body["version"] == __version__
    assert body["catalog"]["backend"] == "sqlite"
    from jupyter_mlinfra.core.catalog import Catalog

    heads = Catalog("sqlite://")._head_revisions()
    assert set(body["catalog"]["schema_revisions"]) == heads
    assert body["artifacts"]["backend"] == "local"
    assert body["artifacts"]["root"].startswith(str(mlinfra_env))
    assert set(body["capabilities"]) == {"provenance", "jobs", "models", "features"}
    # A single-user (token) server acts as the user running it, like its kernels and the CLI,
    # not as jupyter_server's random "Anonymous" id.
    from jupyter_mlinfra.core.config import resolve_config

    assert body["user"] == resolve_config().user


async def test_health_refuses_requests_without_token(jp_fetch):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("mlinfra", "api", "health", headers={"Authorization": ""})
    assert err.value.code == 403


async def test_openapi_document_lists_health(jp_fetch):
    response = await jp_fetch("mlinfra", "api", "openapi.json")
    doc = json.loads(response.body)
    assert doc["openapi"].startswith("3.")
    assert "/health" in doc["paths"]


async def test_unknown_route_is_404(jp_fetch):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("mlinfra", "api", "no-such-thing")
    assert err.value.code == 404


async def test_bad_input_is_one_warning_line_in_the_server_log(jp_fetch, caplog):
    # A user's typo in the schedule field is answered 400 with a message; the server log
    # says so in one line instead of an "Uncaught exception" traceback an admin would chase.
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(
            "mlinfra", "api", "jobs", "schedule-preview", params={"schedule": "0 25 * * *"}
        )
    assert err.value.code == 400
    assert "invalid cron expression" in json.loads(err.value.response.body)["error"]["message"]
    logged = [r for r in caplog.records if "schedule-preview" in r.getMessage()]
    assert any(r.levelname == "WARNING" and "invalid_input" in r.getMessage() for r in logged), [
        r.getMessage() for r in logged
    ]
    assert not any("Uncaught exception" in r.getMessage() or r.exc_info for r in logged)
