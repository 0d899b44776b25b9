"""Shared fixtures: an isolated workspace, a real S3 endpoint, a real PostgreSQL server.

- ``mlinfra_env``: MLINFRA_HOME in a temporary folder (and the venv first on PATH, so kernels
  start in this environment); every test that touches the catalog uses it.
- ``workspace``: a Workspace on that home (SQLite + local artifacts).
- ``s3_endpoint``: moto's standalone S3 server on loopback (HTTP), session-scoped.
- ``postgres_url``: a throwaway PostgreSQL cluster on loopback, session-scoped; each test
  that asks for ``pg_catalog_url`` gets a fresh database on it.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import time
import uuid
from pathlib import Path

import pytest
import servers

# pytest-jupyter's fixtures (jp_fetch, jp_serverapp...) for the REST tests; must be declared here.
pytest_plugins = ("pytest_jupyter.jupyter_server",)

VENV_BIN = str(Path(sys.executable).parent)


# -- waiting -----------------------------------------------------------------------------------
def _wait_until(condition, what: str, timeout: float = 60.0, interval: float = 0.05):
    """``condition()``'s first truthy value, polled every ``interval`` s; an AssertionError
    naming ``what`` after ``timeout`` s. The one way the tests wait for something to happen
    (never a fixed sleep, never a loop of their own)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


async def _await_until(condition, what: str, timeout: float = 60.0, interval: float = 0.05):
    """The same for async tests: ``condition()`` may return an awaitable (an async lambda's
    request), and the event loop runs between polls."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)


@pytest.fixture
def wait_until():
    """``wait_until(lambda: run_done(), "the run to end", timeout=60)``: see _wait_until."""
    return _wait_until


@pytest.fixture
def await_until():
    """``await await_until(lambda: fetch_state(), "the run to end")``: see _await_until."""
    return _await_until


_WATCHED_ENV = ("MLINFRA_", "JPY_SESSION_NAME", "JUPYTER_CONFIG")


@pytest.fixture(autouse=True)
def _no_environment_leaks():
    """Code under test must not change this process's MLINFRA_* environment: a leaked
    setting silently re-points every later test (and every JupyterLab they start)."""
    before = {k: v for k, v in os.environ.items() if k.startswith(_WATCHED_ENV)}
    yield
    after = {k: v for k, v in os.environ.items() if k.startswith(_WATCHED_ENV)}
    if after != before:
        for key in set(after) - set(before):
            del os.environ[key]
        os.environ.update(before)
        changed = sorted(set(after.items()) ^ set(before.items()))
        pytest.fail(f"the test leaked environment changes: {changed}")


@pytest.fixture(autouse=True)
def _venv_first_on_path(monkeypatch):
    # Kernels started by tests must run this interpreter's environment.
    path = os.environ.get("PATH", "")
    if not path.startswith(VENV_BIN + os.pathsep):
        monkeypatch.setenv("PATH", VENV_BIN + os.pathsep + path)


@pytest.fixture
def mlinfra_env(tmp_path, monkeypatch):
    home = tmp_path / "mlinfra-home"
    monkeypatch.setenv("MLINFRA_HOME", str(home))
    for name in ("MLINFRA_CATALOG_URL", "MLINFRA_ARTIFACT_ROOT", "MLINFRA_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    # Keep users' own Jupyter config files out of the tests.
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "jupyter-config"))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(tmp_path / "jupyter-config"))
    # ... and their IPython profile (enable-recording writes its kernel config there)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    return home


@pytest.fixture
def workspace(mlinfra_env):
    from jupyter_mlinfra.core.workspace import Workspace

    ws = Workspace.open()
    yield ws
    ws.close()


# -- S3 ----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def s3_endpoint():
    """URL of a real S3 endpoint (moto's server) on loopback, with dummy credentials set."""
    from moto.server import ThreadedMotoServer

    saved = {
        k: os.environ.get(k)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def s3_bucket(s3_endpoint):
    """A fresh bucket; returns ``(artifact_root_url, endpoint_url)``."""
    import boto3

    name = f"mlinfra-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return f"s3://{name}/artifacts", s3_endpoint


# -- PostgreSQL --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL server on loopback; its base URL (database ``postgres``)."""
    bindir = servers.pg_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; `make test` installs it")
        pytest.skip("PostgreSQL is not installed (make test installs it)")
    with servers.throwaway_postgres(bindir) as url:
        yield url


@pytest.fixture
def pg_catalog_url(postgres_url):
    """A fresh, empty database on the test PostgreSQL server."""
    return servers.create_database(postgres_url, f"mlinfra_{uuid.uuid4().hex[:10]}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def workspace_on_each_backend(request, mlinfra_env, monkeypatch):
    """A workspace on a fresh SQLite catalog, then on a fresh PostgreSQL one."""
    from jupyter_mlinfra.core.workspace import Workspace

    if request.param == "postgresql":
        monkeypatch.setenv("MLINFRA_CATALOG_URL", request.getfixturevalue("pg_catalog_url"))
    workspace = Workspace.open()
    yield workspace
    workspace.close()
