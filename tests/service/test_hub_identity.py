"""The service as a JupyterHub-managed service: it listens where JUPYTERHUB_SERVICE_URL says,
under JUPYTERHUB_SERVICE_PREFIX, and asks the Hub's REST API who a token belongs to
(``HubAuth.user_for_token``) and, with its own token, the user's groups.

The Hub here is a small HTTP server answering the two Hub API calls the service makes
(``GET /hub/api/user`` with the caller's token, ``GET /hub/api/users/<name>`` with the
service's token), as JupyterHub 5 answers them; the real Hub is in the JupyterHub test."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

SERVICE_TOKEN = "service-api-token"
NO_ACCESS = "token-without-the-access-scope"
ODD_SCOPES = "token-with-a-scope-the-parser-refuses"


class StubHub(BaseHTTPRequestHandler):
    calls: list = []
    users: dict = {}

    def log_message(self, *args) -> None:
        pass

    def _answer(self, status: int, body: dict | None) -> None:
        data = json.dumps(body or {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        token = self.headers.get("Authorization", "").partition(" ")[2]
        StubHub.calls.append((self.path, token))
        if self.path == "/hub/api/user":
            for name, user in StubHub.users.items():
                if token == user["token"]:
                    # a server token's model: name and scopes, no groups
                    return self._answer(
                        200,
                        {
                            "kind": "user",
                            "name": name,
                            "scopes": [
                                "access:services!service=mlinfra",
                                f"read:users:name!user={name}",
                            ],
                        },
                    )
            if token == ODD_SCOPES:
                return self._answer(
                    200, {"kind": "user", "name": "alice", "scopes": ["read:users:name!user"]}
                )
            if token == NO_ACCESS:
                return self._answer(
                    200, {"kind": "user", "name": "alice", "scopes": ["read:users:name!user=alice"]}
                )
            return self._answer(403, {"status": 403, "message": "no such token"})
        if self.path.startswith("/hub/api/users/") and token == SERVICE_TOKEN:
            name = self.path.rsplit("/", 1)[1]
            if name in StubHub.users:
                return self._answer(
                    200, {"kind": "user", "name": name, "groups": StubHub.users[name]["groups"]}
                )
        return self._answer(404, {"status": 404, "message": "not found"})


@pytest.fixture(scope="module")
def hub_service(tmp_path_factory, service_kit):
    StubHub.users = service_kit.users
    hub = ThreadingHTTPServer(("127.0.0.1", 0), StubHub)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    port = service_kit.free_port()
    env = {
        "JUPYTERHUB_API_TOKEN": SERVICE_TOKEN,
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{hub.server_address[1]}/hub/api",
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}",
        "JUPYTERHUB_SERVICE_PREFIX": "/services/mlinfra/",
        "JUPYTERHUB_SERVICE_NAME": "mlinfra",
    }
    svc = service_kit.start(
        tmp_path_factory.mktemp("hub-service"), extra_env=env, base="services/mlinfra/"
    )
    yield svc
    service_kit.stop(svc)
    hub.shutdown()


def test_identity_and_groups_come_from_the_hub(hub_service):
    StubHub.calls.clear()
    alice = hub_service.get("mlinfra/api/health").json()
    assert (alice["user"], alice["teams"]) == ("alice", ["fraud"])
    bob = hub_service.get(
        "mlinfra/api/health", user="bob", headers={"X-Forwarded-User": "alice"}
    ).json()
    assert (bob["user"], bob["teams"]) == ("bob", ["risk"])
    # the groups were asked with the service's own token, never the caller's
    lookups = [(path, token) for path, token in StubHub.calls if path.startswith("/hub/api/users/")]
    assert lookups and all(token == SERVICE_TOKEN for _, token in lookups)
    # answers are cached: asking again does not ask the Hub again
    before = len(StubHub.calls)
    hub_service.get("mlinfra/api/health")
    assert len(StubHub.calls) == before


def test_tokens_the_hub_does_not_vouch_for_are_refused(hub_service):
    def status(token: str) -> int:
        return requests.get(
            hub_service.url + "mlinfra/api/health",
            timeout=30,
            headers={"Authorization": f"token {token}"},
        ).status_code

    assert status("unknown-token") == 403
    assert status(NO_ACCESS) == 403  # a token without access:services!service=mlinfra
    assert status(ODD_SCOPES) == 403  # not a 500
    # the service's prefix is the Hub's: nothing is served outside it
    root = hub_service.url.split("/services/")[0] + "/mlinfra/api/health"
    assert (
        requests.get(
            root, timeout=30, headers={"Authorization": f"token {hub_service.token('alice')}"}
        ).status_code
        == 404
    )
