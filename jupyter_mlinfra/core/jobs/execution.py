"""One attempt of one run, as a worker executes it (local worker process, Dask task or a
thread of a waiting process): :class:`RunAttempt`, in named steps.

The worker owns the attempt while the catalog says ``state=running, worker=<it>,
attempt=<n>``; every write it makes is conditional on that (``_owned``), so a worker that
lost its lease (and whose run was recovered elsewhere) cannot overwrite the newer attempt.

1. ``claim``: check the run is still this worker's, read its snapshot, record the start;
2. ``start_kernel``: the pre-started kernel if it is the right one, else a new one;
3. ``execute``: the notebook runs (papermill, :mod:`..notebook_execution`) while
4. ``monitor`` (a thread) flushes the log, renews the lease, and kills the kernel's process
   group on cancellation, time-out or a lost lease;
5. ``on_cell``: per-cell progress, ``publish``-ed with the partial output at most every
   PUBLISH_EVERY seconds (serialised from the notebook in memory: papermill writes the
   output file once, at the end, instead of before and after every cell);
6. ``finish``: the outcome recorded (retried, or final) by :func:`.states.end_attempt`.

Length (over ~500 lines): one class, RunAttempt, whose named steps (claim, start kernel, execute, monitor, publish, finish) share the attempt's state.
"""

from __future__ import annotations

import json
import logging
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
from ..process_env import remote_run_environment, workspace_environment
from .kernels import DEFAULT_KERNEL, kill_kernel, kill_kernel_processes, start_run_kernel
from .states import RunState, end_attempt
from .tables import Run, RunLogLine

log = logging.getLogger(__name__)
PUBLISH_EVERY = 0.5  # seconds between two publications of a run's progress and output
LOST = "lost"  # what an attempt that is no longer its worker's ends in


def capture_environment() -> dict:
    """Python, platform and the versions of the installed distributions."""
    return {**runtime(), "packages": installed_distributions()}


def run_env(workspace, run: Run) -> dict[str, str]:
    """Variables set in the run's kernel: its id, and the same catalog and artifact store;
    with a ``jobs_service_url`` (the central service's scheduler), the service's URL and a
    run token instead (remote mode: no catalog, no storage credentials)."""
    cfg = workspace.config
    if cfg.settings.jobs_service_url:
        env = remote_run_environment(cfg, run_id=run.id, owner=run.owner, timeout=run.timeout)
        if run.job_id:
            env["MLINFRA_JOB_ID"] = run.job_id
        return env
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
    return run.kernel_name or nb.metadata.get("kernelspec", {}).get("name") or DEFAULT_KERNEL


def ensure_kernel_metadata(nb, kernel_name: str) -> None:
    """papermill needs a kernelspec and a language in the notebook's metadata."""
    meta = nb.metadata
    meta.setdefault(
        "kernelspec", {"name": kernel_name, "display_name": kernel_name, "language": "python"}
    )
    meta.setdefault("language_info", {"name": meta["kernelspec"].get("language", "python")})


_NOISE = (
    "Executing notebook with kernel",
    "Input Notebook:",
    "Output Notebook:",
    "Executing Cell",
    "Ending Cell",
    "Executing:",
    "Kernel is running over TCP",
)


class _LogCapture(logging.Handler):
    """Collects papermill's cell output log lines for the run's log stream, and calls
    ``on_first_cell()`` once, when papermill starts the notebook's first cell (its
    "Executing Cell 1" record, logged before the cell is sent to the kernel)."""

    def __init__(self, on_first_cell=None) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[str, str]] = []
        self._buf_lock = threading.Lock()
        self._on_first_cell = on_first_cell
        self._thread = threading.get_ident()  # the one that executes the notebook

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            return
        if (
            self._on_first_cell is not None
            and text.startswith("Executing Cell")
            and record.thread == self._thread
        ):
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
    return stmt.where(
        Run.id == run_id,
        Run.worker == worker,
        Run.attempt == attempt,
        Run.state == RunState.RUNNING.value,
    )


def execute_run(
    workspace, run_id: str, worker: str, kernel_manager: Any = None, lease_seconds: float = 30.0
) -> str:
    """Execute the current attempt of ``run_id`` claimed by ``worker``; returns the state it
    ended in (or "lost" when the run is no longer this worker's)."""
    return RunAttempt(
        workspace, run_id, worker, kernel_manager=kernel_manager, lease_seconds=lease_seconds
    ).execute()


