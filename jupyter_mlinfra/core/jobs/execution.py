"""One attempt of one run, as a worker executes it (local worker process or Dask task).

The worker owns the attempt while the catalog says ``state=running, worker=<it>,
attempt=<n>``; every write it makes is conditional on that, so a worker that lost its lease
(and whose run was recovered elsewhere) cannot overwrite the newer attempt.

While the notebook runs, a monitor thread renews the lease, flushes the log stream, and kills
the kernel's process group on cancellation or time-out.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from ..catalog.schema import utcnow
from ..distributions import installed_distributions, runtime
from ..identity import Identity
from ..kernel_protocol import EXTENSION_MODULE
from ..process_env import workspace_environment
from .states import RunState, end_attempt
from .tables import Run, RunLogLine

DEFAULT_KERNEL = "python3"
PUBLISH_EVERY = 0.5   # seconds between two publications of a run's progress and output


def capture_environment() -> dict:
    """Python, platform and the versions of the installed distributions."""
    return {**runtime(), "packages": installed_distributions()}


def run_env(workspace, run: Run) -> dict[str, str]:
    """Variables set in the run's kernel: its id, and the same catalog and artifact store."""
    cfg = workspace.config
    env = {"MLINFRA_RUN_ID": run.id, **workspace_environment(cfg, user=run.owner)}
    if run.job_id:
        env["MLINFRA_JOB_ID"] = run.job_id
    # the owner's team as recorded on the run (the groups it was submitted with) and the
    # teams and roles this process's configuration gives the owner, so the run reads and
    # changes what its owner may, even where the kernel cannot see the server's configuration
    owner = Identity.resolve(cfg.settings, run.owner)
    teams = list(dict.fromkeys(t for t in (run.team, *owner.teams) if t))
    env["MLINFRA_TEAMS"] = json.dumps({run.owner: teams} if teams else {})
    env["MLINFRA_ROLES"] = json.dumps({run.owner: sorted(owner.roles)} if owner.roles else {})
    return env


def kernel_name_for(run: Run, nb) -> str:
    return (run.kernel_name or nb.metadata.get("kernelspec", {}).get("name")
            or DEFAULT_KERNEL)


def ensure_kernel_metadata(nb, kernel_name: str) -> None:
    """papermill needs a kernelspec and a language in the notebook's metadata."""
    meta = nb.metadata
    meta.setdefault("kernelspec", {"name": kernel_name, "display_name": kernel_name,
                                   "language": "python"})
    meta.setdefault("language_info", {"name": meta["kernelspec"].get("language", "python")})


def _run_coro(value):
    """Run a coroutine to completion in a private event loop (no loop runs here)."""
    import asyncio
    import inspect

    if inspect.isawaitable(value):
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(value)
        finally:
            loop.close()
    return value


def start_kernel(kernel_name: str = DEFAULT_KERNEL, cwd: str | None = None, *,
                 fork: bool = False):
    """A started kernel in an AsyncKernelManager: nbclient then polls it without blocking
    its loop, so a killed kernel ends the run at once (DeadKernelError). With ``fork``, an
    ipykernel kernel is forked from a template process that has already imported it (see
    ``forked_kernel.py``) instead of starting a new interpreter."""
    import uuid

    from jupyter_client import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir

    # IPC sockets in the runtime folder, not TCP ports: kernels started at the same moment
    # by several workers cannot race for the same free port (and nothing listens on TCP).
    runtime = Path(jupyter_runtime_dir())
    runtime.mkdir(parents=True, exist_ok=True)
    connection_file = str(runtime / f"mlinfra-kernel-{uuid.uuid4().hex[:12]}.json")
    km = AsyncKernelManager(kernel_name=kernel_name, transport="ipc",
                            connection_file=connection_file)
    if fork:
        from .forked_kernel import PROVISIONER_NAME, forkable

        spec = km.kernel_spec
        if forkable(spec.argv):
            spec.metadata = {**spec.metadata,
                             "kernel_provisioner": {"provisioner_name": PROVISIONER_NAME}}
    _run_coro(km.start_kernel(**({"cwd": cwd} if cwd else {})))
    return km


def start_run_kernel(workspace, kernel_name: str):
    """A job run's kernel: forked from a template unless ``jobs_fork_kernels`` is off."""
    return start_kernel(kernel_name, fork=bool(workspace.config.settings.jobs_fork_kernels))


WARM_UP_CODE = f"import {EXTENSION_MODULE}"


