"""``jobs.run(wait=True)`` with no scheduler serving the catalog starts the kernel template
its run's kernel is forked from while the run is being submitted (not after); a run that a
serving scheduler executes elsewhere, or a process that forks no kernels, starts none."""

from __future__ import annotations

import threading

import pytest

pytestmark = pytest.mark.slow


def _template_processes() -> list:
    """This process's kernel templates (children running the template module)."""
    import psutil

    from jupyter_mlinfra.core.kernel_protocol import TEMPLATE_MODULE

    out = []
    for child in psutil.Process().children():
        try:
            if TEMPLATE_MODULE in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                out.append(child)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.fixture
def api(mlinfra_env, nb_root, monkeypatch):
    """``jupyter_mlinfra.jobs`` on a fresh workspace whose root holds the test notebooks, in a
    process with no kernel template yet."""
    from jupyter_mlinfra import jobs
    from jupyter_mlinfra.core.jobs.forked_kernel import close_templates
    from jupyter_mlinfra.core.workspace import get_workspace

    monkeypatch.setenv("MLINFRA_ROOT_DIR", str(nb_root))
    close_templates()
    get_workspace(refresh=True)
    yield jobs
    close_templates()


def test_the_kernel_template_starts_while_the_run_is_submitted(api, monkeypatch, wait_until):
    from jupyter_mlinfra.core.jobs.service import JobsService

    submit = JobsService.submit
    seen_before_submit: list[int] = []

    def observed_submit(self, *args, **kwargs):
        # the submission does not begin before a template process is up: without the
        # pre-start, the template starts only after the submission, and this waits in vain
        wait_until(lambda: _template_processes(), "a kernel template before the submission")
        seen_before_submit.extend(p.pid for p in _template_processes())
        return submit(self, *args, **kwargs)

    monkeypatch.setattr(JobsService, "submit", observed_submit)
    run = api.run("ok.ipynb", parameters={"x": 5}, wait=True, timeout=240)
    assert run["state"] == "succeeded", run["error"]
    assert run["metrics"]["y"] == 10.0
    # the run's kernel was forked from that template: no second one was started
    assert [p.pid for p in _template_processes()] == seen_before_submit


def test_no_template_is_started_for_a_run_a_serving_scheduler_executes(api, wait_until):
    from jupyter_mlinfra.core.jobs.executors import NoopExecutor
    from jupyter_mlinfra.core.jobs.scheduler import Scheduler
    from jupyter_mlinfra.core.workspace import get_workspace

    ws = get_workspace()
    # a serving scheduler that passes only when told to here (it polls every 2 minutes)
    scheduler = Scheduler(ws, NoopExecutor(ws), poll_interval=120)
    try:
        scheduler.tick()  # records itself as serving
        jobs = ws.service("jobs")
        assert any(s["serving"] for s in jobs.schedulers())
        waited: list = []
        waiter = threading.Thread(
            target=lambda: waited.append(api.run("ok.ipynb", wait=True, timeout=120)),
            daemon=True,
        )
        waiter.start()
        wait_until(lambda: (scheduler.tick(), not waiter.is_alive())[1], "the run to end")
        assert [r["state"] for r in waited] == ["succeeded"]
        assert _template_processes() == []
    finally:
        scheduler.stop()


def test_no_template_is_started_when_kernels_are_not_forked(api):
    from jupyter_mlinfra.core.workspace import get_workspace

    get_workspace().config.settings.jobs_fork_kernels = False
    run = api.run("ok.ipynb", parameters={"x": 2}, wait=True, timeout=240)
    assert run["state"] == "succeeded", run["error"]
    assert run["metrics"]["y"] == 4.0
    assert _template_processes() == []


def test_a_refused_submission_leaves_no_template_running(api, wait_until):
    from jupyter_mlinfra.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        api.run("ok.ipynb", parameters={"no_such_parameter": 1}, wait=True)
    # the template begun for it is closed once it has started (no run will fork from it)
    wait_until(lambda: _template_processes() == [], "the pre-started template to be closed")
    # and the next run still gets its kernel
    run = api.run("ok.ipynb", parameters={"x": 1}, wait=True, timeout=240)
    assert run["state"] == "succeeded", run["error"]
