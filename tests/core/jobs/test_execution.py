"""Runs executed for real: local worker processes, papermill, real kernels.

One scheduler with two local workers serves the whole module (kernels stay warm).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from jupyter_mlinfra.core.errors import InvalidInput

from .notebooks import make_root, write

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from jupyter_mlinfra.core.jobs.executors import LocalExecutor
    from jupyter_mlinfra.core.jobs.scheduler import Scheduler
    from jupyter_mlinfra.core.workspace import Workspace

    base = tmp_path_factory.mktemp("jobs-exec")
    root = make_root(base / "root")
    mp = pytest.MonkeyPatch()
    mp.setenv("MLINFRA_HOME", str(base / "home"))
    mp.setenv("MLINFRA_ROOT_DIR", str(root))
    for name in ("MLINFRA_CATALOG_URL", "MLINFRA_ARTIFACT_ROOT", "MLINFRA_S3_ENDPOINT_URL"):
        mp.delenv(name, raising=False)
    mp.setenv("JUPYTER_CONFIG_DIR", str(base / "jupyter-config"))
    mp.setenv("JUPYTER_CONFIG_PATH", str(base / "jupyter-config"))
    import sys

    mp.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    ws = Workspace.open()
    executor = LocalExecutor(ws, 2, lease_seconds=6)
    scheduler = Scheduler(ws, executor, poll_interval=0.1, lease_seconds=6).start()
    yield ws, root, scheduler
    scheduler.stop()
    ws.close()
    mp.undo()


def _wait(ws, run_id, timeout=90):
    return ws.service("jobs").wait(run_id, timeout=timeout)


def test_run_succeeds_with_metrics_output_log_environment(env):
    ws, root, _ = env
    jobs = ws.service("jobs")
    run = _wait(ws, jobs.submit("ok.ipynb", parameters={"x": 21})["id"])
    assert run["state"] == "succeeded", run["error"]
    assert run["metrics"] == {"y": 42.0, "half": 10.5}
    assert run["attempt"] == 1 and run["worker"].endswith(("local-0", "local-1"))
    assert run["progress"]["executed"] == run["progress"]["code_cells"] == 4
    assert run["environment"]["python"] and "papermill" in run["environment"]["packages"]
    out = nbformat.reads(jobs.run_output(run["id"]).decode(), as_version=4)
    printed = "".join(o.get("text", "") for c in out.cells for o in c.get("outputs", []))
    assert f"y is 42 run {run['id']}" in printed  # MLINFRA_RUN_ID is set in the kernel
    log = "\n".join(line["text"] for line in jobs.run_log(run["id"])["lines"])
    assert "y is 42" in log and "cell 4/4" in log and "ended: succeeded" in log
    assert [a["name"] for a in run["artifacts"]] == ["summary.txt"]
    assert ws.artifacts.get(run["artifacts"][0]["key"]) == b"y=42"
    # searchable by the text of its outputs
    assert run["id"] in [r["id"] for r in jobs.list_runs(q="y is 42")["items"]]
    # every cell's provenance is in the catalog under the run's owner, although the kernel
    # is stopped right after its last cell (a second-long run: its recorder never wrote)
    log = ws.service("provenance").stored_log("ok.ipynb")
    code = [c.source for c in out.cells if c.cell_type == "code"]
    assert [e.source for e in log.executions] == code
    assert all(e.status == "ok" for e in log.executions)
    assert ws.service("provenance").sessions("ok.ipynb")[0]["executions"] == 4


def test_failure_reports_exception_and_failing_cell_and_scheduler_goes_on(env):
    ws, root, _ = env
    jobs = ws.service("jobs")
    bad = jobs.submit("fail.ipynb", parameters={"x": 7})
    no_kernel = jobs.submit("nokernel.ipynb")
    good = jobs.submit("ok.ipynb")
    bad, no_kernel, good = (_wait(ws, r["id"]) for r in (bad, no_kernel, good))
    assert bad["state"] == "failed"
    assert bad["error"]["type"] == "ValueError" and bad["error"]["message"] == "bad value 7"
    nb = nbformat.reads(jobs.run_input(bad["id"]).decode(), as_version=4)
    assert "raise ValueError" in bad["error"]["cell_source"]
    assert bad["error"]["cell_id"] in {c.id for c in nb.cells}
    assert no_kernel["state"] == "failed" and "no-such-kernel" in no_kernel["error"]["message"]
    assert good["state"] == "succeeded"
    with pytest.raises(InvalidInput, match="not a valid notebook"):
        jobs.submit("broken.ipynb")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def _printed(jobs, run_id: str) -> str:
    out = nbformat.reads(jobs.run_output(run_id).decode(), as_version=4)
    return "".join(o.get("text", "") for c in out.cells for o in c.get("outputs", []))


def _pids_when_started(root: Path, jobs, run_id: str, wait_until) -> tuple[int, int]:
    pids = root / "pids.txt"
    wait_until(
        lambda: pids.exists() and jobs.get_run(run_id)["progress"].get("executed", 0) >= 2,
        "the slow notebook to start",
    )
    kernel, child = map(int, pids.read_text().split())
    return kernel, child


def test_cancel_kills_the_kernel_and_its_children(env, wait_until):
    ws, root, _ = env
    jobs = ws.service("jobs")
    (root / "pids.txt").unlink(missing_ok=True)
    run = jobs.submit("slow.ipynb", parameters={"seconds": 120.0})
    kernel, child = _pids_when_started(root, jobs, run["id"], wait_until)

    # the output notebook is readable while the run goes (uploaded after each cell, so the
    # kernel can be a step ahead of it)
    def started_in_output() -> bool:
        partial = nbformat.reads(jobs.run_output(run["id"]).decode(), as_version=4)
        return any(
            "started" in o.get("text", "") for c in partial.cells for o in c.get("outputs", [])
        )

    wait_until(started_in_output, "the first cell's output in the output notebook", timeout=15)
    assert jobs.cancel_run(run["id"])["cancel_requested"] is True
    final = _wait(ws, run["id"], timeout=30)
    assert final["state"] == "cancelled"
    # the output notebook kept after the kill holds every cell run so far, and the
    # interrupted one's place (written once, from the notebook as it stood)
    assert _printed(jobs, run["id"]).count("started") == 1
    wait_until(
        lambda: not _alive(kernel) and not _alive(child),
        "the kernel and its child to exit",
        timeout=5,
    )


def test_timeout_kills_and_marks_timed_out(env, wait_until):
    ws, root, _ = env
    jobs = ws.service("jobs")
    (root / "pids.txt").unlink(missing_ok=True)
    run = jobs.submit("slow.ipynb", parameters={"seconds": 60.0}, timeout=8)
    final = _wait(ws, run["id"], timeout=60)
    assert final["state"] == "timed_out"
    assert "timeout of 8 s" in final["error"]["message"]
    assert _printed(jobs, run["id"]).count("started") == 1
    kernel, child = map(int, (root / "pids.txt").read_text().split())
    wait_until(lambda: not _alive(child), "the timed-out kernel's child to exit", timeout=5)


def test_retry_with_backoff_then_success(env):
    ws, root, _ = env
    jobs = ws.service("jobs")
    (root / "flaky.count").unlink(missing_ok=True)
    run = jobs.submit("flaky.ipynb", retries=2, retry_backoff=1)
    final = _wait(ws, run["id"])
    assert final["state"] == "succeeded" and final["attempt"] == 2
    assert final["history"][0]["error"]["message"] == "first attempt fails"
    first_end = final["history"][0]["finished_at"]
    from datetime import datetime

    assert (
        datetime.fromisoformat(final["started_at"]) - datetime.fromisoformat(first_end)
    ).total_seconds() >= 1.0  # the backoff
    assert final["metrics"] == {"attempt_seen": 2.0}


def test_core_api_runs_a_notebook_snapshot_with_parameters_and_waits(env):
    """What the model store calls to reproduce a model: notebook content, parameters, wait,
    read the metrics."""
    ws, root, _ = env
    jobs = ws.service("jobs")
    content = (root / "ok.ipynb").read_bytes()
    with pytest.raises(InvalidInput, match="unknown parameter"):
        jobs.submit_content(content, name="model-v3.ipynb", parameters={"nope": 1})
    run = jobs.submit_content(content, name="model-v3.ipynb", parameters={"x": 5})
    final = jobs.run_and_wait(run["id"], timeout=90)
    assert final["state"] == "succeeded" and final["metrics"]["y"] == 10.0
    assert final["notebook"] == "model-v3.ipynb"


def test_sweep_results_table_and_dag_pipeline(env):
    ws, root, _ = env
    jobs = ws.service("jobs")
    sweep = jobs.sweep("ok.ipynb", {"x": [1, 2, 3]})
    for run_id in sweep["run_ids"]:
        _wait(ws, run_id)
    df = jobs.sweep_results(sweep["id"])
    assert list(df["x"]) == [1, 2, 3] and list(df["y"]) == [2.0, 4.0, 6.0]
    assert set(df["state"]) == {"succeeded"} and (df["duration"] > 0).all()
    jobs.create_job("p-prepare", "ok.ipynb", parameters={"x": 1})
    jobs.create_job("p-train", "ok.ipynb", parameters={"x": 2}, depends_on=["p-prepare"])
    jobs.create_job("p-eval", "fail.ipynb", depends_on=["p-train"])
    jobs.create_job("p-report", "ok.ipynb", depends_on=["p-eval"])
    first = jobs.run_job("p-prepare")
    runs = [_wait(ws, r) for r in first["pipeline_run_ids"]]
    assert [r["state"] for r in runs] == ["succeeded", "succeeded", "failed", "upstream_failed"]
    assert runs[1]["started_at"] >= runs[0]["finished_at"]


def test_runs_kernels_are_forked_yet_each_draws_its_own_random_numbers(env):
    """The workers fork each run's kernel from a template that has imported ipykernel
    (jobs_fork_kernels, on by default): a sweep's runs still get kernels of their own, each
    with its own random numbers, as new interpreters would."""
    ws, root, _ = env
    write(
        root / "draw.ipynb",
        "i = 0",
        "import os, random, psutil, jupyter_mlinfra\n"
        "parent = ' '.join(psutil.Process(os.getppid()).cmdline())\n"
        "print('pid', os.getpid(), 'draw', random.random(), 'parent', parent)",
    )
    jobs = ws.service("jobs")
    sweep = jobs.sweep("draw.ipynb", {"i": [1, 2, 3, 4]})
    seen = []
    for run_id in sweep["run_ids"]:
        run = _wait(ws, run_id)
        assert run["state"] == "succeeded", run["error"]
        out = nbformat.reads(jobs.run_output(run_id).decode(), as_version=4)
        printed = "".join(o.get("text", "") for c in out.cells for o in c.get("outputs", []))
        words = printed.split()
        seen.append((words[1], words[3], " ".join(words[5:])))
    assert len({pid for pid, _, _ in seen}) == 4
    assert len({draw for _, draw, _ in seen}) == 4
    assert all("jupyter_mlinfra.kernel.template" in parent for _, _, parent in seen)


def test_a_runs_kernel_keeps_its_history_in_memory(env):
    """A run does not write its cells into the user's IPython history database (nor open it,
    nor start IPython's history-writing thread); the run's own history still works."""
    ws, root, _ = env
    write(
        root / "history.ipynb",
        "marker = 'first'",
        "hm = get_ipython().history_manager\n"
        "print('file', hm.hist_file, 'thread', hm.save_thread is not None)\n"
        "print('previous', _ih[-2])",
    )
    jobs = ws.service("jobs")
    run = _wait(ws, jobs.submit("history.ipynb")["id"])
    assert run["state"] == "succeeded", run["error"]
    printed = _printed(jobs, run["id"])
    assert "file :memory: thread False" in printed
    assert "previous marker = 'first'" in printed
