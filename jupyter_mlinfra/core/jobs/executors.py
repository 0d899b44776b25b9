"""Executors: where a claimed run executes.

- :class:`LocalExecutor` (default): worker processes that stay up; each imports papermill
  once and starts the next kernel while the current run executes.
- :class:`DaskExecutor`: runs are Dask tasks on a ``distributed`` cluster (by address, or a
  cluster object); adaptive scaling when the cluster supports it.
- :class:`NoopExecutor`: marks runs succeeded without executing anything (dispatch
  benchmarks and scheduler tests).

The interface the scheduler uses: ``free_slots()`` (names of idle slots), ``submit(slot,
run_id)``, ``poll()`` (finished or lost runs), ``in_flight()``, ``shutdown()``.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    run_id: str
    slot: str
    state: str          # the state the worker reported ("finished" from Dask), or "lost"
    detail: str = ""


def config_environment(workspace) -> dict[str, str]:
    """The MLINFRA_* variables that make another process open the same workspace."""
    cfg = workspace.config
    env = {"MLINFRA_HOME": str(cfg.home), "MLINFRA_CATALOG_URL": cfg.catalog_url,
           "MLINFRA_ARTIFACT_ROOT": cfg.artifact_root}
    if cfg.s3_endpoint_url:
        env["MLINFRA_S3_ENDPOINT_URL"] = cfg.s3_endpoint_url
    if cfg.settings.root_dir:
        env["MLINFRA_ROOT_DIR"] = cfg.settings.root_dir
    env["MLINFRA_JOBS_RECORD_PROVENANCE"] = "true" if cfg.settings.jobs_record_provenance \
        else "false"
    return env


def _open_workspace(env: dict[str, str]):
    os.environ.update(env)
    from ..config import resolve_config
    from ..workspace import Workspace

    return Workspace(resolve_config())


# -- local worker processes -------------------------------------------------------------------
class LocalExecutor:
    """``workers`` processes on this machine (``python -m jupyter_mlinfra.core.jobs.worker``),
    started lazily on the first run. Each runs one run at a time with the next kernel already
    warm; a worker whose scheduler disappears (even by SIGKILL) kills its kernels and exits."""

    kind = "local"

    def __init__(self, workspace, workers: int = 2, *, lease_seconds: float = 30.0,
                 kernel_name: str = "python3", prestart: bool = True,
                 scheduler_id: str | None = None) -> None:
        self.workspace = workspace
        self.workers = max(1, int(workers))
        self.lease_seconds = lease_seconds
        self.kernel_name = kernel_name
        self.prestart = prestart
        self.id = scheduler_id or uuid.uuid4().hex[:8]
        self._procs: dict[str, Any] = {}
        self._results: queue.Queue = queue.Queue()
        self._busy: dict[str, str] = {}     # slot -> run id
        self._lock = threading.Lock()
        self.on_event: Callable[[], None] | None = None   # set by the scheduler: a run ended

    def _slot_name(self, i: int) -> str:
        return f"{os.uname().nodename}:{self.id}:local-{i}"

    def _spawn(self, slot: str):
        import subprocess
        import sys

        env = {**os.environ, **config_environment(self.workspace)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_mlinfra.core.jobs.worker", "--slot", slot,
             "--parent", str(os.getpid()), "--lease", str(self.lease_seconds),
             "--kernel", self.kernel_name] + ([] if self.prestart else ["--no-prestart"]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True, bufsize=1)

        def read() -> None:
            for line in proc.stdout:
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                self._results.put((slot, msg))
                _notify(self)
            _notify(self)    # the worker process exited

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
            return [self._slot_name(i) for i in range(self.workers)
                    if self._slot_name(i) not in self._busy]

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
                out.append(Outcome(msg["run_id"], slot, msg.get("state", "lost"),
                                   msg.get("detail", "")))
        with self._lock:
            for slot, proc in list(self._procs.items()):
                if proc.poll() is not None:
                    run_id = self._busy.pop(slot, None)
                    if run_id:
                        out.append(Outcome(run_id, slot, "lost",
                                           f"worker process exited with {proc.returncode}"))
                    del self._procs[slot]
        return out

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs.values()]

    def describe(self) -> dict:
        return {"kind": self.kind, "workers": self.workers,
                "alive": sum(1 for p in self._procs.values() if p.poll() is None),
                "busy": len(self._busy)}

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

    def __init__(self, workspace, *, lease_seconds: float = 30.0,
                 kernel_name: str | None = "python3", scheduler_id: str | None = None) -> None:
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
                target=self._start_kernel, args=(kernel_name,), name="mlinfra-inline-kernel",
                daemon=True)
            self._kernel_thread.start()

    def _start_kernel(self, kernel_name: str) -> None:
        # forked from a kernel template (jobs_fork_kernels) that stays up in this process:
        # the next run waited for here gets its kernel by a fork, not a new interpreter
        from .execution import start_run_kernel

        try:
            self._km = start_run_kernel(self.workspace, kernel_name)
        except Exception as exc:   # e.g. no such kernel: the run starts (and reports) it
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
        self._thread = threading.Thread(target=self._execute, args=(slot, run_id),
                                        name=f"mlinfra-run-{run_id[:8]}", daemon=True)
        self._thread.start()

    def _execute(self, slot: str, run_id: str) -> None:
        from . import execution

        try:
            km = self._take_kernel()
            state, detail = execution.execute_run(self.workspace, run_id, slot,
                                                  kernel_manager=km,
                                                  lease_seconds=self.lease_seconds), ""
        except Exception as exc:   # never lose the run silently
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
        from sqlalchemy import update

        from ..catalog.schema import utcnow
        from .states import RunState
        from .tables import Run, RunLogLine

        with self._lock:
            held = dict(self._busy)
        if held:
            # back in the queue first: the run's own writes are conditional on owning it,
            # so its attempt ends as "lost" (not failed) when its kernel is killed below
            with self.workspace.catalog.session() as s:
                for slot, run_id in held.items():
                    done = s.execute(update(Run).where(
                        Run.id == run_id, Run.worker == slot,
                        Run.state == RunState.RUNNING.value).values(
                            state=RunState.QUEUED.value, worker=None, lease_expires_at=None,
                            started_at=None, progress={}, queued_at=utcnow()))
                    if done.rowcount == 1:
                        s.add(RunLogLine(run_id=run_id, at=utcnow(), stream="log",
                                         text="the waiting process stopped: run put back "
                                              "in the queue"))
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout)
        from .execution import kill_kernel

        kill_kernel(self._take_kernel())


# -- Dask -------------------------------------------------------------------------------------
def _dask_task(env: dict[str, str], run_id: str, slot: str, lease_seconds: float) -> str:
    workspace = _open_workspace(env)
    from . import execution

    try:
        return execution.execute_run(workspace, run_id, slot, lease_seconds=lease_seconds)
    finally:
        workspace.close()


class DaskExecutor:
    """Runs as tasks on a Dask ``distributed`` cluster.

    ``address`` is a scheduler address (``tcp://host:8786``) or ``"local"`` for a
    LocalCluster started here; ``cluster`` an existing cluster object. With a cluster object
    (local or a deployment manager such as dask-kubernetes), ``adapt(minimum, maximum)`` lets
    it grow with the queue and shrink when idle; capacity is then ``maximum`` workers' threads.
    """

    kind = "dask"

    def __init__(self, workspace, address: str | None = None, *, cluster: Any = None,
                 max_workers: int = 0, min_workers: int = 0, lease_seconds: float = 30.0,
                 scheduler_id: str | None = None) -> None:
        from distributed import Client

        self.workspace = workspace
        self.lease_seconds = lease_seconds
        self.id = scheduler_id or uuid.uuid4().hex[:8]
        self._own_cluster = False
        if cluster is None and address in ("local", "", None):
            from distributed import LocalCluster

            cluster = LocalCluster(n_workers=min_workers or 1, threads_per_worker=1,
                                   processes=True, dashboard_address=":0")
            self._own_cluster = True
        self.cluster = cluster
        self.client = Client(cluster if cluster is not None else address,
                             set_as_default=False)
        self.max_workers = int(max_workers or 0)
        if cluster is not None and self.max_workers:
            # A notebook run takes seconds, not Dask's default half-second guess: one worker
            # per queued run, and idle workers handed back after a few seconds.
            import dask

            dask.config.set({"distributed.scheduler.default-task-durations":
                             {"mlinfra-run": "30s"}})
            cluster.adapt(minimum=min_workers, maximum=self.max_workers,
                          target_duration="1s", interval="500ms", wait_count=6)
        self._futures: dict[str, Any] = {}     # slot -> future
        self._runs: dict[str, str] = {}        # slot -> run id
        self._lock = threading.Lock()
        self.on_event: Callable[[], None] | None = None   # set by the scheduler: a run ended
        self._env = config_environment(workspace)

    def capacity(self) -> int:
        info = self.client.scheduler_info()
        threads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())
        if self.max_workers:
            per = max((w.get("nthreads", 1) for w in info.get("workers", {}).values()),
                      default=1)
            threads = max(threads, self.max_workers * per)
        return max(threads, 1)

    def free_slots(self) -> list[str]:
        with self._lock:
            free = self.capacity() - len(self._futures)
        return [f"dask:{self.id}:{uuid.uuid4().hex[:8]}" for _ in range(max(0, free))]

    def submit(self, slot: str, run_id: str) -> None:
        future = self.client.submit(_dask_task, self._env, run_id, slot, self.lease_seconds,
                                    key=f"mlinfra-run-{run_id}-{slot.rsplit(':', 1)[-1]}",
                                    pure=False)
        with self._lock:
            self._futures[slot] = future
            self._runs[slot] = run_id
        future.add_done_callback(lambda _future: _notify(self))

    def in_flight(self) -> dict[str, str]:
        with self._lock:
            return dict(self._runs)

    def poll(self) -> list[Outcome]:
        out: list[Outcome] = []
        with self._lock:
            for slot, future in list(self._futures.items()):
                if not future.done():
                    continue
                run_id = self._runs.pop(slot)
                del self._futures[slot]
                # Read the outcome from the future's local status; never ``result(timeout=0)``:
                # that starts a gather from the worker, gives up at once (every run came back
                # "lost: TimeoutError") and, when the timeout cancels the gather midway, the
                # exception's traceback keeps the future alive: the result is never released,
                # the worker holding it is never retired and the cluster never shrinks to 0.
                if future.status == "finished":   # the run wrote its final state itself
                    out.append(Outcome(run_id, slot, "finished"))
                else:                             # the task raised or was cancelled
                    exc = future.exception() if future.status == "error" else None
                    out.append(Outcome(run_id, slot, "lost",
                                       f"{type(exc).__name__}: {exc}" if exc is not None
                                       else f"the Dask task was {future.status}"))
        return out

    def describe(self) -> dict:
        info = self.client.scheduler_info()
        return {"kind": self.kind, "address": self.client.scheduler.address,
                "workers": len(info.get("workers", {})), "busy": len(self._futures),
                "adaptive_max": self.max_workers}

    def shutdown(self, timeout: float = 10.0) -> None:
        with self._lock:
            futures = list(self._futures.values())
            self._futures.clear()
            self._runs.clear()
        for f in futures:
            f.cancel()
        self.client.close(timeout=timeout)
        if self._own_cluster:
            self.cluster.close()


def _notify(executor) -> None:
    callback = executor.on_event
    if callback is not None:
        callback()


# -- no-op ------------------------------------------------------------------------------------
class NoopExecutor:
    """Completes every run instantly as succeeded, without a kernel (dispatch benchmark)."""

    kind = "noop"

    def __init__(self, workspace, slots: int = 1_000_000) -> None:
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
                s.execute(update(Run).where(Run.id.in_(ids[start:start + 500]),
                                            Run.state == "running")
                          .values(state="succeeded", finished_at=utcnow(),
                                  lease_expires_at=None))
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


def build_executor(workspace, kind: str | None = None, **kwargs: Any):
    settings = workspace.config.settings
    kind = (kind or settings.jobs_executor or "local").lower()
    lease = kwargs.pop("lease_seconds", settings.jobs_lease_seconds)
    if kind == "local":
        return LocalExecutor(workspace, kwargs.pop("workers", settings.jobs_workers),
                             lease_seconds=lease, **kwargs)
    if kind == "dask":
        return DaskExecutor(workspace, kwargs.pop("address", settings.jobs_dask_address),
                            max_workers=kwargs.pop("max_workers",
                                                   settings.jobs_dask_max_workers),
                            lease_seconds=lease, **kwargs)
    if kind == "noop":
        return NoopExecutor(workspace, **kwargs)
    from ..errors import ConfigurationError

    raise ConfigurationError(f"unknown jobs executor {kind!r}: choose local or dask")
