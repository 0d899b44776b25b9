"""A real JupyterHub for the team-deployment tests, one per test module.

- JupyterHub from its Python package, ``configurable-http-proxy`` from the npm registry
  (installed under ``.venv/hub-proxy`` on first use);
- DummyAuthenticator with a shared password; users alice (group team-a), bob (team-b) and
  admin (group mlinfra-admins, which the deployment's ``c.MLInfra.roles`` makes mlinfra
  admins);
- SimpleLocalProcessSpawner: single-user JupyterLab servers with the extension, running as
  this OS user, each with its own home under the test's temporary folder, in **remote mode**:
  their environment holds only ``MLINFRA_SERVICE_URL`` (the service through the Hub's proxy)
  and the Hub's own ``JUPYTERHUB_API_TOKEN``; no catalog URL, artifact root or S3
  credentials. The server extension forwards the side panel's requests to the service, and
  the kernels and a terminal's CLI talk to it with the same token;
- the central service's mlinfra configuration (``jupyter_mlinfra_config.py`` on the
  service's JUPYTER_CONFIG_PATH only): one PostgreSQL catalog, artifacts on the S3 endpoint,
  roles, a queue quota; teams are the users' Hub groups.

``hub.api(...)`` calls the Hub's REST API as a test service with admin scopes;
``hub.user(name)`` is a user with their own API token, talking to their own server through
the Hub's proxy (REST) and running code in a real kernel of that server (kernels API +
websocket). Every process started here is stopped by its PID, also when the setup fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import requests
from servers import free_port

VENV = Path(sys.executable).parent.parent
VENV_BIN = VENV / "bin"
PROXY_DIR = VENV / "hub-proxy"
PROXY_BIN = PROXY_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "hub-test-" + uuid.uuid4().hex[:8]
DRIVER_TOKEN = uuid.uuid4().hex
# the storage credentials only the service holds (moto's server takes any)
S3_KEY, S3_SECRET = "hub-key-" + uuid.uuid4().hex[:8], "hub-secret-" + uuid.uuid4().hex
GROUPS = {"team-a": ["alice"], "team-b": ["bob"], "mlinfra-admins": ["admin"]}
STARTUP_TIMEOUT = 240  # seconds: a Hub and three JupyterLab servers on a loaded 2-core box


def ensure_proxy() -> Path:
    """configurable-http-proxy from the npm registry, under the venv (installed once)."""
    if not PROXY_BIN.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is not installed: the JupyterHub test needs configurable-http-proxy")
        PROXY_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(PROXY_DIR),
                "--no-save",
                "--no-package-lock",
                "configurable-http-proxy@^4",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return PROXY_BIN


HUB_CONFIG = """\
# JupyterHub for a team on jupyter_mlinfra (written by tests/hub/conftest.py)
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = "sqlite:///{folder}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "{folder}/jupyterhub.pid"
c.JupyterHub.cleanup_servers = True
# answer "pending" at once when a server is asked for: the three start side by side
c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 0}}
c.JupyterHub.cleanup_proxy = True
c.ConfigurableHTTPProxy.command = ["{proxy}"]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = "{folder}/proxy.pid"

# who: a test authenticator (use your OAuth/LDAP authenticator in production)
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = "{password}"
c.Authenticator.allowed_users = {users!r}
# groups are mlinfra teams; "mlinfra-admins" only grants the admin role (see c.MLInfra.roles)
c.JupyterHub.load_groups = {groups!r}

# single-user JupyterLab servers with the extension, each user with their own home
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{folder}/home/{{username}}"
# the team's notebooks: one shared folder, also the service's root_dir, so that a notebook
# path means the same file in a user's server and in the service (jobs, provenance)
c.Spawner.notebook_dir = "{folder}/service-root"
c.Spawner.cmd = ["{venv_bin}/jupyterhub-singleuser"]
c.Spawner.args = ["--allow-root"]
c.Spawner.start_timeout = {timeout}
c.Spawner.http_timeout = {timeout}
c.Spawner.environment = {{
    # remote mode: the server extension, its panel and the kernels go through the central
    # service with the server's $JUPYTERHUB_API_TOKEN; no catalog or storage settings here
    "MLINFRA_SERVICE_URL": "{service_url}",
    "PATH": "{venv_bin}:/usr/local/bin:/usr/bin:/bin",
}}

