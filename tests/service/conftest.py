"""A real central service process (``jupyter mlinfra service``) on a free port, with a static
token table for three users, and clients in remote mode talking to it.

- ``service``: one service per test module on a SQLite catalog (started once: ~10 s);
- ``pg_service``: the same on a fresh PostgreSQL database;
- ``remote(service, "alice")``: a Workspace in remote mode holding alice's token;
- ``cli(service, "alice", *args)``: ``jupyter mlinfra ...`` as a separate process in remote mode.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from servers import free_port

VENV_BIN = str(Path(sys.executable).parent)


USERS = {
    "alice": {"token": "tok-alice-" + uuid.uuid4().hex, "groups": ["fraud"]},
    "bob": {"token": "tok-bob-" + uuid.uuid4().hex, "groups": ["risk"]},
    "carol": {"token": "tok-carol-" + uuid.uuid4().hex, "groups": ["ml-leads"]},
}

RUN_TOKEN_SECRET = uuid.uuid4().hex  # the service's key for the tokens of its job kernels

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "params",
            "metadata": {"tags": ["parameters"]},
            "outputs": [],
            "source": "x = 1\nsleep = 0",
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "work",
            "metadata": {},
            "outputs": [],
            "source": "import time\ntime.sleep(sleep)\nprint('x is', x)\n"
            "import jupyter_mlinfra\njupyter_mlinfra.log_metric('score', x * 2)",
        },
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


@dataclass
class Service:
    url: str
    root: Path
    home: Path
    log: Path
    process: subprocess.Popen
    catalog_url: str
    tmp: Path = field(default=None)
    run_token_secret: str = RUN_TOKEN_SECRET
    runtime: str = ""

    def token(self, user: str) -> str:
        return USERS[user]["token"]

    def get(self, path: str, user: str | None = "alice", **kwargs):
        headers = {"Authorization": f"token {self.token(user)}"} if user else {}
        return requests.get(
            self.url + path, headers={**headers, **kwargs.pop("headers", {})}, timeout=60, **kwargs
        )


def start_service(
    tmp: Path, catalog_url: str | None = None, *, extra_env: dict | None = None, base: str = ""
) -> Service:
    root, home = tmp / "service-root", tmp / "service-home"
    root.mkdir(parents=True)
    (root / "train.ipynb").write_text(json.dumps(NOTEBOOK))
    tokens = tmp / "tokens.json"
    tokens.write_text(
        json.dumps({u["token"]: {"name": name, "groups": u["groups"]} for name, u in USERS.items()})
    )
    port = free_port()
    runtime = tempfile.mkdtemp(prefix="mlsvc-")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MLINFRA_", "JUPYTERHUB_", "JPY_"))
    }
    env.update(
        PATH=VENV_BIN + os.pathsep + env.get("PATH", ""),
        MLINFRA_HOME=str(home),
        JUPYTER_CONFIG_DIR=str(tmp / "service-config"),
        JUPYTER_CONFIG_PATH=str(tmp / "service-config"),
        IPYTHONDIR=str(tmp / "service-ipython"),
        # kernels bind IPC sockets there: a path short enough for sun_path (107)
        JUPYTER_RUNTIME_DIR=runtime,
        MLINFRA_ROLES=json.dumps({"carol": ["admin"]}),
        MLINFRA_JOBS_WORKERS="2",
        MLINFRA_SERVICE_RUN_TOKEN_SECRET=RUN_TOKEN_SECRET,
    )
    if catalog_url:
        env["MLINFRA_CATALOG_URL"] = catalog_url
    env.update(extra_env or {})
    log = tmp / "service.log"
    argv = [
        os.path.join(VENV_BIN, "jupyter-mlinfra"),
        "service",
        "--allow-root",
        f"--ServerApp.root_dir={root}",
    ]
    if extra_env and "JUPYTERHUB_SERVICE_URL" in extra_env:  # the Hub says where to listen
        port = int(extra_env["JUPYTERHUB_SERVICE_URL"].rsplit(":", 1)[1].strip("/"))
    else:
        argv += [f"--port={port}", f"--tokens-file={tokens}"]
    process = subprocess.Popen(
        argv, env=env, cwd=tmp, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    service = Service(
        url=f"http://127.0.0.1:{port}/{base}",
        root=root,
        home=home,
        log=log,
        process=process,
        catalog_url=catalog_url or f"sqlite:///{home}/catalog.db",
        tmp=tmp,
        runtime=runtime,
    )
    deadline = time.monotonic() + 180
    while True:  # wait for the service to answer (a start-up failure ends the process)
        if process.poll() is not None:
            raise RuntimeError(
                f"the service exited ({process.returncode}):\n" + log.read_text()[-3000:]
            )
        try:
            if service.get("mlinfra/api/health").status_code == 200:
                return service
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            stop_service(service)
            raise RuntimeError("the service did not answer:\n" + log.read_text()[-3000:])
        time.sleep(0.2)


def stop_service(service: Service) -> None:
    service.process.terminate()
    try:
        service.process.wait(60)
    except subprocess.TimeoutExpired:
        service.process.kill()
        service.process.wait()
    import shutil

    shutil.rmtree(service.runtime, ignore_errors=True)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    svc = start_service(tmp_path_factory.mktemp("service"))
    yield svc
    stop_service(svc)


@pytest.fixture
def pg_service(tmp_path, pg_catalog_url):
    svc = start_service(tmp_path / "pg", pg_catalog_url)
    yield svc
    stop_service(svc)


@pytest.fixture
def remote(tmp_path):
    """``remote(service, "alice")``: a Workspace in remote mode with alice's token (its own
    empty MLINFRA_HOME: nothing may be opened there)."""
    from jupyter_mlinfra.core.config import resolve_config
    from jupyter_mlinfra.core.remote import ServiceClient
    from jupyter_mlinfra.core.workspace import Workspace

    opened = []

    def make(service: Service, user: str):
        config = resolve_config(
            environ={
                "MLINFRA_SERVICE_URL": service.url,
                "MLINFRA_HOME": str(tmp_path / f"client-{user}"),
            }
        )
        ws = Workspace(config)
        ws.remote = ServiceClient(service.url, service.token(user))
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.close()


@pytest.fixture
def cli(tmp_path):
    """``cli(service, "alice", "runs", "--json")`` -> CompletedProcess of ``jupyter mlinfra``
    in remote mode (MLINFRA_SERVICE_URL + MLINFRA_SERVICE_TOKEN, an empty home of its own)."""

    def run(service: Service, user: str, *args: str, **env_extra: str):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLINFRA_", "JUPYTERHUB_"))}
        env.update(
            MLINFRA_SERVICE_URL=service.url,
            MLINFRA_SERVICE_TOKEN=service.token(user),
            MLINFRA_HOME=str(tmp_path / f"cli-home-{user}"),
            JUPYTER_CONFIG_DIR=str(tmp_path / "cli-config"),
            JUPYTER_CONFIG_PATH=str(tmp_path / "cli-config"),
        )
        env.update(env_extra)
        return subprocess.run(
            [os.path.join(VENV_BIN, "jupyter-mlinfra"), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )

    return run


@pytest.fixture(scope="session")
def service_kit():
    """What a test module needs to start a service of its own (``start``, ``stop``) and the
    token table (``users``)."""
    from types import SimpleNamespace

    return SimpleNamespace(start=start_service, stop=stop_service, users=USERS, free_port=free_port)
