"""The service's own bound for model uploads (``c.MLInfra.model_upload_max_bytes``): it
replaces jupyter_server's ``ServerApp.max_body_size`` for the streamed upload (a model larger
than that registers), a client refuses a larger model before sending it with an error naming
the limit and the setting (not "cannot reach the service"), and a body that declares more is
answered 413 before it is read."""

from __future__ import annotations

import json
import os
import socket
import time
from urllib.parse import urlsplit

import pytest

from jupyter_mlinfra.core.errors import InvalidInput

MIB = 1024 * 1024
SERVER_MAX_BODY = 1 * MIB  # ServerApp.max_body_size of this service
UPLOAD_LIMIT = 3 * MIB  # its model_upload_max_bytes


@pytest.fixture(scope="module")
def limited_service(tmp_path_factory, service_kit):
    tmp = tmp_path_factory.mktemp("limited")
    config = tmp / "service-config"
    config.mkdir()
    (config / "jupyter_mlinfra_service_config.json").write_text(
        json.dumps({"ServerApp": {"max_body_size": SERVER_MAX_BODY}})
    )
    svc = service_kit.start(tmp, extra_env={"MLINFRA_MODEL_UPLOAD_MAX_BYTES": str(UPLOAD_LIMIT)})
    yield svc
    service_kit.stop(svc)


def _no_uploads_left(svc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while any((svc.home / "uploads").glob("*/*")):
        assert time.monotonic() < deadline, "the service kept received files"
        time.sleep(0.1)


def test_a_model_above_server_max_body_size_registers(limited_service, remote):
    blob = os.urandom(2 * MIB)  # above ServerApp.max_body_size, below the upload limit
    alice = remote(limited_service, "alice").service("models")
    version = alice.register("above-body-size", {"weights": blob})
    assert version.version == 1 and version.owner == "alice"
    assert alice.load("above-body-size:1", warn=False).model["weights"] == blob


def test_a_model_above_the_upload_limit_is_refused_naming_the_limit(limited_service, remote):
    alice = remote(limited_service, "alice").service("models")
    with pytest.raises(InvalidInput) as caught:
        alice.register("too-big", {"weights": os.urandom(UPLOAD_LIMIT + MIB)})
    message = str(caught.value)
    assert str(UPLOAD_LIMIT) in message and "model_upload_max_bytes" in message
    assert "cannot reach" not in message
    r = limited_service.get("mlinfra/api/models/too-big", user="alice")
    assert r.status_code == 404, r.text
    _no_uploads_left(limited_service)


def test_a_body_declaring_more_than_the_limit_is_answered_413_before_it_is_sent(
    limited_service,
):
    """A client that does not check first (curl, an older client) gets a JSON 413 naming
    the limit as soon as its headers arrive."""
    url = urlsplit(limited_service.url)
    with socket.create_connection((url.hostname, url.port), timeout=60) as sock:
        sock.sendall(
            (
                f"POST {url.path}mlinfra/api/models/declared/captured-versions HTTP/1.1\r\n"
                f"Host: {url.netloc}\r\n"
                f"Authorization: token {limited_service.token('alice')}\r\n"
                "Content-Type: multipart/form-data; boundary=xyz\r\n"
                f"Content-Length: {UPLOAD_LIMIT + 1}\r\n\r\n"
            ).encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    error = json.loads(body)["error"]
    assert error["code"] == "request_too_large"
    assert str(UPLOAD_LIMIT) in error["message"]
    assert "model_upload_max_bytes" in error["message"]
    assert not any((limited_service.home / "uploads").glob("*/*"))
