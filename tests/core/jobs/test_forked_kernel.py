"""Kernels forked from a template process (jobs_fork_kernels): what a kernel started as a new
interpreter would have, and no process left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import psutil
import pytest

from jupyter_mlinfra.core.jobs import kernels as kernel_control
from jupyter_mlinfra.core.jobs.forked_kernel import _TEMPLATES, close_templates

pytestmark = pytest.mark.slow


def _run(km, code: str) -> str:
    async def go():
        out: list[str] = []
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            reply = await kc.execute_interactive(
                code, timeout=60, output_hook=lambda m: out.append(m["content"].get("text", ""))
            )
            assert reply["content"]["status"] == "ok", reply["content"]
        finally:
            kc.stop_channels()
        return "".join(out)

    return kernel_control.run_coro(go())


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def kernels(mlinfra_env):
    started = []
    yield started
    for km in started:
        kernel_control.kill_kernel(km)
    close_templates()


def test_a_forked_kernel_is_like_a_new_one(kernels, tmp_path, wait_until):
    km = kernel_control.start_kernel("python3", cwd=str(tmp_path), fork=True)
    kernels.append(km)
    [template] = _TEMPLATES.values()
    shown = _run(
        km,
        "import os, sys\n"
        "print(os.getpid(), os.getppid(), os.getpgid(0), os.getcwd())\n"
        "print(sys.argv[0].endswith('ipykernel_launcher.py'), "
        "os.environ['JPY_PARENT_PID'])",
    )
    pid, ppid, pgid, cwd, launcher, parent_env = shown.split()
    assert int(pid) == km.provisioner.pid == int(pgid)  # its own process group
    assert int(ppid) == template.process.pid == int(parent_env)
    assert cwd == str(tmp_path) and launcher == "True"
    # a second kernel from the same template draws other random numbers
    other = kernel_control.start_kernel("python3", fork=True)
    kernels.append(other)
    draw = "import random; print(random.random())"
    assert _run(km, draw) != _run(other, draw)
    # cancellation kills the kernel's process group: the kernel and what it started
    child = int(_run(km, "import subprocess; print(subprocess.Popen(['sleep', '300']).pid)"))
    kernel_control.kill_kernel_processes(km)
    wait_until(
        lambda: _gone(int(pid)) and _gone(child), "the kernel and its child to exit", timeout=15
    )


def test_a_dead_template_is_replaced_and_takes_its_kernels_down(kernels, wait_until):
    km = kernel_control.start_kernel("python3", fork=True)
    kernels.append(km)
    [template] = _TEMPLATES.values()
    kernel_pid = km.provisioner.pid
    os.kill(template.process.pid, signal.SIGKILL)
    # ipykernel's parent poller: no orphan kernel
    wait_until(lambda: _gone(kernel_pid), "the template's kernel to exit", timeout=15)
    again = kernel_control.start_kernel("python3", fork=True)
    kernels.append(again)
    [new_template] = _TEMPLATES.values()
    assert new_template is not template and new_template.alive()
    assert _run(again, "print(6 * 7)").strip() == "42"


def test_fork_off_starts_a_new_interpreter(kernels):
    km = kernel_control.start_kernel("python3", fork=False)
    kernels.append(km)
    assert not _TEMPLATES
    assert int(_run(km, "import os; print(os.getppid())")) == os.getpid()


def test_a_template_that_cannot_start_falls_back_to_a_new_interpreter(kernels, monkeypatch):
    """E.g. a kernelspec whose Python lacks jupyter_mlinfra: the kernel still starts."""
    import jupyter_mlinfra.provisioner as provisioner

    def broken(interpreter, env=None):
        raise RuntimeError("kernel template did not start: ''")

    monkeypatch.setattr(provisioner, "template_for", broken)
    km = kernel_control.start_kernel("python3", fork=True)
    kernels.append(km)
    assert int(_run(km, "import os; print(os.getppid())")) == os.getpid()


def test_a_template_stuck_at_start_is_given_up(monkeypatch):
    """A template that never says it is ready (stuck importing) is killed after
    TEMPLATE_START_TIMEOUT, and the provisioner then starts the kernel as a new process."""
    import sys

    from jupyter_mlinfra.core.jobs import forked_kernel

    monkeypatch.setattr(forked_kernel, "TEMPLATE_START_TIMEOUT", 0.5)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="did not start"):
        forked_kernel.Template([sys.executable, "-c", "import time; time.sleep(60)"])
    assert time.monotonic() - started < 30


def test_a_forked_kernels_cpu_time_counts_in_the_process_tree_of_its_starter():
    """The template waits for the kernels it forks: their CPU time adds up in the template's,
    and in its starter's once the template exits (what time(1), getrusage and the jobs
    benchmark read). A template ignoring SIGCHLD let the kernel's CPU vanish."""
    import resource

    def children_cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    close_templates()
    before = children_cpu()
    km = kernel_control.start_kernel("python3", fork=True)
    try:
        used = float(
            _run(
                km,
                "import time\nt = time.process_time()\n"
                "while time.process_time() - t < 2.0:\n    pass\n"
                "print(time.process_time())",
            )
        )
    finally:
        kernel_control.kill_kernel(km)
    close_templates()
    assert children_cpu() - before >= used


def test_a_forked_kernel_imports_nothing_its_template_has_not(kernels):
    """Every module a job kernel needs up to its first cell is imported once, in the template
    (ipykernel's debugger and debugpy, the history database, IPython's pdb...): a forked
    kernel then starts without importing anything, about 0.15 s of CPU less per run."""
    km = kernel_control.start_kernel("python3", fork=True)
    kernels.append(km)
    loaded = set(json.loads(_run(km, "import sys, json\nprint(json.dumps(sorted(sys.modules)))")))
    [template] = _TEMPLATES.values()
    probe = (
        "import importlib, json, sys\n"
        "from jupyter_mlinfra.kernel.template import PRELOAD\n"
        "for name in PRELOAD:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    preloaded = json.loads(
        subprocess.run(
            [*template.interpreter, "-c", probe], capture_output=True, text=True, check=True
        ).stdout
    )
    # runpy: the template itself runs as ``python -m`` (the probe above does not)
    assert loaded - set(preloaded) - {"runpy"} == set()


def test_a_killed_forked_kernel_is_gone_when_kill_returns(kernels, wait_until):
    """jupyter_client looks at a killed kernel once and, if it still seems alive, sleeps
    0.1 s before looking again; every run's kernel is killed at its end. A forked kernel is
    not this process's child (its template reaps it): it counts as gone once it is dead,
    reaped or not, and the kill returns when it is."""
    from jupyter_mlinfra.core.jobs.forked_kernel import ForkedProcess

    km = kernel_control.start_kernel("python3", fork=True)
    kernels.append(km)
    assert _run(km, "print('up')").strip() == "up"
    process = km.provisioner.process
    assert isinstance(process, ForkedProcess)
    kernel_control.run_coro(km.provisioner.kill())
    assert process.poll() is not None
    assert kernel_control.run_coro(km.is_alive()) is False

    # a dead process its parent has not reaped yet (a zombie) is gone too
    child = subprocess.Popen(["true"])
    try:
        wait_until(lambda: psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE, "exit")
        assert ForkedProcess(child.pid).poll() is not None
    finally:
        child.wait()
