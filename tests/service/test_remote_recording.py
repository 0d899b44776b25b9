"""A kernel in remote mode records its provenance into the central service: its recorder
sends the session and the executions from its background thread (POST /provenance/sessions
and /provenance/executions), keeps them while the service cannot be reached, and sends them
once it can; ``GET /provenance`` then shows them. A session belongs to whoever recorded it."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid

import pytest
import requests

from jupyter_mlinfra.core.errors import NotFound

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


class Forwarder:
    """A TCP forwarder from a loopback port to the service: the service as the kernel sees
    it is down until ``start()``."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port, self.target = port, target
        self.server: socket.socket | None = None

    def start(self) -> None:
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", self.port))
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self.server is not None
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()


def _execute(kc, code: str) -> str:
    out: list[str] = []

    def collect(msg) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    reply = kc.execute_interactive(code, timeout=120, output_hook=collect)
    assert reply["content"]["status"] == "ok", "".join(out)
    return "".join(out)


STATUS = (
    "from jupyter_mlinfra.kernel.provenance_recorder import get_recorder\n"
    "import json\n_r = get_recorder()\n_r.flush(write=True)\nprint(json.dumps(_r.status()))"
)


def test_a_remote_kernel_records_provenance_through_the_service(
    service, service_kit, remote, tmp_path
):
    from jupyter_client import KernelManager

    path = f"recorded-{uuid.uuid4().hex[:6]}.ipynb"
    (service.root / path).write_text(
        json.dumps(
            {
                "cells": [],
                "metadata": {},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    port = service_kit.free_port()
    forwarder = Forwarder(port, ("127.0.0.1", int(service.url.rsplit(":", 1)[1].strip("/"))))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLINFRA_", "JUPYTERHUB_"))}
    env.update(
        MLINFRA_SERVICE_URL=f"http://127.0.0.1:{port}/",
        MLINFRA_SERVICE_TOKEN=service.token("alice"),
        MLINFRA_HOME=str(tmp_path / "kernel-home"),
        JPY_SESSION_NAME=path,  # the notebook, as the service names it (under its root)
    )
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(tmp_path))
    kc = km.blocking_client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        _execute(kc, "%load_ext jupyter_mlinfra")
        _execute(kc, "a = 1")
        _execute(kc, "b = a + 1")
        # the service cannot be reached: the executions wait in the kernel's memory
        status = json.loads(_execute(kc, STATUS).strip().splitlines()[-1])
        assert status["executions"] >= 2 and status["written"] == 0
        assert "cannot reach the mlinfra service" in (status["write_error"] or "")
        prov = remote(service, "alice").service("provenance")
        with pytest.raises(NotFound):
            prov.history(path)

        forwarder.start()  # the service is back: the recorder sends what it kept
        deadline = time.monotonic() + 120
        while True:
            try:
                log = prov.history(path)
                if [e.source for e in log.executions][:2] == ["a = 1", "b = a + 1"]:
                    break
            except NotFound:
                pass
            assert time.monotonic() < deadline, (_execute(kc, STATUS), prov._view(path, None))
            time.sleep(0.2)
        assert log.executions[1].reads == frozenset({"a"})
        assert log.executions[1].binds == frozenset({"b"})
        # a cell run now goes out in the next batch
        _execute(kc, "c = b * 2")
        status = json.loads(_execute(kc, STATUS).strip().splitlines()[-1])
        assert status["write_error"] is None
        assert "c = b * 2" in [e.source for e in prov.history(path).executions]

        # the session is alice's: bob cannot record into it
        intrusion = requests.post(
            service.url + "mlinfra/api/provenance/executions",
            headers={"Authorization": f"token {service.token('bob')}"},
            json={
                "executions": [
                    {
                        "seq": 999,
                        "cell_id": "intruder",
                        "session_id": log.session_id,
                        "notebook_path": path,
                        "source": "a = 666",
                        "started_at": "2030-01-01T00:00:00Z",
                        "ended_at": "2030-01-01T00:00:01Z",
                    }
                ]
            },
            timeout=60,
        )
        assert intrusion.status_code == 403, intrusion.text
        assert "a = 666" not in [e.source for e in prov.history(path).executions]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        forwarder.stop()


def test_verify_on_the_service_runs_recorded_code_without_the_services_credentials(
    service, tmp_path
):
    """Recorded executions are the caller's code: verifying a replay of them (or a notebook
    under the root) on the service runs it in a kernel without the service's catalog URL,
    storage settings or token key."""
    leak = tmp_path / "verify-env.json"
    bob = {"Authorization": f"token {service.token('bob')}"}
    api = service.url + "mlinfra/api/"
    session_id = uuid.uuid4().hex
    source = f"import json, os\nopen({str(leak)!r}, 'w').write(json.dumps(dict(os.environ)))"
    recorded = requests.post(
        api + "provenance/executions",
        headers=bob,
        json={
            "executions": [
                {
                    "seq": 1,
                    "cell_id": "leak",
                    "source": source,
                    "session_id": session_id,
                    "notebook_path": "train.ipynb",
                    "started_at": "2030-01-01T00:00:00Z",
                    "ended_at": "2030-01-01T00:00:01Z",
                }
            ]
        },
        timeout=60,
    )
    assert recorded.status_code == 201, recorded.text
    verified = requests.post(
        api + "provenance/verify",
        headers=bob,
        json={"path": "train.ipynb", "replay": True},
        timeout=600,
    )
    assert verified.status_code == 200, verified.text
    environ = json.loads(leak.read_text())  # the recorded code ran, in the service's kernel
    # only what a kernel in remote mode needs: the service's URL and a token acting as the
    # caller (accepted while the verify runs), never a setting of the service's own
    remote_mode = {"MLINFRA_SERVICE_URL", "MLINFRA_SERVICE_TOKEN", "MLINFRA_USER", "MLINFRA_HOME"}
    assert not [
        k
        for k in environ
        if k.startswith(("MLINFRA_", "AWS_", "JUPYTERHUB_")) and k not in remote_mode
    ]
    assert service.catalog_url not in json.dumps(environ)
    assert service.run_token_secret not in json.dumps(environ)