# the central mlinfra service, run by the Hub: it alone holds the catalog and storage settings
c.JupyterHub.services = [
    {{
        "name": "mlinfra",
        "url": "http://127.0.0.1:{service_port}",
        "command": ["{venv_bin}/jupyter", "mlinfra", "service", "--allow-root",
                    "--ServerApp.root_dir={folder}/service-root"],
        "environment": {{
            "JUPYTER_CONFIG_PATH": "{folder}/service-config",
            "PATH": "{venv_bin}:/usr/local/bin:/usr/bin:/bin",
            "AWS_ACCESS_KEY_ID": "{s3_key}", "AWS_SECRET_ACCESS_KEY": "{s3_secret}",
            "AWS_DEFAULT_REGION": "us-east-1",
            "MLINFRA_HOME": "{folder}/service-home",
            "MLINFRA_JOBS_POLL_INTERVAL": "0.2",
        }},
    }},
    # the test driver: a token allowed to manage users, servers and tokens
    {{"name": "test-driver", "api_token": "{driver_token}"}},
]
c.JupyterHub.load_roles = [
    # the service asks the Hub who a token belongs to, and their groups
    {{"name": "mlinfra-service", "scopes": ["read:users", "read:users:groups"],
      "services": ["mlinfra"]}},
    # every team member may call the service (with their own token or their server's)
    {{"name": "mlinfra-users", "scopes": ["access:services!service=mlinfra"],
      "groups": ["team-a", "team-b", "mlinfra-admins"]}},
    {{"name": "test-driver",
      "scopes": ["admin:users", "admin:servers", "tokens", "read:users", "admin:groups"],
      "services": ["test-driver"]}},
]
# the token of a single-user server and its kernels ($JUPYTERHUB_API_TOKEN) may call it
c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server",
                                 "access:services!service=mlinfra"]
