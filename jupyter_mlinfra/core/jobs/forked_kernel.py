"""Kernels forked from a template process: a job run's kernel without ipykernel's start-up.

Starting an IPython kernel costs about 0.3 s of CPU before it runs a cell (the interpreter,
IPython, ipykernel, zmq), then 0.07 s for its first execution and 0.06 s to load the
provenance recorder: about half of a short job run's CPU. A job worker therefore keeps one
*template* process per kernel command (``python -m jupyter_mlinfra.kernel.template`` with
the kernelspec's interpreter and flags), which imports all that once. Each kernel is a
``fork()`` of it that becomes its own session (process group), takes the working directory
and environment jupyter_client prepared for the kernel, and runs what
``python -m ipykernel_launcher -f <connection file>`` runs. ``random`` reseeds itself in a
forked child (``os.register_at_fork``); the template imports nothing else with a global
random state (numpy is imported by the run, in its own kernel).

jupyter_client drives it through ``jupyter_mlinfra.provisioner.ForkProvisioner`` (entry
point ``mlinfra-fork-provisioner``): the kernel's process is not the worker's child, so it is
polled and signalled by pid and process group (:class:`ForkedProcess`). The template exits
when its worker does (its stdin closes); kernels exit when their template does (ipykernel's
parent poller).

Only kernelspecs that launch ``ipykernel_launcher`` are forked; others start as usual. Set
``jobs_fork_kernels = False`` to start every kernel as a new process.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import threading

from ..kernel_protocol import TEMPLATE_MODULE

PROVISIONER_NAME = "mlinfra-fork-provisioner"
LAUNCHER = "ipykernel_launcher"
TEMPLATE_START_TIMEOUT = 60.0  # seconds


def forkable(argv: list[str]) -> bool:
    """True for a kernel command ``<python> [flags] -m ipykernel_launcher -f {...}``."""
    return LAUNCHER in argv and argv.index(LAUNCHER) >= 2 and argv[argv.index(LAUNCHER) - 1] == "-m"


# -- the worker's side ---------------------------------------------------------------------------
class Template:
    """A running template process for one interpreter command (``[python, flags...]``)."""

    def __init__(self, interpreter: list[str], env: dict[str, str] | None = None) -> None:
        self.interpreter = interpreter
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [*interpreter, "-m", TEMPLATE_MODULE],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._stdin, self._stdout = self.process.stdin, self.process.stdout
        # a template stuck in its imports must not hold up the run: it falls back
        ready = (
            self._stdout.readline()
            if select.select([self._stdout], [], [], TEMPLATE_START_TIMEOUT)[0]
            else ""
        )
        if not ready.startswith("{"):
            self.process.kill()
            raise RuntimeError(f"kernel template did not start: {ready!r}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def fork(self, args: list[str], cwd: str, env: dict[str, str]) -> int:
        with self._lock:
            self._stdin.write(json.dumps({"args": args, "cwd": cwd, "env": env}) + "\n")
            self._stdin.flush()
            reply = json.loads(self._stdout.readline())
        if "pid" not in reply:
            raise RuntimeError(f"kernel template could not fork: {reply.get('error')}")
        return int(reply["pid"])

    def close(self) -> None:
        if self.alive():
            try:
                self._stdin.close()
                self.process.wait(5)
            except Exception:
                self.process.kill()


_TEMPLATES: dict[tuple[str, ...], Template] = {}
_TEMPLATES_LOCK = threading.Lock()


def template_for(interpreter: list[str], env: dict[str, str] | None = None) -> Template:
    """The template for this interpreter. Kernels whose environment holds no mlinfra setting
    or credential (the central service's job kernels) get a template started with that
    environment: a forked kernel's ``/proc/self/environ`` is its template's."""
    from ..process_env import is_credential

    clean = env is not None and not any(is_credential(k) for k in env)
    key = (*interpreter, "clean" if clean else "inherited")
    with _TEMPLATES_LOCK:
        template = _TEMPLATES.get(key)
        if template is None or not template.alive():
            template = _TEMPLATES[key] = Template(interpreter, env if clean else None)
        return template


def close_templates() -> None:
    with _TEMPLATES_LOCK:
        for template in _TEMPLATES.values():
            template.close()
        _TEMPLATES.clear()


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


class ForkedProcess:
    """The little of ``subprocess.Popen`` jupyter_client's LocalProvisioner uses, for a
    process that is not our child (the template reaps it)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
                if _zombie(self.pid):  # dead, not yet reaped by its template
                    self.returncode = -signal.SIGKILL
            except ProcessLookupError:
                self.returncode = -signal.SIGKILL  # the exit status went to the template
            except PermissionError:
                pass
        return self.returncode

    def wait_killed(self, timeout: float = 1.0) -> None:
        """After a SIGKILL: return once the process is gone (at most ``timeout`` s), so
        jupyter_client's check right after the kill finds it dead rather than sleeping
        0.1 s before the next look (on every run)."""
        import time

        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)

    def wait(self, timeout: float | None = None) -> int:
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), float(timeout or 0))
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)
