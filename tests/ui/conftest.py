"""The browser-test harness: one JupyterLab subprocess per session, driven by Playwright
(sync API) in the system's Chromium (/usr/bin/chromium; never a downloaded browser).

Fixtures:
- ``lab_server`` (session): ``jupyter lab`` on a free loopback port with a random token, an
  empty temporary root dir for notebooks, ``MLINFRA_HOME`` and the Jupyter config in temporary
  folders, and the package's freshly built front end (jupyter_mlinfra/labextension) first on
  the lab-extensions path. Yields a ``LabServer`` (url, token, root_dir, home, api(...)).
- ``browser`` (module): headless Chromium (about a second to start).
- ``page``: a fresh browser context + page bound to ``lab_server``; its console errors and
  uncaught exceptions are collected in ``console_messages``.

Page helpers live in tests/ui/jupyterlab_page.py (``open_lab``, ``open_mlinfra_panel``,
``open_tab``, ``screenshot``, ``run_command``). Mark browser tests ``@pytest.mark.browser``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jupyterlab_page import ARTIFACTS, bind_page
from servers import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VENV_BIN = Path(sys.executable).parent
START_TIMEOUT = 90.0


# pytest-jupyter's autouse event-loop fixtures clash with Playwright's sync API: no-ops here.
@pytest.fixture
def jp_asyncio_loop():
    yield None


@pytest.fixture
def jp_server_cleanup():
    yield


def _missing(what: str, how: str):
    message = f"{what} ({how})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _built_labextension() -> Path:
    import jupyter_mlinfra

    built = Path(jupyter_mlinfra.__file__).parent / "labextension"
    if not (built / "package.json").exists():
        _missing(
            f"the front end is not built: {built} is missing",
            "build it with `cd labextension && jlpm build` or `pip install -e .`",
        )
    return built


class APIError(Exception):
    def __init__(self, status: int, body: Any):
        self.status, self.body = status, body
        message = body.get("error", {}).get("message") if isinstance(body, dict) else body
        super().__init__(f"HTTP {status}: {message}")


@dataclass
class LabServer:
    url: str  # http://127.0.0.1:<port>/ (ends with a slash)
    token: str
    root_dir: Path  # the server's root: notebooks the tests create go here
    home: Path  # MLINFRA_HOME of the server (its catalog and artifacts)
    env: dict[str, str]  # the server's environment (for subprocesses that share it)
    process: subprocess.Popen
    log_path: Path
    _log: Any = field(default=None, repr=False)

    def request(
        self, method: str, path: str, body: Any = None, timeout: float = 30
    ) -> tuple[int, Any]:
        """Call the server with the token; ``path`` is relative to the base URL
        (``mlinfra/api/health``, ``api/contents``). Returns (status, parsed JSON or text)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path.lstrip("/"),
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        text = raw.decode("utf-8", "replace")
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        """Call ``/mlinfra/api/<path>``; returns the JSON or raises ``APIError``."""
        status, payload = self.request(method, "mlinfra/api/" + path.lstrip("/"), body)
        if status >= 400:
            raise APIError(status, payload)
        return payload

    def workspace(self, user: str):
        """A workspace on the server's catalog and artifacts, acting as ``user`` (to put
        other users' data there before the browser looks)."""
        from jupyter_mlinfra.core.config import resolve_config
        from jupyter_mlinfra.core.workspace import Workspace

        environ = {k: v for k, v in os.environ.items() if not k.startswith("MLINFRA_")}
        environ["MLINFRA_HOME"] = str(self.home)
        return Workspace(resolve_config(environ=environ), user=user)

    def log_text(self, tail: int = 60) -> str:
        if self._log:
            self._log.flush()
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:])


def _stop(process: subprocess.Popen) -> None:
    import psutil

    try:
        parent = psutil.Process(process.pid)
        children = parent.children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    process.terminate()  # SIGTERM: jupyter_server shuts kernels down cleanly
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    for child in children:
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


