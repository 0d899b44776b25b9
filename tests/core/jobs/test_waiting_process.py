"""A run waited for with no scheduler serving the catalog executes in the waiting process:
no worker process, its kernel started at once; all of a run's guarantees kept (record,
output, log, metrics, provenance, cancellation, back to the queue when the wait stops)."""

from __future__ import annotations

import os
import threading

import nbformat
import pytest

from .notebooks import make_root, write

pytestmark = pytest.mark.slow


@pytest.fixture
def ws(tmp_path, monkeypatch):
    from jupyter_mlinfra.core.workspace import Workspace

    root = make_root(tmp_path / "root")
    write(
        root / "parent.ipynb",
        "x = 1",
        "import os, jupyter_mlinfra\n"
        "open('parent.txt', 'w').write(str(os.getppid()))\n"
        "jupyter_mlinfra.log_metric('double', x * 2)",
    )
    monkeypatch.setenv("MLINFRA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLINFRA_ROOT_DIR", str(root))
    for name in ("MLINFRA_CATALOG_URL", "MLINFRA_ARTIFACT_ROOT", "MLINFRA_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "jupyter-config"))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(tmp_path / "jupyter-config"))
    workspace = Workspace.open()
    workspace.root = root
    yield workspace
    workspace.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_run_wait_executes_in_the_waiting_process_with_every_record(ws):
    from jupyter_mlinfra.core.jobs.local import wait_with_local_scheduler

    jobs = ws.service("jobs")
    run = jobs.submit("parent.ipynb", parameters={"x": 21})
    final = wait_with_local_scheduler(ws, [run["id"]], timeout=240)[0]
    assert final["state"] == "succeeded", final["error"]
    # no worker process: the kernel is this process's child, or forked from a kernel
    # template that is (jobs_fork_kernels)
    import psutil

    parent = int((ws.root / "parent.txt").read_text())
    assert os.getpid() in (parent, psutil.Process(parent).ppid())
    assert final["metrics"] == {"double": 42.0}
    assert final["progress"]["executed"] == final["progress"]["code_cells"]
    out = nbformat.reads(jobs.run_output(run["id"]).decode(), as_version=4)
    assert any(c.get("outputs") is not None and "x = 21" in c.source for c in out.cells)
    log = "\n".join(line["text"] for line in jobs.run_log(run["id"])["lines"])
    assert "attempt 1" in log and "ended: succeeded" in log
    # every cell's provenance is in the catalog (parameters cell, injected one, the cell)
    assert ws.service("provenance").sessions("parent.ipynb")[0]["executions"] == 3
    # no scheduler is left behind in the catalog as alive
    assert not any(s["alive"] for s in jobs.schedulers())


def _slow_started(ws, wait_until) -> list[int]:
    pids = ws.root / "pids.txt"
    wait_until(
        lambda: pids.exists() and len(pids.read_text().split()) == 2,
        "the slow run to start",
        timeout=120,
    )
    return [int(p) for p in pids.read_text().split()]


def test_cancel_kills_the_kernel_of_a_run_executing_in_the_waiting_process(ws, wait_until):
    from jupyter_mlinfra.core.jobs.local import wait_with_local_scheduler

    jobs = ws.service("jobs")
    run = jobs.submit("slow.ipynb", parameters={"seconds": 300.0})
    result: dict = {}
    waiter = threading.Thread(
        target=lambda: result.update(run=wait_with_local_scheduler(ws, [run["id"]], timeout=240)[0])
    )
    waiter.start()
    kernel, child = _slow_started(ws, wait_until)
    jobs.cancel_run(run["id"])
    waiter.join(120)
    assert result["run"]["state"] == "cancelled"
    wait_until(
        lambda: not _alive(kernel) and not _alive(child),
        "the kernel and its child to exit",
        timeout=10,
    )


def test_a_wait_interrupted_puts_the_run_back_in_the_queue_and_kills_its_kernel(ws, wait_until):
    from jupyter_mlinfra.core.jobs.local import wait_with_local_scheduler

    jobs = ws.service("jobs")
    run = jobs.submit("slow.ipynb", parameters={"seconds": 300.0})
    pids = ws.root / "pids.txt"

    def on_update(r: dict) -> None:  # Ctrl-C once the notebook's first cell has run
        if r["state"] == "running" and pids.exists() and len(pids.read_text().split()) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        wait_with_local_scheduler(ws, [run["id"]], timeout=240, on_update=on_update)
    kernel, child = [int(p) for p in pids.read_text().split()]
    back = jobs.get_run(run["id"])
    assert back["state"] == "queued" and back["attempt"] == 1 and not back.get("worker")
    log = "\n".join(line["text"] for line in jobs.run_log(run["id"])["lines"])
    assert "put back in the queue" in log
    wait_until(
        lambda: not _alive(kernel) and not _alive(child),
        "the kernel and its child to exit",
        timeout=10,
    )


def test_a_wait_that_follows_no_progress_looks_at_the_runs_when_woken(ws, monkeypatch):
    """``jupyter mlinfra sweep --wait`` (no progress shown): the waiting process reads the
    runs' states when its executor reports a run's end, and once a scheduler pass otherwise,
    not every 0.1 s (each look is a catalog query: CPU the sweep pays for every run)."""
    from sqlalchemy import event

    from jupyter_mlinfra.core.jobs.local import wait_with_local_scheduler
    from jupyter_mlinfra.core.jobs.scheduler import Scheduler

    jobs = ws.service("jobs")
    write(ws.root / "slow.ipynb", "import time\ntime.sleep(1.5)")
    run = jobs.submit("slow.ipynb")
    looks, passes = [], []
    tick = Scheduler.tick

    def counted_tick(self):
        passes.append(1)
        return tick(self)

    def on_statement(conn, cursor, statement, params, context, executemany):
        columns = statement.split("FROM")[0].split()
        if columns == [
            "SELECT",
            "mlinfra_runs.id,",
            "mlinfra_runs.state,",
            "mlinfra_runs.progress",
        ]:
            looks.append(statement)  # the waiting loop's look at the states (and progress)

    monkeypatch.setattr(Scheduler, "tick", counted_tick)
    event.listen(ws.catalog.engine, "before_cursor_execute", on_statement)
    try:
        final = wait_with_local_scheduler(ws, [run["id"]], timeout=240, execute_here=True)[0]
    finally:
        event.remove(ws.catalog.engine, "before_cursor_execute", on_statement)
    assert final["state"] == "succeeded", final["error"]
    # about one look per pass or wake-up (every 0.1 s before: 28 looks for 3 passes)
    assert 0 < len(looks) <= 2 * len(passes) + 2, (len(looks), len(passes))
