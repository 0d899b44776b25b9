"""The template process of forked job kernels (see ``core/jobs/forked_kernel.py``), run as
``python -m jupyter_mlinfra.kernel.template`` with the kernel's interpreter: it imports
ipykernel, IPython and the jupyter_mlinfra extension once, then forks a kernel for each
request read on stdin (a JSON line: the launcher's arguments, cwd, environment) and answers
its pid on stdout."""

from __future__ import annotations

import json
import os
import signal
import sys

from ..core.jobs.forked_kernel import LAUNCHER

# Everything a kernel imports between its fork and its first reply: ipykernel's debugger
# (debugpy, whose import alone is ~0.1 s of CPU), the history database, IPython's pdb and
# completer and inspector, the %store extension, faulthandler and tornado's queues. None of
# them starts a thread.
PRELOAD = (
    "ipykernel.kernelapp",
    "IPython",
    "jupyter_mlinfra.kernel.extension",
    "ipykernel.debugger",
    "IPython.core.debugger",
    "IPython.core.completerlib",
    "IPython.core.oinspect",
    "IPython.core.logger",
    "IPython.utils.wildcard",
    "faulthandler",
    "IPython.extensions.storemagic",
    "sqlite3",
    "tornado.queues",
    "tornado.platform.asyncio",
)


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
        sys.argv = [
            launcher.origin if launcher and launcher.origin else LAUNCHER,
            *request["args"],
            f"--IPKernelApp.parent_handle={template_pid}",
        ]
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


def _reap(signum, frame) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _template_main() -> int:
    import importlib

    # kernels are reaped as they exit, by waiting for them (not SIG_IGN): so their CPU time
    # counts in the template's, and in its worker's (getrusage(RUSAGE_CHILDREN), time(1))
    signal.signal(signal.SIGCHLD, _reap)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # kernels print to the worker's stderr
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as exc:  # e.g. jupyter_mlinfra not installed in the kernel's env
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