class RunAttempt:
    """The current attempt of one run, claimed by ``worker`` (see the module's steps)."""

    def __init__(
        self,
        workspace,
        run_id: str,
        worker: str,
        *,
        kernel_manager: Any = None,
        lease_seconds: float = 30.0,
    ) -> None:
        self.ws = workspace
        self.run_id = run_id
        self.worker = worker
        self.km = kernel_manager  # killed by the monitor thread: read it there only
        self.lease_seconds = lease_seconds
        # set by claim()
        self.attempt = 0
        self.nb: Any = None
        self.kernel_name = DEFAULT_KERNEL
        self.parameters: dict = {}
        self.env: dict[str, str] = {}
        self.notebook = self.owner = self.cwd = ""
        self.timeout: float | None = None
        self.code_cells = 0
        self.output_key = f"runs/{run_id}/output.ipynb"
        # while it runs
        self.capture: _LogCapture | None = None
        self.output_path = Path()
        self.started = 0.0
        self.stop = threading.Event()
        self.lost = threading.Event()
        self.stopped_because: str | None = None  # cancelled, timed_out or lost
        self._pending: dict | None = None  # progress not yet published
        self._outcome: Any = None  # the notebook being executed (RunOutcome.notebook)
        self._published_at = 0.0
        self._publish_lock = threading.Lock()

    # -- 1. claim ---------------------------------------------------------------------------
    def claim(self) -> bool:
        """Whether the run is still this worker's; if so, read what the attempt needs and
        record its start (environment, output key, progress)."""
        import nbformat

        with self.ws.catalog.read_session() as s:
            run = s.get(Run, self.run_id)
            if run is None or run.state != RunState.RUNNING.value or run.worker != self.worker:
                return False
            self.attempt = run.attempt
            self.cwd, self.timeout = run.cwd, run.timeout
            self.parameters = dict(run.parameters or {})
            self.env = run_env(self.ws, run)
            self.notebook, self.owner = run.notebook, run.owner
            self.nb = nbformat.reads(self.ws.artifacts.get(run.snapshot_key).decode(), as_version=4)
            self.kernel_name = kernel_name_for(run, self.nb)
        ensure_kernel_metadata(self.nb, self.kernel_name)
        self.code_cells = sum(1 for c in self.nb.cells if c.cell_type == "code")
        self._write(
            environment={**capture_environment(), "kernel_name": self.kernel_name},
            output_key=self.output_key,
            started_at=utcnow(),
            progress={"executed": 0, "code_cells": self.code_cells},
        )
        return True

    def _write(self, **values: Any) -> None:
        """Update the run, if this attempt is still its own."""
        with self.ws.catalog.session() as s:
            s.execute(_owned(update(Run), self.run_id, self.worker, self.attempt).values(**values))

    def mark_first_cell(self) -> None:
        # From here on a lost worker costs the attempt (see states.cells_started): the
        # notebook's code may have run. Before it, a lost run is put back as it was.
        self._write(progress={"executed": 0, "code_cells": self.code_cells, "cell_started": True})

    # -- 2. start kernel --------------------------------------------------------------------
    def start_kernel(self) -> None:
        """Keep the kernel the worker pre-started if it is the run's kind, else start one."""
        if self.km is None or getattr(self.km, "kernel_name", None) != self.kernel_name:
            kill_kernel(self.km)
            self.km = start_run_kernel(self.ws, self.kernel_name)

    # -- the whole attempt ------------------------------------------------------------------
    def execute(self) -> str:
        """Run the attempt to its end; the state it ended in, or "lost"."""
        if not self.claim():
            kill_kernel(self.km)
            return LOST
        self.capture = capture = _LogCapture(on_first_cell=self.mark_first_cell)
        capture.add(
            "log",
            f"attempt {self.attempt} on {self.worker}: {self.notebook} with "
            f"{self.parameters or 'no parameters'}",
        )
        pm_logger = logging.getLogger("papermill")
        pm_logger.addHandler(capture)
        if pm_logger.level == logging.NOTSET or pm_logger.level > logging.INFO:
            pm_logger.setLevel(logging.INFO)
        pm_logger.propagate = False
        tmp = tempfile.mkdtemp(prefix=f"mlinfra-run-{self.run_id[:8]}-")
        self.output_path = Path(tmp) / "output.ipynb"
        # the first publication comes PUBLISH_EVERY s into the run, as the next ones: a
        # run shorter than that publishes its progress and output once, at its end
        self.started = self._published_at = time.monotonic()
        try:
            state, error, result_nb = self._run_notebook(pm_logger, capture)
            return self.finish(state, error, result_nb)
        finally:
            _cleanup(tmp)

    # -- 3. execute -------------------------------------------------------------------------
    def _run_notebook(
        self, pm_logger: logging.Logger, capture: logging.Handler
    ) -> tuple[str, dict | None, Any]:
        from ..notebook_execution import RunOutcome, execute_notebook

        self._outcome = outcome = RunOutcome()
        thread = threading.Thread(
            target=self.monitor, name=f"mlinfra-run-{self.run_id[:8]}", daemon=True
        )
        try:
            self.start_kernel()
            thread.start()
            result_nb = execute_notebook(
                self.nb,
                self.output_path,
                parameters=self.parameters or None,
                kernel_name=self.kernel_name,
                cwd=self.cwd if Path(self.cwd).is_dir() else None,
                env=self.env,
                notebook_path=self.notebook,
                record_provenance=bool(self.ws.config.settings.jobs_record_provenance),
                on_cell=self.on_cell,
                kernel_manager=self.km,
                provenance_sink=lambda executions: self.ws.service("provenance").record(
                    executions, owner=self.owner
                ),
                log_output=True,
                # written once at the end (and after a failing cell, a dead kernel or a
                # time-out); while it runs, publish() uploads the notebook from memory
                save_every_cell=False,
                outcome=outcome,
            )
            return RunState.SUCCEEDED.value, None, result_nb
        except Exception as exc:
            return RunState.FAILED.value, describe_error(exc, self.output_path), None
        finally:
            self.stop.set()
            if thread.is_alive():
                thread.join(5)
            kill_kernel(self.km)
            pm_logger.removeHandler(capture)

    # -- 4. monitor -------------------------------------------------------------------------
    def monitor(self) -> None:
        """Until the notebook ends: flush the log, publish pending progress, enforce the
        time-out and cancellation, notice a lost lease, renew the lease."""
        last_renew = 0.0
        while not self.stop.wait(0.25):
            try:
                if self._check() is False:
                    return
                now_m = time.monotonic()
                if now_m - last_renew > self.lease_seconds / 3:
                    self._write(lease_expires_at=utcnow() + timedelta(seconds=self.lease_seconds))
                    last_renew = now_m
            except Exception as exc:  # a catalog hiccup must not kill the monitor
                log.warning("run %s monitor: %s", self.run_id, exc)

    def _check(self) -> bool:
        """One look; False when the attempt is no longer this worker's."""
        assert self.capture is not None
        self.flush_log()
        if self._pending is not None and time.monotonic() - self._published_at >= PUBLISH_EVERY:
            self.publish()
        if (
            self.timeout
            and time.monotonic() - self.started > self.timeout
            and self.stopped_because is None
        ):
            self.stopped_because = RunState.TIMED_OUT.value
            self.capture.add("log", f"timed out after {self.timeout:g} s: killing the kernel")
            kill_kernel_processes(self.km)
        with self.ws.catalog.read_session() as s:
            row = s.execute(
                select(Run.cancel_requested, Run.state, Run.worker, Run.attempt).where(
                    Run.id == self.run_id
                )
            ).first()
        if (
            row is None
            or row.worker != self.worker
            or row.attempt != self.attempt
            or row.state != RunState.RUNNING.value
        ):
            if self.stopped_because is None:
                self.stopped_because = LOST
            self.lost.set()
            kill_kernel_processes(self.km)
            return False
        if row.cancel_requested and self.stopped_because is None:
            self.stopped_because = RunState.CANCELLED.value
            self.capture.add("log", "cancellation requested: killing the kernel")
            kill_kernel_processes(self.km)
        return True

    def flush_log(self) -> None:
        assert self.capture is not None
        lines = self.capture.drain()
        if not lines:
            return
        now = utcnow()
        with self.ws.catalog.session() as s:
            s.add_all(
                [
                    RunLogLine(run_id=self.run_id, at=now, stream=stream, text=text)
                    for stream, text in lines
                ]
            )

    # -- 5. per-cell progress, publication ---------------------------------------------------
    def on_cell(self, progress) -> None:
        """After each cell: a log line, and its progress published (with the partial
        output) unless the last publication (or the start) is younger than PUBLISH_EVERY;
        the monitor publishes what a quick cell left pending, and the end the rest."""
        assert self.capture is not None
        status = "ok" if progress.status == "ok" else "error"
        self.capture.add(
            "log",
            f"cell {progress.executed}/{progress.code_cells} "
            f"[{progress.cell_id}] {status} in {progress.duration:.2f} s",
        )
        with self._publish_lock:
            self._pending = {
                "executed": progress.executed,
                "code_cells": progress.code_cells,
                "cell_index": progress.index,
                "cell_id": progress.cell_id,
                "cell_status": progress.status,
            }
        if time.monotonic() - self._published_at >= PUBLISH_EVERY:
            self.publish()

    def publish(self, upload: bool = True) -> None:
        """The pending progress, with the partial output notebook unless ``upload`` is
        False (an output that cannot be read yet leaves it pending)."""
        with self._publish_lock:
            progress = self._pending
            if progress is None or (upload and not self.upload_partial_output()):
                return
            self._pending = None
            self._published_at = time.monotonic()
            self._write(progress=progress)

    def upload_partial_output(self) -> bool:
        """Upload the output notebook as it stands in memory (the executed cells' outputs so
        far). False, and left for the next publication, when it could not be serialised
        (the executing thread changed it meanwhile) or is not there yet."""
        from nbformat.v4.nbjson import writes

        nb = getattr(self._outcome, "notebook", None)
        if nb is None:
            return False
        try:
            data = writes(nb).encode()
        except Exception:  # changed under us (the monitor thread publishes too)
            return False
        self._put_output(data)
        return True

    def upload_output(self) -> bool:
        """Upload the output notebook papermill wrote at the end."""
        try:
            data = self.output_path.read_bytes()
        except OSError:
            return False
        self._put_output(data)
        return True

    def _put_output(self, data: bytes) -> None:
        self.ws.artifacts.put(
            self.output_key, data, metadata={"run_id": self.run_id, "attempt": self.attempt}
        )

    # -- 6. finish --------------------------------------------------------------------------
    def finish(self, state: str, error: dict | None, result_nb: Any) -> str:
        """Publish the rest (progress, output, log) and record how the attempt ended: the
        run's final state, or queued again for its next attempt; "lost" when the run is
        no longer this worker's."""
        import nbformat

        assert self.capture is not None
        why = self.stopped_because
        if why == RunState.CANCELLED.value:
            state, error = (
                why,
                {
                    "type": "Cancelled",
                    "message": "cancelled while running; the kernel and its children were killed",
                    **_cell(error),
                },
            )
        elif why == RunState.TIMED_OUT.value:
            state, error = (
                why,
                {
                    "type": "TimeoutError",
                    "message": f"run exceeded its "
                    f"timeout of {self.timeout:g} s; the kernel and its children "
                    f"were killed",
                    **_cell(error),
                },
            )
        if error:
            self.capture.add("stderr", f"{error.get('type')}: {error.get('message')}")
        self.capture.add(
            "log",
            f"attempt {self.attempt} ended: {state} after {time.monotonic() - self.started:.2f} s",
        )
        try:
            self.publish(upload=False)  # the last cell's progress; the output follows
        except Exception as exc:
            log.warning("run %s progress: %s", self.run_id, exc)
        self.upload_output()
        text = ""
        try:
            text = _notebook_text(result_nb or nbformat.read(self.output_path, as_version=4))
        except Exception:
            pass
        try:
            self.flush_log()
        except Exception:
            pass
        if self.lost.is_set() or why == LOST:
            return LOST
        with self.ws.catalog.session() as s:
            run = s.execute(
                _owned(select(Run), self.run_id, self.worker, self.attempt).with_for_update()
            ).scalar_one_or_none()
            if run is None:
                return LOST
            run.output_text = text
            final = end_attempt(run, state, error)
            if final == RunState.QUEUED.value:
                s.add(
                    RunLogLine(
                        run_id=self.run_id,
                        at=utcnow(),
                        stream="log",
                        text=f"retrying: attempt {run.attempt} of {run.retries + 1} "
                        f"not before {run.not_before.isoformat()}",
                    )
                )
        return final


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


def _cell(error: dict | None) -> dict:
    if not error:
        return {}
    return {k: error[k] for k in ("cell_index", "cell_id", "execution_count") if k in error}


def describe_error(exc: BaseException, output_path: Path) -> dict:
    """Exception type, message and the failing cell (index, id, source) when known."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        err = {
            "type": exc.ename,
            "message": exc.evalue,
            "cell_index": exc.cell_index,
            "execution_count": exc.exec_count,
            "traceback": _strip_ansi("\n".join(exc.traceback or []))[-8000:],
        }
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
