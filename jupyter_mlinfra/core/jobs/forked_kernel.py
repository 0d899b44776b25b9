"""Kernels forked from a template process: a job run's kernel without ipykernel's start-up.

Starting an IPython kernel costs about 0.3 s of CPU before it runs a cell (the interpreter,
IPython, ipykernel, zmq), then 0.07 s for its first execution and 0.06 s to load the
provenance recorder: about half of a short job run's CPU. A job worker therefore keeps one
*template* process per kernel command (``python -m jupyter_mlinfra.core.jobs.forked_kernel``
with the kernelspec's interpreter and flags), which imports all that once. Each kernel is a
``fork()`` of it that becomes its own session (process group), takes the working directory
and environment jupyter_client prepared for the kernel, and runs what
``python -m ipykernel_launcher -f <connection file>`` runs. ``random`` reseeds itself in a
forked child (``os.register_at_fork``); the template imports nothing else with a global
random state (numpy is imported by the run, in its own kernel).

jupyter_client drives it through ``jupyter_mlinfra.provisioner.ForkProvisioner`` (entry
point ``mlinfra-fork-provisioner``): the kernel's process is not the worker's child, so it is
polled and signalled by pid and process group (:class:`ForkedProcess`). The template exits when its worker does (its
stdin closes); kernels exit when their template does (ipykernel's parent poller).

Only kernelspecs that launch ``ipykernel_launcher`` are forked; others start as usual. Set
``jobs_fork_kernels = False`` to start every kernel as a new process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from typing import Any

PROVISIONER_NAME = "mlinfra-fork-provisioner"
LAUNCHER = "ipykernel_launcher"
PRELOAD = ("ipykernel.kernelapp", "IPython", "jupyter_mlinfra.kernel.extension")


def forkable(argv: list[str]) -> bool:
    """True for a kernel command ``<python> [flags] -m ipykernel_launcher -f {...}``."""
    return LAUNCHER in argv and argv.index(LAUNCHER) >= 2 and \
        argv[argv.index(LAUNCHER) - 1] == "-m"


# -- the worker's side ---------------------------------------------------------------------------
class Template:
    """A running template process for one interpreter command (``[python, flags...]``)."""

    def __init__(self, interpreter: list[str]) -> None:
        self.interpreter = interpreter
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [*interpreter, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=None, text=True, bufsize=1, start_new_session=True)
        ready = self.process.stdout.readline()
        if not ready.startswith("{"):
            self.process.kill()
            raise RuntimeError(f"kernel template did not start: {ready!r}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def fork(self, args: list[str], cwd: str, env: dict[str, str]) -> int:
        with self._lock:
            self.process.stdin.write(json.dumps({"args": args, "cwd": cwd, "env": env}) + "\n")
            self.process.stdin.flush()
            reply = json.loads(self.process.stdout.readline())
        if "pid" not in reply:
            raise RuntimeError(f"kernel template could not fork: {reply.get('error')}")
        return int(reply["pid"])

    def close(self) -> None:
        if self.alive():
            try:
                self.process.stdin.close()
                self.process.wait(5)
            except Exception:
                self.process.kill()


_TEMPLATES: dict[tuple[str, ...], Template] = {}
_TEMPLATES_LOCK = threading.Lock()


def template_for(interpreter: list[str]) -> Template:
    key = tuple(interpreter)
    with _TEMPLATES_LOCK:
        template = _TEMPLATES.get(key)
        if template is None or not template.alive():
            template = _TEMPLATES[key] = Template(interpreter)
        return template


def close_templates() -> None:
    with _TEMPLATES_LOCK:
        for template in _TEMPLATES.values():
            template.close()
        _TEMPLATES.clear()


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
            except ProcessLookupError:
                self.returncode = -signal.SIGKILL    # the exit status went to the template
            except PermissionError:
                pass
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


# -- the template's side ---------------------------------------------------------------------------
def _become_kernel(request: dict, template_pid: int) -> None:
    """In the forked child: set up what a fresh ``python -m ipykernel_launcher`` would have,
    and run it. Never returns."""
    code = 1
    try:
        os.setsid()
        for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        sys.stdin = open(0, closefd=False)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        # as ipykernel_launcher: no template folder first on sys.path (init_path adds '')
        if sys.path and sys.path[0] in ("", os.getcwd(), _TEMPLATE_CWD):
            del sys.path[0]
        os.environ["JPY_PARENT_PID"] = str(template_pid)
        import importlib.util

        launcher = importlib.util.find_spec(LAUNCHER)
        sys.argv = [launcher.origin if launcher and launcher.origin else LAUNCHER,
                    *request["args"], f"--IPKernelApp.parent_handle={template_pid}"]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


_TEMPLATE_CWD = os.getcwd()


def _template_main() -> int:
    import importlib

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # kernels are reaped as they exit
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)                                   # kernels print to the worker's stderr
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as exc:   # e.g. jupyter_mlinfra not installed in the kernel's env
            print(f"kernel template: cannot preload {name}: {exc}", file=sys.stderr)
    replies.write(json.dumps({"ready": os.getpid()}) + "\n")
    template_pid = os.getpid()
    for line in sys.stdin:
        try:
            request = json.loads(line)
            pid = os.fork()
        except Exception as exc:
            replies.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
            continue
        if pid == 0:
            replies.close()
            sys.stdin.close()
            _become_kernel(request, template_pid)
        replies.write(json.dumps({"pid": pid}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_template_main())
