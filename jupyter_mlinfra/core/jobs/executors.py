"""Executors: where a claimed run executes.

- :class:`LocalExecutor` (default): worker processes that stay up; each imports papermill
  once and starts the next kernel while the current run executes.
- :class:`.dask_executor.DaskExecutor`: runs are Dask tasks on a ``distributed`` cluster (by address, or a
  cluster object); adaptive scaling when the cluster supports it.
- :class:`InlineExecutor`: one run at a time on a thread of this process (``run --wait``).
- :class:`NoopExecutor`: marks runs succeeded without executing anything (dispatch
  benchmarks and scheduler tests).

The interface the scheduler uses: ``free_slots()`` (names of idle slots), ``submit(slot,
run_id)``, ``poll()`` (finished or lost runs), ``in_flight()``, ``shutdown()``,
``describe()``, a ``kind`` and an ``on_event`` callback attribute (set by the scheduler:
call it when a run ended). :func:`build_executor` builds one by kind from the registry at the
end of this module, which packages extend by entry point (``jupyter_mlinfra.executors``).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..process_env import workspace_environment
from .run_tokens import SECRET_VARIABLE

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    run_id: str
    slot: str
    state: str  # the state the worker reported ("finished" from Dask), or "lost"
    detail: str = ""


def config_environment(workspace) -> dict[str, str]:
    """The MLINFRA_* variables that make a worker process or task open the same workspace."""
    env = workspace_environment(
        workspace.config, settings=("root_dir", "jobs_record_provenance", "jobs_service_url")
    )
    # a worker of the central service's scheduler signs its runs' tokens with the service's key
    if workspace.config.settings.jobs_service_url and os.environ.get(SECRET_VARIABLE):
        env[SECRET_VARIABLE] = os.environ[SECRET_VARIABLE]
    return env


# -- local worker processes -------------------------------------------------------------------
class LocalExecutor:
    """``workers`` processes on this machine (``python -m jupyter_mlinfra.core.jobs.worker``),
    started lazily on the first run. Each runs one run at a time with the next kernel already
    warm; a worker whose scheduler disappears (even by SIGKILL) kills its kernels and exits."""

    kind = "local"

    def __init__(
        self,
        workspace,
        workers: int = 2,
        *,
        lease_seconds: float = 30.0,
        kernel_name: str = "python3",
        prestart: bool = True,
        scheduler_id: str | None = None,
    ) -> None:
        self.workspace = workspace
        self.workers = max(1, int(workers))
        self.lease_seconds = lease_seconds
        self.kernel_name = kernel_name
        self.prestart = prestart
        self.id = scheduler_id or uuid.uuid4().hex[:8]
        self._procs: dict[str, Any] = {}
        self._results: queue.Queue = queue.Queue()
        self._busy: dict[str, str] = {}  # slot -> run id
        self._lock = threading.Lock()
        self.on_event: Callable[[], None] | None = None  # set by the scheduler: a run ended

    def _slot_name(self, i: int) -> str:
        return f"{os.uname().nodename}:{self.id}:local-{i}"

    def _spawn(self, slot: str):
        import subprocess
        import sys

        env = {**os.environ, **config_environment(self.workspace)}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_mlinfra.core.jobs.worker",
                "--slot",
                slot,
                "--parent",
                str(os.getpid()),
                "--lease",
                str(self.lease_seconds),
                "--kernel",
                self.kernel_name,
            ]
            + ([] if self.prestart else ["--no-prestart"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            bufsize=1,
        )

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                self._results.put((slot, msg))
                _notify(self)
            _notify(self)  # the worker process exited

        threading.Thread(target=read, name=f"mlinfra-{slot}-reader", daemon=True).start()
        return proc

    def _ensure_started(self) -> None:
        for i in range(self.workers):
            slot = self._slot_name(i)
            if slot not in self._procs:
                self._procs[slot] = self._spawn(slot)

    def free_slots(self) -> list[str]:
        # a worker that died is started again on its next run
        with self._lock:
            return [
                self._slot_name(i)
                for i in range(self.workers)
                if self._slot_name(i) not in self._busy
            ]

    def submit(self, slot: str, run_id: str) -> None:
        with self._lock:
            self._ensure_started()
            self._busy[slot] = run_id
            proc = self._procs[slot]
            proc.stdin.write(run_id + "\n")
            proc.stdin.flush()

    def in_flight(self) -> dict[str, str]:
        with self._lock:
            return dict(self._busy)

    def poll(self) -> list[Outcome]:
        out: list[Outcome] = []
        while True:
            try:
                slot, msg = self._results.get_nowait()
            except queue.Empty:
                break
            if msg.get("event") == "done":
                with self._lock:
                    self._busy.pop(slot, None)
                out.append(
                    Outcome(msg["run_id"], slot, msg.get("state", "lost"), msg.get("detail", ""))
                )
        with self._lock:
            for slot, proc in list(self._procs.items()):
                if proc.poll() is not None:
                    run_id = self._busy.pop(slot, None)
                    if run_id:
                        out.append(
                            Outcome(
                                run_id,
                                slot,
                                "lost",
                                f"worker process exited with {proc.returncode}",
                            )
                        )
                    del self._procs[slot]
        return out

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs.values()]

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "workers": self.workers,
            "alive": sum(1 for p in self._procs.values() if p.poll() is None),
            "busy": len(self._busy),
        }

    def shutdown(self, timeout: float = 10.0) -> None:
        with self._lock:
            procs = list(self._procs.values())
            for proc in procs:
                try:
                    proc.stdin.write("stop\n")
                    proc.stdin.flush()
                except (OSError, ValueError):
                    pass
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except Exception:
                proc.kill()
                proc.wait(2)
        self._procs.clear()
        self._busy.clear()


# -- in this process -----------------------------------------------------------------------------
class InlineExecutor:
    """One run at a time on a thread of this process: what ``run --wait`` uses when no
    scheduler serves the catalog and there is one run to execute. No worker process (its
    interpreter, imports and pre-started kernels), and the kernel starts at once, while the
    run is being claimed. A run still executing at ``shutdown`` goes back to the queue (its
    kernel is killed), as with worker processes."""

    kind = "inline"

    def __init__(
        self,
        workspace,
        *,
        lease_seconds: float = 30.0,
        kernel_name: str | None = "python3",
        scheduler_id: str | None = None,
    ) -> None:
        self.workspace = workspace
        self.lease_seconds = lease_seconds
        self.id = scheduler_id or uuid.uuid4().hex[:8]
        self.slot = f"{os.uname().nodename}:{self.id}:inline"
        self._lock = threading.Lock()
        self._busy: dict[str, str] = {}
        self._done: list[Outcome] = []
        self._thread: threading.Thread | None = None
        self._km: Any = None
        self._kernel_thread: threading.Thread | None = None
        self.on_event: Callable[[], None] | None = None
        if kernel_name:
            self._kernel_thread = threading.Thread(
                target=self._start_kernel,
                args=(kernel_name,),
                name="mlinfra-inline-kernel",
                daemon=True,
            )
            self._kernel_thread.start()

    def _start_kernel(self, kernel_name: str) -> None:
        # forked from a kernel template (jobs_fork_kernels) that stays up in this process:
        # the next run waited for here gets its kernel by a fork, not a new interpreter
        from .kernels import start_run_kernel

        try:
            self._km = start_run_kernel(self.workspace, kernel_name)
        except Exception as exc:  # e.g. no such kernel: the run starts (and reports) it
            log.debug("inline executor: cannot pre-start kernel %s: %s", kernel_name, exc)
            self._km = None

    def _take_kernel(self):
        t, self._kernel_thread = self._kernel_thread, None
        if t is not None:
            t.join()
        km, self._km = self._km, None
        return km

    def free_slots(self) -> list[str]:
        with self._lock:
            return [] if self._busy else [self.slot]

    def submit(self, slot: str, run_id: str) -> None:
        with self._lock:
            self._busy[slot] = run_id
        self._thread = threading.Thread(
            target=self._execute, args=(slot, run_id), name=f"mlinfra-run-{run_id[:8]}", daemon=True
        )
        self._thread.start()

    def _execute(self, slot: str, run_id: str) -> None:
        from . import execution

        try:
            km = self._take_kernel()
            state, detail = (
                execution.execute_run(
                    self.workspace,
                    run_id,
                    slot,
                    kernel_manager=km,
                    lease_seconds=self.lease_seconds,
                ),
                "",
            )
        except Exception as exc:  # never lose the run silently
            log.exception("run %s", run_id)
            state, detail = "lost", f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._busy.pop(slot, None)
            self._done.append(Outcome(run_id, slot, state, detail))
        _notify(self)

    def in_flight(self) -> dict[str, str]:
        with self._lock:
            return dict(self._busy)

    def poll(self) -> list[Outcome]:
        with self._lock:
            done, self._done = self._done, []
        return done

    def describe(self) -> dict:
        return {"kind": self.kind, "workers": 1, "busy": len(self._busy)}

    def shutdown(self, timeout: float = 10.0) -> None:
        from .states import put_back_held

        with self._lock:
            held = dict(self._busy)
        # back in the queue first: the run's own writes are conditional on owning it, so its
        # attempt ends as "lost" (not failed) when its kernel is killed below
        put_back_held(self.workspace.catalog, held, "the waiting process stopped")
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout)
        from .kernels import kill_kernel

        kill_kernel(self._take_kernel())


def _notify(executor) -> None:
    callback = executor.on_event
    if callback is not None:
        callback()


# -- no-op ------------------------------------------------------------------------------------
class NoopExecutor:
    """Completes every run instantly as succeeded, without a kernel (dispatch benchmark)."""

    kind = "noop"

    def __init__(
        self,
        workspace,
        slots: int = 1_000_000,
        *,
        lease_seconds: float = 0.0,
        scheduler_id: str | None = None,
    ) -> None:
        self.workspace = workspace
        self.slots = slots
        self._pending: list[tuple[str, str]] = []
        self._n = 0

    def free_slots(self) -> list[str]:
        return _NoopSlots(self, self.slots - len(self._pending))

    def submit(self, slot: str, run_id: str) -> None:
        self._pending.append((slot, run_id))

    def in_flight(self) -> dict[str, str]:
        return dict(self._pending)

    def poll(self) -> list[Outcome]:
        if not self._pending:
            return []
        from sqlalchemy import update

        from ..catalog.schema import utcnow
        from .tables import Run

        done, self._pending = self._pending, []
        ids = [r for _, r in done]
        with self.workspace.catalog.session() as s:
            for start in range(0, len(ids), 500):
                s.execute(
                    update(Run)
                    .where(Run.id.in_(ids[start : start + 500]), Run.state == "running")
                    .values(state="succeeded", finished_at=utcnow(), lease_expires_at=None)
                )
        return [Outcome(r, slot, "succeeded") for slot, r in done]

    def describe(self) -> dict:
        return {"kind": self.kind, "busy": len(self._pending)}

    def shutdown(self, timeout: float = 0) -> None:
        self._pending.clear()


class _NoopSlots(list):
    """A lazily named list of free slots (a million names would be wasteful)."""

    def __init__(self, executor: NoopExecutor, n: int) -> None:
        super().__init__()
        self._n = max(0, n)
        self._ex = executor

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n > 0

    def __iter__(self):
        for i in range(self._n):
            yield f"noop-{i}"


# -- the registry -----------------------------------------------------------------------------
# kind -> factory(workspace, *, lease_seconds, scheduler_id=None, **options) -> an executor
# (the interface at the top of this module). Third parties add kinds by entry point, in the
# group ENTRY_POINT_GROUP (``mykind = mypackage.executors:MyExecutor``), as papermill's
# engines do; ``jobs_executor = "mykind"`` (or ``jupyter mlinfra scheduler --executor
# mykind``) then uses it. A kind registered here wins over an entry point of the same name.
ENTRY_POINT_GROUP = "jupyter_mlinfra.executors"
EXECUTORS: dict[str, Callable[..., Any]] = {}


def register_executor(kind: str, factory: Callable[..., Any]) -> None:
    EXECUTORS[kind.lower()] = factory


def _local(workspace, **options: Any):
    settings = workspace.config.settings
    return LocalExecutor(workspace, options.pop("workers", settings.jobs_workers), **options)


def _dask(workspace, **options: Any):
    from .dask_executor import DaskExecutor

    settings = workspace.config.settings
    return DaskExecutor(
        workspace,
        options.pop("address", settings.jobs_dask_address),
        max_workers=options.pop("max_workers", settings.jobs_dask_max_workers),
        **options,
    )


register_executor("local", _local)
register_executor("dask", _dask)
register_executor("inline", InlineExecutor)
register_executor("noop", NoopExecutor)


def executor_kinds() -> list[str]:
    """The kinds registered here and those installed packages declare by entry point."""
    from importlib.metadata import entry_points

    return sorted(
        set(EXECUTORS) | {ep.name.lower() for ep in entry_points(group=ENTRY_POINT_GROUP)}
    )


def executor_factory(kind: str) -> Callable[..., Any]:
    """The factory of ``kind``: registered here, else loaded from its entry point."""
    kind = kind.lower()
    if kind in EXECUTORS:
        return EXECUTORS[kind]
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name.lower() == kind:
            from ..errors import ConfigurationError

            try:
                factory = ep.load()
            except Exception as exc:
                raise ConfigurationError(
                    f"jobs executor {kind!r} ({ep.value}) cannot be "
                    f"loaded: {type(exc).__name__}: {exc}"
                ) from exc
            EXECUTORS[kind] = factory
            return factory
    from ..errors import ConfigurationError

    raise ConfigurationError(
        f"unknown jobs executor {kind!r}: choose from {', '.join(executor_kinds())}"
    )


def build_executor(workspace, kind: str | None = None, **kwargs: Any):
    """The executor of ``kind`` (default: the ``jobs_executor`` setting); ``kwargs`` go to
    its factory (``lease_seconds`` defaults to ``jobs_lease_seconds``)."""
    settings = workspace.config.settings
    factory = executor_factory(kind or settings.jobs_executor or "local")
    kwargs.setdefault("lease_seconds", settings.jobs_lease_seconds)
    return factory(workspace, **kwargs)
