"""A local job worker process: ``python -m jupyter_mlinfra.core.jobs.worker --slot NAME ...``.

Reads run ids on stdin (one a line, ``stop`` to exit) and reports JSON lines on its own copy
of stdout; the kernels it starts inherit stderr instead, so they cannot garble the protocol.
It imports papermill once, keeps the next kernel started while a run executes, and kills its
kernels and exits when its scheduler process disappears.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slot", required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--kernel", default="python3")
    parser.add_argument("--no-prestart", action="store_true")
    args = parser.parse_args(argv)

    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printing goes to stderr
    sys.stdout = sys.stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the scheduler decides when we stop

    def send(**msg: Any) -> None:
        proto.write(json.dumps(msg) + "\n")
        proto.flush()

    from ..startup import lean_start

    lean_start()
    import nbclient  # noqa: F401
    import papermill  # noqa: F401  (once per worker, not per run)

    from ..workspace import Workspace
    from . import execution, kernels

    workspace = Workspace.open()
    current: dict[str, Any] = {"km": None}
    warm: dict[str, Any] = {"km": None, "thread": None}

    def start_warm() -> None:
        try:
            km = kernels.start_run_kernel(workspace, args.kernel)
            if workspace.config.settings.jobs_record_provenance:
                kernels.warm_up_kernel(km)
            warm["km"] = km
        except Exception as exc:  # a broken kernelspec: the run will report it
            print(f"worker {args.slot}: cannot pre-start a kernel: {exc}", file=sys.stderr)
            warm["km"] = None

    def prestart_next() -> None:
        if args.no_prestart:
            return
        t = threading.Thread(target=start_warm, daemon=True)
        warm["thread"] = t
        t.start()

    def take_warm():
        t = warm["thread"]
        if t is not None:
            t.join()
        km, warm["km"], warm["thread"] = warm["km"], None, None
        if km is not None and not kernels.run_coro(km.is_alive()):
            kernels.kill_kernel(km)
            km = None
        return km

    def watch_parent() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != args.parent:
                # the scheduler is gone (even by SIGKILL): take the kernels down with us
                # exit at once: the run must not be reported (its lease will expire and the
                # next scheduler recovers it by its retry policy)
                for km in (current["km"], warm["km"]):
                    kernels.kill_kernel_processes(km)
                for km in (current["km"], warm["km"]):
                    if km is not None:
                        kernels.remove_connection_files(km)
                os._exit(3)

    threading.Thread(target=watch_parent, daemon=True).start()
    prestart_next()
    send(event="ready", slot=args.slot, pid=os.getpid())
    for line in sys.stdin:
        run_id = line.strip()
        if not run_id:
            continue
        if run_id == "stop":
            break
        km = take_warm()
        current["km"] = km
        prestart_next()  # the next kernel starts while this run executes
        try:
            state = execution.execute_run(
                workspace, run_id, args.slot, kernel_manager=km, lease_seconds=args.lease
            )
            send(event="done", run_id=run_id, state=state)
        except Exception as exc:  # never lose the worker over one run
            import traceback

            traceback.print_exc()
            send(event="done", run_id=run_id, state="lost", detail=f"{type(exc).__name__}: {exc}")
        current["km"] = None
    t = warm["thread"]
    if t is not None:
        t.join(30)
    kernels.kill_kernel(warm["km"])
    from .forked_kernel import close_templates

    close_templates()
    workspace.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