"""

MLINFRA_CONFIG = """\
# the central service's mlinfra settings (no single-user server or kernel reads them)
c = get_config()  # noqa: F821
c.MLInfra.catalog_url = "{catalog_url}"
c.MLInfra.artifact_root = "{artifact_root}"
c.MLInfra.s3_endpoint_url = "{s3_endpoint}"
# JupyterHub groups are teams; this group grants the mlinfra admin role instead
c.MLInfra.roles = {{"group:mlinfra-admins": ["admin"]}}
# queue quota: at most 2 runs waiting per user (enforced by the service)
c.MLInfra.jobs_max_queued_per_user = 2
c.MLInfra.jobs_max_running_per_user = 1
c.MLInfra.jobs_workers = 1
"""


class HubUser:
    """One user: their API token, REST on their own server through the proxy, and a kernel
    of that server."""

    def __init__(self, hub: Hub, name: str, token: str) -> None:
        self.hub, self.name, self.token = hub, name, token
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.base = f"{hub.url}/user/{name}"
        self._kernel: str | None = None

    def rest(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(
            method, f"{self.base}/mlinfra/api/{path}", timeout=120, **kwargs
        )

    # -- a real kernel of the user's server ---------------------------------------------------
    def kernel_id(self) -> str:
        if self._kernel is None:
            r = self.session.post(f"{self.base}/api/kernels", json={"name": "python3"}, timeout=120)
            r.raise_for_status()
            self._kernel = r.json()["id"]
        return self._kernel

    def run(self, code: str, timeout: float = 120) -> str:
        """Execute ``code`` in the user's kernel; its stdout (raises on an error)."""
        import websocket
        from jupyter_client.session import Session

        url = self.base.replace("http://", "ws://") + f"/api/kernels/{self.kernel_id()}/channels"
        ws = websocket.create_connection(
            url, header=[f"Authorization: token {self.token}"], timeout=timeout
        )
        try:
            msg = Session(username=self.name).msg(
                "execute_request",
                content={
                    "code": textwrap.dedent(code),
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
            )
            msg["channel"] = "shell"
            ws.send(json.dumps(msg, default=str))
            out, error, deadline = [], None, time.monotonic() + timeout
            while time.monotonic() < deadline:
                reply = json.loads(ws.recv())
                if reply.get("parent_header", {}).get("msg_id") != msg["header"]["msg_id"]:
                    continue
                kind = reply["msg_type"]
                if kind == "stream":
                    out.append(reply["content"]["text"])
                elif kind == "error":
                    error = reply["content"]
                elif kind == "status" and reply["content"]["execution_state"] == "idle":
                    break
            else:
                raise TimeoutError(f"{self.name}'s kernel did not finish in {timeout} s")
        finally:
            ws.close()
        text = "".join(out)
        if error is not None:
            raise KernelError(error["ename"], error["evalue"], text)
        return text

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """``jupyter mlinfra ...`` in the user's server environment (a terminal there): the
        service's URL and the user's Hub token, nothing else of mlinfra's."""
        return subprocess.run(
            ["jupyter", "mlinfra", *args],
            capture_output=True,
            text=True,
            env=self.hub.user_env(self.name, self.token),
            timeout=180,
        )


class KernelError(Exception):
    def __init__(self, ename: str, evalue: str, stdout: str) -> None:
        super().__init__(f"{ename}: {evalue}")
        self.ename, self.evalue, self.stdout = ename, evalue, stdout


class Hub:
    def __init__(
        self, folder: Path, port: int, process: subprocess.Popen, catalog_url: str
    ) -> None:
        self.folder, self.port, self.process = folder, port, process
        self.url = f"http://127.0.0.1:{port}"
        self.service_url = f"{self.url}/services/mlinfra/"
        self.catalog_url = catalog_url
        self.users: dict[str, HubUser] = {}
        self.s3_secret = ""

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method,
            f"{self.url}/hub/api/{path}",
            timeout=60,
            headers={"Authorization": f"token {DRIVER_TOKEN}"},
            **kwargs,
        )

    def user(self, name: str) -> HubUser:
        return self.users[name]

    def user_env(self, name: str, token: str) -> dict:
        """A terminal's environment in the user's server (as the spawner sets it)."""
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("MLINFRA_", "JUPYTER", "AWS_"))
        }
        env.update(
            PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
            HOME=str(self.folder / "home" / name),
            MLINFRA_SERVICE_URL=self.service_url,
            JUPYTERHUB_API_TOKEN=token,
        )
        return env

    def log(self) -> str:
        path = self.folder / "hub.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""


def _wait(condition, timeout: float, what: str, hub_process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub_process is not None and hub_process.poll() is not None:
            raise RuntimeError(f"JupyterHub exited ({hub_process.returncode}) while {what}")
        try:
            value = condition()
        except requests.RequestException:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout} s {what}")


def _stop(process: subprocess.Popen, others: list[int]) -> None:
    """Stop the Hub and what it started (proxy, servers, the service, their kernels), all
    at once by PID (SIGTERM, then SIGKILL for whatever is left after 30 s)."""
    import psutil

    procs = []
    for pid in [process.pid, *others]:
        try:
            proc = psutil.Process(pid)
            proc.terminate()
            procs.append(proc)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=30)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)
    if process.poll() is None:
        process.wait(timeout=10)


