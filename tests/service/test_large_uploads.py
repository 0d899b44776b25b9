"""Models larger than a request body may be: registration streams the captured artifacts to
the central service (which writes them to disk as they arrive, checks their SHA-256 and stores
them on S3 without reading them whole), and a load streams them back into the client's local
cache. An interrupted or refused upload leaves no version and no object in the bucket."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests

LIMIT = 64 * 1024 * 1024  # the service's max_request_body_bytes (the default)


@pytest.fixture(scope="module")
def s3_service(tmp_path_factory, s3_endpoint, service_kit):
    import boto3

    bucket = f"mlinfra-big-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket=bucket)
    svc = service_kit.start(
        tmp_path_factory.mktemp("big"),
        extra_env={
            "MLINFRA_ARTIFACT_ROOT": f"s3://{bucket}/artifacts",
            "MLINFRA_S3_ENDPOINT_URL": s3_endpoint,
        },
    )
    svc.objects = lambda: {  # every object key in the bucket
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    }
    yield svc
    service_kit.stop(svc)


def _wait(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_a_model_larger_than_a_request_round_trips(s3_service, remote, tmp_path):
    # incompressible, past the body limit (and past tornado's 100 MiB client buffer)
    blob = os.urandom(LIMIT + 40 * 1024 * 1024)
    model = {"weights": blob}
    alice = remote(s3_service, "alice").service("models")
    version = alice.register("big-model", model)
    assert version.owner == "alice" and version.version == 1
    stored = next(a for a in version.artifacts if a["kind"] == "parameters")
    assert stored["size"] > LIMIT
    # a fresh client (an empty cache) loads it: streamed to its cache, checked, the same bytes
    bob_ws = remote(s3_service, "bob")
    loaded = bob_ws.service("models").load("big-model:1", warn=False)
    assert loaded.model["weights"] == blob
    cached = bob_ws.config.home / "cache" / "remote-artifacts" / stored["sha256"]
    assert cached.stat().st_size == stored["size"]
    # the received files are gone from the service's disk
    _wait(
        lambda: not any((s3_service.home / "uploads").glob("*/*")),
        "the service kept the received files",
    )
    assert "Traceback" not in s3_service.log.read_text(errors="replace")


@pytest.fixture
def jp_server_config(s3_service, mlinfra_env, monkeypatch):
    monkeypatch.setenv("MLINFRA_SERVICE_URL", s3_service.url)
    monkeypatch.setenv("MLINFRA_SERVICE_TOKEN", s3_service.token("bob"))
    return {"ServerApp": {"jpserver_extensions": {"jupyter_mlinfra": True}}}


async def test_the_panel_downloads_it_through_a_server_in_remote_mode(
    s3_service, jp_fetch, http_server_client
):
    """A single-user server in remote mode passes the service's answer on as it arrives:
    the model's download link works for an artifact of any size (past tornado's 100 MiB)."""
    version = s3_service.get("mlinfra/api/models/big-model/versions/1", user="bob").json()
    stored = next(a for a in version["artifacts"] if a["kind"] == "parameters")
    assert stored["size"] > 100 * 1024 * 1024
    digest, received = hashlib.sha256(), []

    def on_chunk(chunk: bytes) -> None:
        digest.update(chunk)
        received.append(len(chunk))

    http_server_client.max_body_size = 1 << 31  # this test's own client takes it all
    response = await jp_fetch(
        "mlinfra",
        "api",
        "models",
        "big-model",
        "versions",
        "1",
        "artifacts",
        stored["name"],
        streaming_callback=on_chunk,
        request_timeout=300,
    )
    assert response.code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert (sum(received), digest.hexdigest()) == (stored["size"], stored["sha256"])


def _manifest(size: int, sha256: str) -> dict:
    return {
        "definition": {"module": "builtins", "class": "dict", "library": "python"},
        "parts": [
            {
                "name": "model.pkl",
                "kind": "parameters",
                "format": "cloudpickle",
                "loadable": True,
                "sha256": sha256,
                "size": size,
            }
        ],
    }


def test_an_interrupted_upload_leaves_no_version_and_no_object(s3_service):
    before = s3_service.objects()
    boundary = uuid.uuid4().hex
    size = 96 * 1024 * 1024
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="version"\r\n\r\n'
        f"{json.dumps(_manifest(size, '0' * 64))}\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="model.pkl"; filename="model.pkl"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    url = urlsplit(s3_service.url)
    sock = socket.create_connection((url.hostname, url.port))
    sock.sendall(
        (
            f"POST {url.path}mlinfra/api/models/cut-short/captured-versions HTTP/1.1\r\n"
            f"Host: {url.netloc}\r\n"
            f"Authorization: token {s3_service.token('alice')}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(head) + size + 64}\r\n\r\n"
        ).encode()
        + head
    )
    chunk = os.urandom(1024 * 1024)
    for _ in range(24):  # a quarter of the part, then the client goes away
        sock.sendall(chunk)
    uploads = s3_service.home / "uploads"
    _wait(lambda: any(uploads.glob("*/part-*")), "the service received nothing to disk")
    sock.close()
    # what had arrived is removed; no version, no object
    _wait(lambda: not any(uploads.glob("*/*")), "the partial upload was left on disk")
    r = s3_service.get("mlinfra/api/models/cut-short", user="alice")
    assert r.status_code == 404, r.text
    assert s3_service.objects() == before
    # a complete upload whose bytes are not the ones described: 400, nothing stored either
    data = os.urandom(2 * 1024 * 1024)
    bad = requests.post(
        s3_service.url + "mlinfra/api/models/bad-bytes/captured-versions",
        headers={"Authorization": f"token {s3_service.token('alice')}"},
        data={"version": json.dumps(_manifest(len(data), hashlib.sha256(b"x").hexdigest()))},
        files=[("model.pkl", ("model.pkl", data))],
        timeout=120,
    )
    assert bad.status_code == 400 and "sha-256" in bad.json()["error"]["message"].lower()
    assert s3_service.get("mlinfra/api/models/bad-bytes", user="alice").status_code == 404
    assert s3_service.objects() == before
    _wait(lambda: not any(uploads.glob("*/*")), "the refused upload was left on disk")
    # a caller without a token sends nothing to disk: refused before the body is read
    r = requests.post(
        s3_service.url + "mlinfra/api/models/anonymous/captured-versions",
        data={"version": "{}"},
        files=[("model.pkl", ("model.pkl", data))],
        timeout=60,
    )
    assert r.status_code == 403
    assert not any(uploads.glob("*/*"))
    # bodies that are not a multipart form: a 400 naming it, nothing kept
    url = s3_service.url + "mlinfra/api/models/garbled/captured-versions"
    auth = {"Authorization": f"token {s3_service.token('alice')}"}
    for content_type, body in [
        ("application/json", b"{}"),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nno headers here" + os.urandom(4096)),
        ("multipart/form-data; boundary=xyz", b""),
    ]:
        r = requests.post(
            url, headers={**auth, "Content-Type": content_type}, data=body, timeout=60
        )
        assert r.status_code == 400, (content_type, r.text)
        assert "multipart" in r.json()["error"]["message"]
    assert not any(uploads.glob("*/*")) and s3_service.objects() == before