@pytest.fixture(scope="session")
def lab_server():
    built = _built_labextension()
    base = Path(tempfile.mkdtemp(prefix="mlinfra-lab-"))
    root_dir, home = base / "notebooks", base / "mlinfra-home"
    config_dir, extensions_dir = base / "jupyter-config", base / "labextensions"
    for folder in (root_dir, home, config_dir / "labconfig", extensions_dir):
        folder.mkdir(parents=True)
    # No "Jupyter news" toast over the UI.
    (config_dir / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    # The front end in the source tree wins over any copy installed earlier.
    (extensions_dir / "jupyter-mlinfra").symlink_to(built, target_is_directory=True)

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MLINFRA_") and k not in ("JUPYTER_CONFIG_PATH", "JUPYTER_PATH")
    }
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        MLINFRA_HOME=str(home),
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        IPYTHONDIR=str(base / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    token, port = secrets.token_hex(16), free_port()
    jupyter = VENV_BIN / "jupyter"
    command = [
        str(jupyter) if jupyter.exists() else "jupyter",
        "lab",
        "--allow-root",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        f"--LabApp.extra_labextensions_path={extensions_dir}",
        "--ServerApp.terminals_enabled=False",
    ]
    log_path = base / "jupyter-lab.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        command,
        cwd=root_dir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    server = LabServer(
        url=f"http://127.0.0.1:{port}/",
        token=token,
        root_dir=root_dir,
        home=home,
        env=env,
        process=process,
        log_path=log_path,
        _log=log,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"jupyter lab exited with {process.returncode}:\n{server.log_text()}")
            try:
                status, _ = server.request("GET", "mlinfra/api/health", timeout=5)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"jupyter lab did not answer within {START_TIMEOUT:.0f} s:\n{server.log_text()}"
                )
            time.sleep(0.25)
        yield server
    finally:
        _stop(process)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    # Module scope: Playwright's sync API keeps an event loop running while it is started,
    # which must not leak into the asyncio tests that run after the browser tests.
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing", "`make test` installs it: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@dataclass
class ConsoleMessage:
    kind: str  # "error", "warning", "pageerror"
    text: str
    url: str  # the script that logged it, when known

    def mentions(self, word: str) -> bool:
        return word in self.text or word in self.url


@pytest.fixture
def wide(page):
    """The page at 1440x900, the size the workbench's screenshots are taken at."""
    page.set_viewport_size({"width": 1440, "height": 900})
    return page


@pytest.fixture
def console_messages() -> list[ConsoleMessage]:
    return []


@pytest.fixture
def page(browser, lab_server, console_messages):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    new_page = context.new_page()

    def on_console(message):
        if message.type in ("error", "warning"):
            console_messages.append(
                ConsoleMessage(message.type, message.text, (message.location or {}).get("url", ""))
            )

    def on_page_error(error):
        console_messages.append(ConsoleMessage("pageerror", f"{error.message}\n{error.stack}", ""))

    # The panel's API traffic, for the report of a failing test: which request was slow,
    # failed or never answered.
    traffic: list[str] = []
    started: dict[Any, float] = {}

    def on_request(request):
        if "/mlinfra/api/" in request.url:
            started[request] = time.monotonic()

    def on_done(request, outcome: str):
        if request in started:
            elapsed = time.monotonic() - started.pop(request)
            traffic.append(
                f"{time.strftime('%H:%M:%S')} {request.method} "
                f"{request.url.split('/mlinfra/api/', 1)[1][:120]} -> {outcome} "
                f"({elapsed:.2f} s)"
            )

    def on_finished(request):
        response = request.response()
        on_done(request, str(response.status) if response else "no response")

    new_page.on("console", on_console)
    new_page.on("pageerror", on_page_error)
    new_page.on("request", on_request)
    new_page.on("requestfinished", on_finished)
    new_page.on("requestfailed", lambda r: on_done(r, f"failed: {r.failure}"))
    new_page.mlinfra_traffic = traffic
    new_page.mlinfra_pending = started
    bind_page(new_page, lab_server)
    try:
        yield new_page
    finally:
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failing browser test, attach to the report the panel's last API requests (and
    those still unanswered), what the panel showed, a screenshot and the end of JupyterLab's
    log."""
    outcome = yield
    report = outcome.get_result()
    funcargs = getattr(item, "funcargs", {})
    if not report.failed:
        return
    page = funcargs.get("page")
    if page is not None and not page.is_closed():
        traffic = list(getattr(page, "mlinfra_traffic", []))[-40:]
        now = time.monotonic()
        traffic += [
            f"still waiting: {r.method} {r.url.split('/mlinfra/api/', 1)[1][:120]} "
            f"({now - t:.1f} s)"
            for r, t in getattr(page, "mlinfra_pending", {}).items()
        ]
        report.sections.append(("panel API requests (last 40)", "\n".join(traffic)))
        try:
            panel = page.locator("#jp-left-stack")
            report.sections.append(("what the panel showed", panel.inner_text(timeout=2000)))
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / f"FAILED-{item.name}.png"
            page.screenshot(path=str(shot), timeout=5000)
            report.sections.append(("screenshot", str(shot)))
        except Exception as exc:  # the report must not hide the test's own failure
            report.sections.append(("panel state", f"not available: {exc}"))
    server = funcargs.get("lab_server")
    if server is not None:
        tail = "\n".join(server.log_text().splitlines()[-80:])
        report.sections.append(("jupyter lab log (last 80 lines)", tail))