def warm_up_kernel(km, code: str = WARM_UP_CODE, timeout: float = 120.0) -> bool:
    """Import what every run's set-up needs (the jupyter_mlinfra IPython extension) in a
    pre-started kernel, silently, so the run does not pay for it. True when it worked."""
    import asyncio

    async def go() -> bool:
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=timeout)
            reply = await kc.execute_interactive(code, silent=True, store_history=False,
                                                 timeout=timeout)
            return reply.get("content", {}).get("status") == "ok"
        finally:
            kc.stop_channels()

    try:
        return bool(_run_coro(asyncio.wait_for(go(), timeout)))
    except Exception:
        return False


def kill_kernel_processes(km) -> None:
    """SIGKILL the kernel's process group (the kernel and every process it started).
    Safe from any thread: it touches no kernel-manager state."""
    if km is None:
        return
    prov = getattr(km, "provisioner", None)
    pgid = getattr(prov, "pgid", None)
    proc = getattr(prov, "process", None)
    try:
        if pgid and hasattr(os, "killpg"):
            os.killpg(pgid, signal.SIGKILL)
        elif proc is not None:
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass


def remove_connection_files(km) -> None:
    """The kernel's connection file and IPC sockets (``<file>-ipc-<n>``)."""
    import glob

    connection_file = getattr(km, "connection_file", "") or ""
    if not connection_file:
        return
    stem = os.path.splitext(connection_file)[0]
    for path in [connection_file, *glob.glob(glob.escape(stem) + "-ipc-*")]:
        try:
            os.unlink(path)
        except OSError:
            pass


def kill_kernel(km) -> None:
    """Kill the kernel and everything it started, and release the manager's resources."""
    if km is None:
        return
    kill_kernel_processes(km)
    try:
        _run_coro(km.shutdown_kernel(now=True))
    except Exception:
        pass
    try:
        _run_coro(km.cleanup_resources())
    except Exception:
        pass
    remove_connection_files(km)


_NOISE = ("Executing notebook with kernel", "Input Notebook:", "Output Notebook:",
          "Executing Cell", "Ending Cell", "Executing:", "Kernel is running over TCP")


class _LogCapture(logging.Handler):
    """Collects papermill's cell output log lines for the run's log stream, and calls
    ``on_first_cell()`` once, when papermill starts the notebook's first cell (its
    "Executing Cell 1" record, logged before the cell is sent to the kernel)."""

    def __init__(self, on_first_cell=None) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[str, str]] = []
        self._buf_lock = threading.Lock()
        self._on_first_cell = on_first_cell
        self._thread = threading.get_ident()    # the one that executes the notebook

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            return
        if self._on_first_cell is not None and text.startswith("Executing Cell") and \
                record.thread == self._thread:
            first, self._on_first_cell = self._on_first_cell, None
            try:
                first()
            except Exception as exc:
                logging.getLogger(__name__).warning("first cell mark: %s", exc)
        if not text.strip() or text.startswith(_NOISE):
            return
        stream = "stderr" if record.levelno >= logging.WARNING else "stdout"
        with self._buf_lock:
            self.lines.append((stream, text.rstrip("\n")))

    def add(self, stream: str, text: str) -> None:
        with self._buf_lock:
            self.lines.append((stream, text))

    def drain(self) -> list[tuple[str, str]]:
        with self._buf_lock:
            lines, self.lines = self.lines, []
        return lines


def _owned(stmt, run_id: str, worker: str, attempt: int):
    return stmt.where(Run.id == run_id, Run.worker == worker, Run.attempt == attempt,
                      Run.state == RunState.RUNNING.value)


def _notebook_text(nb) -> str:
    parts: list[str] = []
    for cell in nb.cells:
        parts.append(cell.get("source", ""))
        for out in cell.get("outputs", []) or []:
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif out.get("output_type") in ("execute_result", "display_data"):
                parts.append(str(out.get("data", {}).get("text/plain", "")))
            elif out.get("output_type") == "error":
                parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    text = "\n".join(parts)
    return text[:200_000]


