"""The whole REST API under property-based testing (schemathesis), against a live server.

A real ``jupyter server`` subprocess with the extension, on a catalog holding real data (a
model with two versions and an alias, an entity and a materialized feature view, a job with
a finished run, a recorded notebook), is driven by schemathesis' own CLI from the served
OpenAPI description: positive and negative cases for every operation, once with a token and
once as a browser session (cookie + XSRF). Every answer must be below 500 and match the
schema the description declares for it, and the server's log must hold no traceback.

The number of cases is bounded (``MLINFRA_FUZZ_EXAMPLES`` per operation, 8 by default) so
the run fits the CI budget; raise it locally to dig deeper.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from servers import free_port

VENV_BIN = Path(sys.executable).parent
EXAMPLES = int(os.environ.get("MLINFRA_FUZZ_EXAMPLES", "8"))
# Operations that start kernels: each case would run a notebook; a few cases are enough and
# their own tests cover them in depth.
SLOW_OPERATIONS = r"/provenance/verify|/reproduce"


def _seed(home: Path, root: Path) -> None:
    """Real objects for the fuzzer to find: ids and names it can reach from list answers."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlinfra.core.config import resolve_config
    from jupyter_mlinfra.core.workspace import Workspace

    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLINFRA_")}
    environ["MLINFRA_HOME"] = str(home)
    ws = Workspace(resolve_config(environ=environ))
    try:
        rng = np.random.default_rng(0)
        X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
        models = ws.service("models")
        for c in (0.5, 1.0):
            models.register(
                "fraud",
                LogisticRegression(C=c).fit(X, y),
                metrics={"auc": 0.7 + c / 10},
                tags={"team": "risk"},
            )
        models.set_alias("fraud", "champion", 1)
        frame = pd.DataFrame(
            {
                "customer_id": np.arange(20),
                "event_timestamp": pd.Timestamp("2026-11-01", tz="UTC"),
                "amount": rng.random(20),
            }
        )
        source = root / "txns.parquet"
        frame.to_parquet(source, index=False)
        features = ws.service("features")
        features.register_entity("customer", ["customer_id"])
        features.register_view("spend", entities="customer", source=str(source), ttl="30d")
        features.materialize("spend")
        nb = {
            "cells": [
                {
                    "cell_type": "code",
                    "metadata": {"tags": ["parameters"]},
                    "source": "x = 1",
                    "outputs": [],
                    "execution_count": None,
                    "id": "p",
                },
                {
                    "cell_type": "code",
                    "metadata": {},
                    "source": "print(x)",
                    "outputs": [],
                    "execution_count": None,
                    "id": "c",
                },
            ],
            "metadata": {
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        (root / "job.ipynb").write_text(json.dumps(nb))
        jobs = ws.service("jobs")
        jobs.create_job("nightly", "job.ipynb", root_dir=str(root), parameters={"x": 2})
        run = jobs.run_job("nightly")
        return {"run_id": run["id"]}
    finally:
        ws.close()


def _write_config(folder: Path, seeded: dict) -> Path:
    """schemathesis.toml: path parameters of the objects seeded above, so the cases of those
    operations reach past the 404 into the handlers (the token pass fuzzes the paths too)."""
    fixed = [
        (r"^/jobs/\\{ref\\}", {"ref": "nightly"}),
        (r"^/features/views/\\{name\\}", {"name": "spend"}),
        (r"^/models/\\{name\\}/versions/", {"name": "fraud", "version": 1}),
        (r"^/models/\\{name\\}", {"name": "fraud"}),
        (r"^/runs/\\{run_id\\}", {"run_id": seeded["run_id"]}),
    ]
    lines = []
    for regex, params in fixed:
        values = ", ".join(f"{k} = {json.dumps(v)}" for k, v in params.items())
        lines += [
            "[[operations]]",
            f'include-path-regex = "{regex}"',
            f"parameters = {{ {values} }}",
            "",
        ]
    path = folder / "schemathesis.toml"
    path.write_text("\n".join(lines))
    return path


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    root, home, config = base / "root", base / "home", base / "config"
    for folder in (root, home, config):
        folder.mkdir()
    seeded = _seed(home, root)
    token, port = secrets.token_hex(16), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLINFRA_")}
    # Config and IPython profile in temporary folders: the fuzzer calls every endpoint,
    # the recording switch (which writes kernel configuration) included.
    env.update(
        MLINFRA_HOME=str(home),
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_CONFIG_PATH=str(config),
        IPYTHONDIR=str(base / "ipython"),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    log_path = base / "server.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            str(VENV_BIN / "jupyter"),
            "server",
            "--allow-root",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--MLInfra.jobs_workers=1",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url + "mlinfra/api/health?token=" + token, timeout=5):
                break
        except (urllib.error.URLError, OSError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("the server did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.3)
    try:
        yield {"url": url, "token": token, "log": log_path, "base": base, "seeded": seeded}
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


def _browser_session(url: str, token: str) -> list[str]:
    """Log in the way a browser does (token once, then cookies) and return the headers a
    browser sends afterwards: the session cookie and the XSRF token, no Authorization."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(url + "login?token=" + token, timeout=30).read()
    opener.open(url + "mlinfra/api/health", timeout=30).read()
    cookies = {c.name: c.value for c in jar}
    assert "_xsrf" in cookies, f"no XSRF cookie after login: {sorted(cookies)}"
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return ["-H", f"Cookie: {header}", "-H", f"X-XSRFToken: {cookies['_xsrf']}"]


def _run_schemathesis(
    server: dict, headers: list[str], name: str, config: Path | None = None
) -> subprocess.CompletedProcess:
    report = server["base"] / f"{name}-report"
    command = [
        str(VENV_BIN / "st"),
        *(["--config-file", str(config)] if config else []),
        "run",
        server["url"] + "mlinfra/api/openapi.json",
        "--url",
        server["url"] + "mlinfra/api",
        "--checks",
        "not_a_server_error,response_schema_conformance,"
        "status_code_conformance,content_type_conformance",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "20261201",
        "--exclude-path-regex",
        SLOW_OPERATIONS,
        "--request-timeout",
        "60",
        "--workers",
        "1",
        "--no-color",
        "--generation-database",
        "none",
        "--suppress-health-check",
        "all",
        "--report",
        "ndjson",
        "--report-dir",
        str(report),
        *headers,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=server["base"])


@pytest.mark.parametrize("session", ["token", "cookie+xsrf"])
def test_rest_api_holds_under_property_based_testing(live_server, session):
    config = None
    if session == "token":  # path parameters fuzzed too
        headers = ["-H", f"Authorization: token {live_server['token']}"]
    else:  # path parameters fixed to the seeded objects, to reach deeper
        headers = _browser_session(live_server["url"], live_server["token"])
        config = _write_config(live_server["base"], live_server["seeded"])
    result = _run_schemathesis(live_server, headers, session.replace("+", "-"), config)
    summary = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, f"schemathesis found failures ({session}):\n{summary}"
    assert "API operations" in result.stdout or "operations" in result.stdout, summary
    log = live_server["log"].read_text(errors="replace")
    assert "Traceback" not in log, "the server logged a traceback:\n" + log[-6000:]
