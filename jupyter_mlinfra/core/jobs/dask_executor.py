"""The Dask executor: runs as tasks on a ``distributed`` cluster (kind ``dask``)."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from ..process_env import open_workspace
from .executors import Outcome, _notify, config_environment

log = logging.getLogger(__name__)


def _dask_task(env: dict[str, str], run_id: str, slot: str, lease_seconds: float) -> str:
    workspace = open_workspace(env)
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

    def __init__(
        self,
        workspace,
        address: str | None = None,
        *,
        cluster: Any = None,
        max_workers: int = 0,
        min_workers: int = 0,
        lease_seconds: float = 30.0,
        scheduler_id: str | None = None,
    ) -> None:
        from distributed import Client

        self.workspace = workspace
        self.lease_seconds = lease_seconds
        self.id = scheduler_id or uuid.uuid4().hex[:8]
        self._own_cluster = False
        if cluster is None and address in ("local", "", None):
            from distributed import LocalCluster

            cluster = LocalCluster(
                n_workers=min_workers or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
            )
            self._own_cluster = True
        self.cluster = cluster
        self.client = Client(cluster if cluster is not None else address, set_as_default=False)
        self.max_workers = int(max_workers or 0)
        if cluster is not None and self.max_workers:
            # A notebook run takes seconds, not Dask's default half-second guess: one worker
            # per queued run, and idle workers handed back after a few seconds.
            import dask

            dask.config.set(
                {"distributed.scheduler.default-task-durations": {"mlinfra-run": "30s"}}
            )
            cluster.adapt(
                minimum=min_workers,
                maximum=self.max_workers,
                target_duration="1s",
                interval="500ms",
                wait_count=6,
            )
        self._futures: dict[str, Any] = {}  # slot -> future
        self._runs: dict[str, str] = {}  # slot -> run id
        self._lock = threading.Lock()
        self.on_event: Callable[[], None] | None = None  # set by the scheduler: a run ended
        self._env = config_environment(workspace)

    def capacity(self) -> int:
        info = self.client.scheduler_info()
        threads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())
        if self.max_workers:
            per = max((w.get("nthreads", 1) for w in info.get("workers", {}).values()), default=1)
            threads = max(threads, self.max_workers * per)
        return max(threads, 1)

    def free_slots(self) -> list[str]:
        with self._lock:
            free = self.capacity() - len(self._futures)
        return [f"dask:{self.id}:{uuid.uuid4().hex[:8]}" for _ in range(max(0, free))]

    def submit(self, slot: str, run_id: str) -> None:
        future = self.client.submit(
            _dask_task,
            self._env,
            run_id,
            slot,
            self.lease_seconds,
            key=f"mlinfra-run-{run_id}-{slot.rsplit(':', 1)[-1]}",
            pure=False,
        )
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
                if future.status == "finished":  # the run wrote its final state itself
                    out.append(Outcome(run_id, slot, "finished"))
                else:  # the task raised or was cancelled
                    exc = future.exception() if future.status == "error" else None
                    out.append(
                        Outcome(
                            run_id,
                            slot,
                            "lost",
                            f"{type(exc).__name__}: {exc}"
                            if exc is not None
                            else f"the Dask task was {future.status}",
                        )
                    )
        return out

    def describe(self) -> dict:
        info = self.client.scheduler_info()
        scheduler = self.client.scheduler  # None only before the client connects
        return {
            "kind": self.kind,
            "address": scheduler.address if scheduler else None,
            "workers": len(info.get("workers", {})),
            "busy": len(self._futures),
            "adaptive_max": self.max_workers,
        }

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
