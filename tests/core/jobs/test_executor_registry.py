"""Executors are a registry: the built-in kinds, and kinds an installed package declares in
the ``jupyter_mlinfra.executors`` entry point group (as papermill's engines are found)."""

from __future__ import annotations

import textwrap

import pytest

from jupyter_mlinfra.core.errors import ConfigurationError
from jupyter_mlinfra.core.jobs.executors import (
    ENTRY_POINT_GROUP,
    LocalExecutor,
    NoopExecutor,
    build_executor,
    executor_kinds,
)
from jupyter_mlinfra.core.jobs.scheduler import Scheduler


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A real installed distribution (a .dist-info on sys.path) declaring an executor."""
    site = tmp_path / "site"
    (site / "mlinfra_counting").mkdir(parents=True)
    (site / "mlinfra_counting" / "__init__.py").write_text(
        textwrap.dedent("""
        from jupyter_mlinfra.core.jobs.executors import NoopExecutor

        class CountingExecutor(NoopExecutor):
            kind = "counting"
            submitted = []

            def submit(self, slot, run_id):
                CountingExecutor.submitted.append(run_id)
                super().submit(slot, run_id)
    """)
    )
    info = site / "mlinfra_counting-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mlinfra-counting\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\ncounting = mlinfra_counting:CountingExecutor\n"
    )
    monkeypatch.syspath_prepend(str(site))
    yield
    import sys

    sys.modules.pop("mlinfra_counting", None)


def test_the_configured_kind_of_an_installed_package_runs_the_queue(
    jobs, jobs_ws, installed_plugin
):
    jobs_ws.config.settings.jobs_executor = "counting"
    assert "counting" in executor_kinds()
    scheduler = Scheduler(jobs_ws)  # the executor the configuration names
    try:
        assert scheduler.executor.kind == "counting"
        run = jobs.submit("ok.ipynb")
        scheduler.tick()
        scheduler.tick()
        assert jobs.get_run(run["id"])["state"] == "succeeded"
        assert type(scheduler.executor).submitted == [run["id"]]
    finally:
        scheduler.stop()


def test_built_in_kinds_and_an_unknown_kind(jobs_ws):
    assert {"local", "dask", "noop", "inline"} <= set(executor_kinds())
    local = build_executor(jobs_ws, "local", workers=1)
    try:
        assert isinstance(local, LocalExecutor) and local.workers == 1
    finally:
        local.shutdown()
    assert isinstance(build_executor(jobs_ws, "noop", scheduler_id="x"), NoopExecutor)
    with pytest.raises(ConfigurationError, match="unknown jobs executor 'nope': choose from"):
        build_executor(jobs_ws, "nope")
