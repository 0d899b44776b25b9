"""Limits that hold: the per-user queue quota under concurrent submissions (SQLite and
PostgreSQL), and quotas read from the catalog (published by the deployment's server or
scheduler), not from the submitting process's environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from sqlalchemy import func, select

from jupyter_mlinfra.core.errors import QuotaExceeded
from jupyter_mlinfra.core.jobs.executors import NoopExecutor
from jupyter_mlinfra.core.jobs.scheduler import Scheduler
from jupyter_mlinfra.core.jobs.tables import Run


@pytest.fixture(params=["sqlite", "postgresql"])
def any_catalog_ws(request, mlinfra_env, nb_root, monkeypatch):
    from jupyter_mlinfra.core.workspace import Workspace

    if request.param == "postgresql":
        monkeypatch.setenv("MLINFRA_CATALOG_URL", request.getfixturevalue("pg_catalog_url"))
    monkeypatch.setenv("MLINFRA_ROOT_DIR", str(nb_root))
    ws = Workspace.open()
    yield ws
    ws.close()


def _pending(ws) -> int:
    with ws.catalog.read_session() as s:
        return s.scalar(select(func.count()).select_from(Run)) or 0


def test_queue_quota_holds_under_concurrent_submissions(any_catalog_ws):
    ws = any_catalog_ws
    ws.config.settings.jobs_max_queued_per_user = 2
    ws.config.settings.jobs_doorbell = False
    jobs = ws.service("jobs")
    jobs.status()  # the schema exists before the race
    n = 12
    barrier = threading.Barrier(n)
    accepted, refused, other = [], [], []

    def submit() -> None:
        barrier.wait()
        try:
            accepted.append(jobs.submit("ok.ipynb")["id"])
        except QuotaExceeded:
            refused.append(1)
        except Exception as exc:  # pragma: no cover - reported below
            other.append(repr(exc))

    threads = [threading.Thread(target=submit) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not other
    assert (len(accepted), len(refused)) == (2, n - 2)
    assert _pending(ws) == 2


def test_quotas_are_the_catalogs_not_the_submitters_environment(jobs, jobs_ws, nb_root):
    # the deployment's scheduler (its configuration: at most 2 queued runs a user) starts
    # and publishes its quotas in the catalog
    jobs_ws.config.settings.jobs_max_queued_per_user = 2
    Scheduler(jobs_ws, NoopExecutor(jobs_ws, slots=0), poll_interval=60).start().stop()
    # a user's process that raises its own limit, by setting or by environment, is still
    # held to the catalog's
    jobs_ws.config.settings.jobs_max_queued_per_user = 1000
    jobs_ws.config.settings.jobs_user_quotas = {jobs_ws.user: {"max_queued": 1000}}
    jobs.submit("ok.ipynb")
    env = {
        **os.environ,
        "MLINFRA_ROOT_DIR": str(nb_root),
        "MLINFRA_JOBS_MAX_QUEUED_PER_USER": "1000",
        "MLINFRA_JOBS_USER_QUOTAS": json.dumps({jobs_ws.user: {"max_queued": 1000}}),
    }
    cli = [sys.executable, "-m", "jupyter_mlinfra.cli.main", "run", "ok.ipynb"]
    first = subprocess.run(cli, env=env, cwd=nb_root, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    second = subprocess.run(cli, env=env, cwd=nb_root, capture_output=True, text=True, timeout=120)
    assert second.returncode == QuotaExceeded.exit_code, second.stdout + second.stderr
    assert "max_queued" in second.stderr and "limit of 2" in second.stderr
    with pytest.raises(QuotaExceeded, match="limit of 2"):
        jobs.submit("ok.ipynb")
    assert _pending(jobs_ws) == 2
    assert jobs.quotas()["source"] == "catalog"
    assert jobs.quota_for(jobs_ws.user)["max_queued"] == 2
    # the deployment's configuration changes when its scheduler (or server) restarts with it
    jobs_ws.config.settings.jobs_max_queued_per_user = 3
    jobs_ws.config.settings.jobs_user_quotas = {}
    jobs.publish_quotas(by="test")
    jobs.submit("ok.ipynb")
