"""The central service process: only the mlinfra API, identity from the token table only,
and clients in remote mode that open nothing themselves."""

from __future__ import annotations

import json

import pytest


def test_service_serves_the_mlinfra_api_and_nothing_else(service):
    assert service.get("mlinfra/api/health").status_code == 200
    assert service.get("mlinfra/api/openapi.json").json()["paths"]
    for path in (
        "api/kernels",
        "api/contents",
        "api/sessions",
        "api/terminals",
        "lab",
        "files/train.ipynb",
        "tree",
    ):
        assert service.get(path).status_code == 404, path


def test_identity_comes_from_the_token_never_from_the_client(service):
    alice = service.get("mlinfra/api/health").json()
    assert (alice["user"], alice["teams"]) == ("alice", ["fraud"])
    # what a client may claim about itself changes nothing
    claimed = service.get(
        "mlinfra/api/health",
        user="bob",
        headers={
            "X-Test-User": "alice",
            "X-Forwarded-User": "alice",
            "Cookie": "username-127-0-0-1=alice",
        },
    ).json()
    assert (claimed["user"], claimed["teams"]) == ("bob", ["risk"])
    assert service.get("mlinfra/api/health", user="carol").json()["roles"] == ["admin"]


def test_requests_without_a_known_token_are_refused(service):
    import requests

    assert service.get("mlinfra/api/health", user=None).status_code == 403
    for header in ("token nope", "bearer nope", "Basic YWxpY2U6eA==", service.token("alice")):
        answer = requests.get(
            service.url + "mlinfra/api/health", headers={"Authorization": header}, timeout=30
        )
        assert answer.status_code == 403, header
        assert answer.json()["error"]["code"] == "http_403"


def test_remote_workspace_reports_the_service_and_opens_no_catalog(service, remote):
    from jupyter_mlinfra.core.errors import ConfigurationError

    ws = remote(service, "alice")
    health = ws.health()
    assert health["user"] == "alice" and health["service_url"] == service.url
    assert health["catalog"]["backend"] == "sqlite"
    text = ws.info_text()
    assert f"service:     {service.url}" in text and "identity:    alice  teams fraud" in text
    with pytest.raises(ConfigurationError, match="mlinfra service at .*catalog"):
        _ = ws.catalog
    with pytest.raises(ConfigurationError, match="artifact store"):
        _ = ws.artifacts
    assert not (ws.config.home / "catalog.db").exists()


def test_the_process_workspace_follows_the_token(service, monkeypatch, tmp_path):
    """A process whose token changes (another user's MLINFRA_SERVICE_TOKEN, or a Hub token
    alone) acts as the new token's user at once: the token is the identity, not a setting."""
    from jupyter_mlinfra.core.workspace import get_workspace

    monkeypatch.setenv("MLINFRA_HOME", str(tmp_path / "client"))
    monkeypatch.setenv("MLINFRA_SERVICE_URL", service.url)
    monkeypatch.setenv("MLINFRA_SERVICE_TOKEN", service.token("alice"))
    assert get_workspace().health()["user"] == "alice"
    monkeypatch.setenv("MLINFRA_SERVICE_TOKEN", service.token("bob"))
    assert get_workspace().health()["user"] == "bob"
    monkeypatch.delenv("MLINFRA_SERVICE_TOKEN")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", service.token("carol"))
    assert get_workspace().health()["user"] == "carol"
    monkeypatch.delenv("MLINFRA_SERVICE_URL")
    get_workspace(refresh=True)


def test_cli_info_in_remote_mode(service, cli, tmp_path):
    done = cli(service, "bob", "info", "--json")
    assert done.returncode == 0, done.stderr
    health = json.loads(done.stdout)["health"]
    assert health["user"] == "bob" and health["teams"] == ["risk"]
    assert not (tmp_path / "cli-home-bob" / "catalog.db").exists()
    # a wrong token: one line and the permission exit code, no traceback
    bad = cli(service, "bob", "info", MLINFRA_SERVICE_TOKEN="wrong")
    assert bad.returncode == 5 and "Traceback" not in bad.stderr
    assert "refused the token" in bad.stderr


def test_service_unreachable_is_one_clear_error(remote, service):
    from jupyter_mlinfra.core.remote import ServiceClient, ServiceUnavailable

    ws = remote(service, "alice")
    ws.remote = ServiceClient("http://127.0.0.1:9/", "x")  # nothing listens there
    with pytest.raises(ServiceUnavailable, match="cannot reach the mlinfra service"):
        ws.health()


def test_the_service_runs_no_callers_code_in_its_process(service):
    import requests

    for path, body in (
        ("mlinfra/api/models/churn/predict", {"records": [{"a": 1}]}),
        ("mlinfra/api/features/views/spend/materialize", {}),
        ("mlinfra/api/features/views/spend/push", {"rows": [{"a": 1}]}),
    ):
        answer = requests.post(
            service.url + path,
            json=body,
            timeout=30,
            headers={"Authorization": f"token {service.token('carol')}"},
        )
        assert answer.status_code == 403, path
        assert (
            "does not run stored models or feature transforms" in answer.json()["error"]["message"]
        )


def test_run_tokens_act_as_the_runs_owner_only_while_valid(service):
    """The tokens the service signs for job kernels (run_tokens): a forged or expired one,
    or one whose run is not running, is refused."""
    import requests

    from jupyter_mlinfra.server.run_tokens import RunTokens

    RUN_TOKEN_SECRET = service.run_token_secret

    def health(token: str):
        return requests.get(
            service.url + "mlinfra/api/health",
            timeout=30,
            headers={"Authorization": f"token {token}"},
        )

    # a well-signed token of a run that is not running (here: no such run) is refused; one
    # of a running run acts as its owner (tests/service/test_job_kernels.py)
    signed = RunTokens(RUN_TOKEN_SECRET).issue("alice", "0" * 32)
    assert health(signed).status_code == 403
    assert health(RunTokens("another key").issue("alice", "0" * 32)).status_code == 403
    assert (
        health(RunTokens(RUN_TOKEN_SECRET).issue("alice", "0" * 32, lifetime=-1)).status_code == 403
    )
    assert health(signed[:-2] + "xx").status_code == 403


def test_service_help_lists_its_options():
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "jupyter-mlinfra"), "service", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--tokens-file" in done.stdout and "Traceback" not in done.stderr
