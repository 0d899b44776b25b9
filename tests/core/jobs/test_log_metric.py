"""``log_metric`` from a run's kernel: stored, read back, and cheap in a loop."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from sqlalchemy import event

from jupyter_mlinfra.core.errors import InvalidInput, NotFound


def _catalog_statements(ws) -> list[str]:
    """Every SQL statement the catalog's SQLAlchemy engine sends from now on."""
    sent: list[str] = []
    event.listen(ws.catalog.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


def test_metrics_of_a_run_are_stored_and_read_back(jobs):
    run = jobs.submit("ok.ipynb")
    before = datetime.now(timezone.utc)
    for step in range(5):
        jobs.log_metric(run["id"], "loss", 1.0 / (step + 1), step)
    jobs.log_metric(run["id"], "auc", "0.91")  # a number's text is a number
    after = datetime.now(timezone.utc)

    got = jobs.get_run(run["id"])
    assert got["metrics"] == {"loss": 0.2, "auc": 0.91}
    history = got["metric_history"]
    assert [(m["name"], m["value"], m["step"]) for m in history] == [
        ("loss", 1.0, 0),
        ("loss", 0.5, 1),
        ("loss", 1.0 / 3, 2),
        ("loss", 0.25, 3),
        ("loss", 0.2, 4),
        ("auc", 0.91, None),
    ]
    for m in history:  # stored as the catalog stores its times: read back as UTC
        logged = datetime.fromisoformat(m["logged_at"].replace("Z", "+00:00"))
        assert before.replace(microsecond=0) <= logged <= after
    assert jobs.list_runs()["items"][0]["metrics"] == {"loss": 0.2, "auc": 0.91}


def test_a_metric_in_a_loop_is_one_insert_not_an_orm_transaction(jobs, jobs_ws):
    run = jobs.submit("ok.ipynb")
    jobs.log_metric(run["id"], "loss", 1.0, 0)  # the first opens what the next ones use
    sent = _catalog_statements(jobs_ws)
    for step in range(1, 50):
        jobs.log_metric(run["id"], "loss", 1.0 / step, step)
    # Through the ORM each metric was a session: a SELECT of the run, an INSERT, a COMMIT.
    assert sent == []
    assert len(jobs.get_run(run["id"])["metric_history"]) == 50


def test_bad_metrics_are_refused_and_nothing_is_stored(jobs):
    run = jobs.submit("ok.ipynb")
    with pytest.raises(NotFound, match="no run 'nope'"):
        jobs.log_metric("nope", "loss", 1.0)
    with pytest.raises(InvalidInput, match="must be a number"):
        jobs.log_metric(run["id"], "loss", "high")
    with pytest.raises(InvalidInput, match="1 to 200 characters"):
        jobs.log_metric(run["id"], "x" * 201, 1.0)
    with pytest.raises(InvalidInput, match="1 to 200 characters"):
        jobs.log_metric(run["id"], "", 1.0)
    assert jobs.get_run(run["id"])["metric_history"] == []


@pytest.mark.postgres
def test_metrics_on_a_postgresql_catalog(pg_catalog_url, mlinfra_env, nb_root, monkeypatch):
    from jupyter_mlinfra.core.workspace import Workspace

    monkeypatch.setenv("MLINFRA_CATALOG_URL", pg_catalog_url)
    monkeypatch.setenv("MLINFRA_ROOT_DIR", str(nb_root))
    ws = Workspace.open()
    try:
        jobs = ws.service("jobs")
        run = jobs.submit("ok.ipynb")
        for step in range(3):
            jobs.log_metric(run["id"], "loss", float(step), step)
        with pytest.raises(NotFound):
            jobs.log_metric("nope", "loss", 1.0)
        got = jobs.get_run(run["id"])
        assert [m["value"] for m in got["metric_history"]] == [0.0, 1.0, 2.0]
    finally:
        ws.close()


def test_per_user_views_log_through_one_connection(jobs, jobs_ws):
    """The server serves each request through a per-user view of the workspace: logging
    metrics through many of them must not open a connection each (file descriptors)."""

    catalog = os.path.realpath(jobs_ws.config.catalog_url.split(":///", 1)[1])

    def open_on_catalog() -> int:
        fds = os.listdir("/proc/self/fd")
        return sum(1 for fd in fds if _target(f"/proc/self/fd/{fd}") == catalog)

    run = jobs.submit("ok.ipynb")
    jobs.log_metric(run["id"], "loss", 1.0, 0)
    before = open_on_catalog()
    for i in range(10):
        jobs_ws.for_user(f"user{i}").service("jobs").log_metric(run["id"], "loss", 0.5, i)
    assert open_on_catalog() == before
    assert len(jobs.get_run(run["id"])["metric_history"]) == 11


def _target(link: str) -> str | None:
    try:
        return os.readlink(link)
    except OSError:
        return None