def _descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@pytest.fixture(scope="module")
def hub(postgres_url, s3_endpoint, tmp_path_factory):
    import boto3
    import sqlalchemy as sa

    proxy = ensure_proxy()
    folder = tmp_path_factory.mktemp("hub")
    for user in ("alice", "bob", "admin"):
        (folder / "home" / user).mkdir(parents=True)
    # one PostgreSQL catalog and one S3 bucket for the whole deployment
    name = f"mlinfra_hub_{uuid.uuid4().hex[:8]}"
    admin_engine = sa.create_engine(f"{postgres_url}/postgres", isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin_engine.dispose()
    catalog_url = f"{postgres_url}/{name}"
    bucket = f"mlinfra-hub-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    (folder / "service-config").mkdir()
    (folder / "service-root").mkdir()
    (folder / "service-config" / "jupyter_mlinfra_config.py").write_text(
        MLINFRA_CONFIG.format(
            catalog_url=catalog_url,
            artifact_root=f"s3://{bucket}/artifacts",
            s3_endpoint=s3_endpoint,
        )
    )
    port = free_port()
    (folder / "jupyterhub_config.py").write_text(
        HUB_CONFIG.format(
            port=port,
            hub_port=free_port(),
            proxy_api_port=free_port(),
            folder=folder,
            proxy=proxy,
            password=PASSWORD,
            users={"alice", "bob", "admin"},
            groups={g: {"users": u} for g, u in GROUPS.items()},
            venv_bin=VENV_BIN,
            timeout=STARTUP_TIMEOUT,
            driver_token=DRIVER_TOKEN,
            service_port=free_port(),
            service_url=f"http://127.0.0.1:{port}/services/mlinfra/",
            s3_key=S3_KEY,
            s3_secret=S3_SECRET,
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLINFRA_", "JUPYTER", "AWS_"))}
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    log = open(folder / "hub.log", "w")
    process = subprocess.Popen(
        [str(VENV_BIN / "jupyterhub"), "-f", str(folder / "jupyterhub_config.py")],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    hub = Hub(folder, port, process, catalog_url)
    hub.s3_secret = S3_SECRET
    started: list[int] = []
    try:
        _wait(
            lambda: hub.api("GET", "").status_code == 200,
            STARTUP_TIMEOUT,
            "waiting for the Hub to answer",
            process,
        )
        started = _descendants(process.pid)  # the proxy
        for user in ("alice", "bob", "admin"):
            r = hub.api("POST", f"users/{user}/server")
            assert r.status_code in (201, 202), r.text
        _wait(
            lambda: (
                requests.get(f"{hub.service_url}mlinfra/api/health", timeout=10).status_code
                in (200, 401, 403)
            ),
            STARTUP_TIMEOUT,
            "waiting for the mlinfra service",
            process,
        )
        for user in ("alice", "bob", "admin"):
            _wait(
                lambda u=user: (
                    hub.api("GET", f"users/{u}").json().get("servers", {}).get("", {}).get("ready")
                ),
                STARTUP_TIMEOUT,
                f"waiting for {user}'s server",
                process,
            )
            r = hub.api(
                "POST", f"users/{user}/tokens", json={"note": "hub test", "expires_in": 3600}
            )
            assert r.status_code == 201, r.text
            hub.users[user] = HubUser(hub, user, r.json()["token"])
            health = hub.users[user].rest("GET", "health")
            if health.status_code != 200:  # e.g. the extension failed to load
                log_text = (folder / "hub.log").read_text(errors="replace")
                failed = [
                    line
                    for line in log_text.splitlines()
                    if "jupyter_mlinfra | extension failed" in line
                ]
                pytest.fail(
                    f"{user}'s server has no mlinfra API ({health.status_code}): "
                    + (failed[0] if failed else health.text[:300])
                )
        started = _descendants(process.pid)  # the proxy and the single-user servers
        yield hub
    except BaseException:
        print(hub.log(), file=sys.stderr)
        raise
    finally:
        started = list(dict.fromkeys(started + _descendants(process.pid)))
        _stop(process, started)
        log.close()
        engine = sa.create_engine(f"{postgres_url}/postgres", isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