def execute_run(workspace, run_id: str, worker: str, kernel_manager: Any = None,
                lease_seconds: float = 30.0) -> str:
    """Execute the current attempt of ``run_id`` claimed by ``worker``; returns the state it
    ended in (or "lost" when the run is no longer this worker's)."""
    import nbformat

    catalog = workspace.catalog
    with catalog.read_session() as s:
        run = s.get(Run, run_id)
        if run is None or run.state != RunState.RUNNING.value or run.worker != worker:
            kill_kernel(kernel_manager)
            return "lost"
        attempt = run.attempt
        snapshot_key, cwd, timeout = run.snapshot_key, run.cwd, run.timeout
        parameters = dict(run.parameters or {})
        env = run_env(workspace, run)
        notebook, owner = run.notebook, run.owner
        nb = nbformat.reads(workspace.artifacts.get(snapshot_key).decode(), as_version=4)
        kernel_name = kernel_name_for(run, nb)
    ensure_kernel_metadata(nb, kernel_name)
    output_key = f"runs/{run_id}/output.ipynb"
    code_cells = sum(1 for c in nb.cells if c.cell_type == "code")
    with catalog.session() as s:
        s.execute(_owned(update(Run), run_id, worker, attempt).values(
            environment={**capture_environment(), "kernel_name": kernel_name},
            output_key=output_key, started_at=utcnow(),
            progress={"executed": 0, "code_cells": code_cells}))

    def mark_first_cell() -> None:
        # From here on a lost worker costs the attempt (see states.cells_started): the
        # notebook's code may have run. Before it, a lost run is put back as it was.
        with catalog.session() as s:
            s.execute(_owned(update(Run), run_id, worker, attempt).values(
                progress={"executed": 0, "code_cells": code_cells, "cell_started": True}))

    capture = _LogCapture(on_first_cell=mark_first_cell)
    capture.add("log", f"attempt {attempt} on {worker}: {notebook} with "
                       f"{parameters or 'no parameters'}")
    pm_logger = logging.getLogger("papermill")
    pm_logger.addHandler(capture)
    if pm_logger.level == logging.NOTSET or pm_logger.level > logging.INFO:
        pm_logger.setLevel(logging.INFO)
    pm_logger.propagate = False

    tmp = tempfile.mkdtemp(prefix=f"mlinfra-run-{run_id[:8]}-")
    output_path = Path(tmp) / "output.ipynb"
    stop = threading.Event()
    reason: dict[str, str] = {}
    km_box: dict[str, Any] = {"km": kernel_manager}
    started = time.monotonic()
    lost = threading.Event()

    def flush_log() -> None:
        lines = capture.drain()
        if not lines:
            return
        now = utcnow()
        with catalog.session() as s:
            s.add_all([RunLogLine(run_id=run_id, at=now, stream=stream, text=text)
                       for stream, text in lines])

    def upload_output(while_running: bool = False) -> bool:
        try:
            data = output_path.read_bytes()
        except OSError:
            return False
        if while_running:
            # papermill rewrites the file in place: a read that met a write in progress is
            # not a notebook, and is left for the next publication
            try:
                json.loads(data)
            except ValueError:
                return False
        workspace.artifacts.put(output_key, data, metadata={"run_id": run_id,
                                                            "attempt": attempt})
        return True

    # Cell progress and the partial output notebook are published at most every
    # PUBLISH_EVERY seconds (a notebook of many quick cells is not uploaded once per cell);
    # the monitor publishes what a quick cell left pending, and the end publishes the rest.
    pending: dict[str, Any] = {}
    published = {"at": 0.0}
    publish_lock = threading.Lock()

    def publish(upload: bool = True) -> None:
        with publish_lock:
            progress = pending.get("progress")
            if progress is None or (upload and not upload_output(while_running=True)):
                return
            del pending["progress"]        # (on_cell sets it under the same lock)
            published["at"] = time.monotonic()
            with catalog.session() as s:
                s.execute(_owned(update(Run), run_id, worker, attempt).values(
                    progress=progress))

    def monitor() -> None:
        last_renew = 0.0
        while not stop.wait(0.25):
            try:
                flush_log()
                if pending and time.monotonic() - published["at"] >= PUBLISH_EVERY:
                    publish()
                now_m = time.monotonic()
                if timeout and now_m - started > timeout and "why" not in reason:
                    reason["why"] = RunState.TIMED_OUT.value
                    capture.add("log", f"timed out after {timeout:g} s: killing the kernel")
                    kill_kernel_processes(km_box["km"])
                with catalog.read_session() as s:
                    row = s.execute(select(Run.cancel_requested, Run.state, Run.worker,
                                           Run.attempt).where(Run.id == run_id)).first()
                if row is None or row.worker != worker or row.attempt != attempt or \
                        row.state != RunState.RUNNING.value:
                    reason.setdefault("why", "lost")
                    lost.set()
                    kill_kernel_processes(km_box["km"])
                    return
                if row.cancel_requested and "why" not in reason:
                    reason["why"] = RunState.CANCELLED.value
                    capture.add("log", "cancellation requested: killing the kernel")
                    kill_kernel_processes(km_box["km"])
                if now_m - last_renew > lease_seconds / 3:
                    with catalog.session() as s:
                        s.execute(_owned(update(Run), run_id, worker, attempt).values(
                            lease_expires_at=utcnow() + timedelta(seconds=lease_seconds)))
                    last_renew = now_m
            except Exception as exc:  # a catalog hiccup must not kill the monitor
                logging.getLogger(__name__).warning("run %s monitor: %s", run_id, exc)

    def on_cell(progress) -> None:
        status = "ok" if progress.status == "ok" else "error"
        capture.add("log", f"cell {progress.executed}/{progress.code_cells} "
                           f"[{progress.cell_id}] {status} in {progress.duration:.2f} s")
        with publish_lock:
            pending["progress"] = {
                "executed": progress.executed, "code_cells": progress.code_cells,
                "cell_index": progress.index, "cell_id": progress.cell_id,
                "cell_status": progress.status}
        if time.monotonic() - published["at"] >= PUBLISH_EVERY:
            publish()

    thread = threading.Thread(target=monitor, name=f"mlinfra-run-{run_id[:8]}", daemon=True)
    error: dict | None = None
    state = RunState.SUCCEEDED.value
    try:
        if km_box["km"] is None or getattr(km_box["km"], "kernel_name", None) != kernel_name:
            kill_kernel(km_box["km"])
            km_box["km"] = start_run_kernel(workspace, kernel_name)
        thread.start()
        from ..notebook_execution import execute_notebook

        result_nb = execute_notebook(
            nb, output_path, parameters=parameters or None, kernel_name=kernel_name,
            cwd=cwd if Path(cwd).is_dir() else None, env=env, notebook_path=notebook,
            record_provenance=bool(workspace.config.settings.jobs_record_provenance),
            on_cell=on_cell, kernel_manager=km_box["km"],
            provenance_sink=lambda executions: workspace.service("provenance").record(
                executions, owner=owner),
            log_output=True)
    except Exception as exc:
        result_nb = None
        error = describe_error(exc, output_path)
        state = RunState.FAILED.value
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(5)
        kill_kernel(km_box["km"])
        pm_logger.removeHandler(capture)
    why = reason.get("why")
    if why == RunState.CANCELLED.value:
        state, error = why, {"type": "Cancelled", "message": "cancelled while running; the "
                             "kernel and its children were killed", **_cell(error)}
    elif why == RunState.TIMED_OUT.value:
        state, error = why, {"type": "TimeoutError", "message": f"run exceeded its timeout of "
                             f"{timeout:g} s; the kernel and its children were killed",
                             **_cell(error)}
    if error:
        capture.add("stderr", f"{error.get('type')}: {error.get('message')}")
    capture.add("log", f"attempt {attempt} ended: {state} after "
                       f"{time.monotonic() - started:.2f} s")
    try:
        publish(upload=False)     # the last cell's progress; the output follows
    except Exception as exc:
        logging.getLogger(__name__).warning("run %s progress: %s", run_id, exc)
    upload_output()
    text = ""
    try:
        text = _notebook_text(result_nb or nbformat.read(output_path, as_version=4))
    except Exception:
        pass
    try:
        flush_log()
    except Exception:
        pass
    if lost.is_set() or why == "lost":
        _cleanup(tmp)
        return "lost"
    with catalog.session() as s:
        run = s.execute(_owned(select(Run), run_id, worker, attempt)
                        .with_for_update()).scalar_one_or_none()
        if run is None:
            _cleanup(tmp)
            return "lost"
        run.output_text = text
        final = end_attempt(run, state, error)
        if final == RunState.QUEUED.value:
            s.add(RunLogLine(run_id=run_id, at=utcnow(), stream="log",
                             text=f"retrying: attempt {run.attempt} of {run.retries + 1} "
                                  f"not before {run.not_before.isoformat()}"))
    _cleanup(tmp)
    return final


def _cell(error: dict | None) -> dict:
    if not error:
        return {}
    return {k: error[k] for k in ("cell_index", "cell_id", "execution_count") if k in error}


def describe_error(exc: BaseException, output_path: Path) -> dict:
    """Exception type, message and the failing cell (index, id, source) when known."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        err = {"type": exc.ename, "message": exc.evalue, "cell_index": exc.cell_index,
               "execution_count": exc.exec_count,
               "traceback": _strip_ansi("\n".join(exc.traceback or []))[-8000:]}
        try:
            import nbformat

            nb = nbformat.read(output_path, as_version=4)
            # papermill puts an error banner first: find the cell by its error output
            for cell in nb.cells:
                if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                    err["cell_id"] = cell.get("id")
                    err["cell_source"] = cell.get("source", "")[:4000]
                    break
        except Exception:
            pass
        return err
    name = type(exc).__name__
    message = str(exc) or name
    if name == "DeadKernelError":
        message = f"the kernel died: {message}"
    return {"type": name, "message": message[:4000]}


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def _cleanup(folder: str) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
