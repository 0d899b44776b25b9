"""The one notebook runner behind jobs, verify and reproduce: papermill with an engine of ours.

What the engine adds to papermill's nbclient engine:

- every cell goes to the kernel with its nbformat cell id as ``cellId`` in the
  execute_request metadata, as JupyterLab sends it, so the provenance recorder (and anything
  else listening to IPython's ``pre_run_cell``) sees the same ids for batch runs as for
  interactive ones;
- one silent set-up execution before the first cell sets environment variables (such as
  ``MLINFRA_RUN_ID``), the working directory and ``JPY_SESSION_NAME`` (the notebook path
  provenance records under), and loads the jupyter_mlinfra IPython extension; being silent it
  is neither recorded nor in the output notebook;
- a progress callback after each cell;
- after the last cell (or the failing one), one more silent execution takes the provenance
  recorder's unwritten records out of the kernel and hands them to ``provenance_sink`` in
  this process (default: the workspace's catalog). The kernel is stopped right after a run,
  often before its recorder would have written, and this way a short run's kernel never
  loads the catalog's database layer;
- it can run in a kernel that is already started (``kernel_manager=``), which is how the local
  job workers keep the next kernel warm;
- with ``outcome=`` it reports why a run stopped (``RunStop``: the failing cell and its error,
  a dead kernel, a timeout, a kernel that does not exist) and hands back the executed notebook
  even when the run raised;
- ``save_every_cell=False`` writes the output notebook once, at the end, instead of after
  every cell (papermill's per-cell save re-serialises the whole notebook each time: quadratic
  in the number of cells). Jobs keep the per-cell save, so a running job's output notebook
  can be read; verify turns it off.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from .errors import InvalidInput, NotFound
from .kernel_protocol import RECORDER_MODULE

ENGINE_NAME = "mlinfra"
log = logging.getLogger(__name__)

# evaluated in the kernel after the last cell: the recorder's unwritten records, as JSON
_HAND_OFF = f"__import__({RECORDER_MODULE!r}, fromlist=['hand_off']).hand_off()"


@dataclass
class RunStop:
    """Why a run stopped before its end. ``kind``: ``error`` (a cell raised), ``usage_error``
    (a magic's UsageError), ``sys_exit``, ``kernel_died``, ``timeout``, ``no_such_kernel``,
    ``kernel_failed`` (it did not start or could not be prepared)."""

    kind: str
    message: str
    cell_index: int | None = None  # position in the notebook (all cells), when a cell was running
    cell_id: str | None = None
    ename: str | None = None
    evalue: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "cell_index": self.cell_index,
            "cell_id": self.cell_id,
            "ename": self.ename,
            "evalue": self.evalue,
        }


@dataclass
class RunOutcome:
    """Filled in by ``execute_notebook(..., outcome=...)``, whether the run raised or not."""

    notebook: Any = None  # the executed notebook (partly executed when it stopped)
    stop: RunStop | None = None


def _cell_stop(ename: str, evalue: str, index: int, cell_id: str | None) -> RunStop:
    kind = {"UsageError": "usage_error", "SystemExit": "sys_exit"}.get(ename, "error")
    if kind == "sys_exit":
        message = (
            f"the notebook called sys.exit({evalue})"
            if evalue
            else "the notebook called sys.exit()"
        )
    else:
        message = f"{ename}: {evalue}" if evalue else ename
    return RunStop(
        kind=kind, message=message, cell_index=index, cell_id=cell_id, ename=ename, evalue=evalue
    )


def _exception_stop(
    exc: BaseException,
    index: int | None,
    cell_id: str | None,
    timeout: float | None = None,
    kernel_name: str | None = None,
) -> RunStop:
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    if isinstance(exc, CellTimeoutError):
        limit = f" after {timeout:g} s" if timeout else ""
        return RunStop("timeout", f"timed out{limit}", index, cell_id)
    if isinstance(exc, DeadKernelError):
        return RunStop("kernel_died", "the kernel died", index, cell_id)
    if isinstance(exc, NoSuchKernel):
        name = getattr(exc, "name", None) or kernel_name
        try:
            from jupyter_client.kernelspec import KernelSpecManager

            known = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
        except Exception:  # listing the kernels is only a courtesy
            known = "?"
        return RunStop("no_such_kernel", f"no such kernel: {name!r} (installed: {known})")
    if index is None:
        return RunStop(
            "kernel_failed", f"the kernel could not start: {type(exc).__name__}: {exc}".strip()
        )
    return RunStop("error", f"{type(exc).__name__}: {exc}".rstrip(": "), index, cell_id)


@dataclass(frozen=True)
class CellProgress:
    """Reported after each code cell: ``status`` is "ok" or "error"."""

    index: int  # position in the notebook (0-based, all cells)
    total: int  # number of cells in the notebook
    cell_id: str
    status: str
    executed: int  # code cells executed so far
    code_cells: int  # code cells in the notebook
    duration: float  # seconds


def _setup_code(
    env: dict[str, str], cwd: str | None, notebook_path: str | None, record_provenance: bool
) -> str:
    lines = ["import os as _mlinfra_os"]
    if env:
        lines.append(f"_mlinfra_os.environ.update({json.dumps(env)})")
    if notebook_path:
        lines.append(f"_mlinfra_os.environ['JPY_SESSION_NAME'] = {json.dumps(notebook_path)}")
    if cwd:
        lines.append(f"_mlinfra_os.chdir({json.dumps(cwd)})")
    lines.append("del _mlinfra_os")
    if record_provenance:
        # Called directly rather than through %load_ext, so a notebook's own
        # `%load_ext jupyter_mlinfra` still loads it silently (the hooks are idempotent).
        lines.append("import jupyter_mlinfra as _mlinfra_ext")
        lines.append("_mlinfra_ext.load_ipython_extension(get_ipython())")
        lines.append("del _mlinfra_ext")
        # the runner collects the records at the end; long runs still write every 30 s
        lines.append(f"from {RECORDER_MODULE} import get_recorder as _mlinfra_rec")
        lines.append("_mlinfra_rec().write_interval = 30.0")
        lines.append("del _mlinfra_rec")
    return "\n".join(lines)


async def wait_until_ready(kc, timeout: float | None) -> None:
    """Return once the kernel of ``kc`` answers on its shell channel and its IOPub channel
    is connected: the reply to a ``kernel_info_request`` and, on IOPub, the kernel's idle
    status for that same request (ipykernel publishes it after the reply), so no output of
    a later request can be missed. A request whose idle status does not come (IOPub not
    joined yet) is sent again. RuntimeError when the kernel dies or ``timeout`` passes."""
    from queue import Empty

    from jupyter_core.utils import ensure_async

    deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
    while True:
        msg_id = kc.kernel_info()
        reply = None
        try:
            while reply is None:  # replies to earlier requests are skipped
                msg = await ensure_async(kc.shell_channel.get_msg(timeout=1))
                if msg.get("parent_header", {}).get("msg_id") == msg_id:
                    reply = msg
        except Empty:
            pass
        if reply is not None:
            try:
                while True:
                    msg = await ensure_async(kc.iopub_channel.get_msg(timeout=0.5))
                    if (
                        msg.get("parent_header", {}).get("msg_id") == msg_id
                        and msg["msg_type"] == "status"
                        and msg["content"].get("execution_state") == "idle"
                    ):
                        kc._handle_kernel_info_reply(reply)
                        return
            except Empty:
                pass
        if not await ensure_async(kc.is_alive()):
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")


def _client_class():
    # papermill (and nbclient) are imported only when a notebook actually runs.
    from jupyter_core.utils import ensure_async, run_sync
    from nbclient.exceptions import CellExecutionError
    from nbclient.util import run_hook
    from papermill.clientwrap import PapermillNotebookClient

    class MLInfraNotebookClient(PapermillNotebookClient):
        def __init__(
            self,
            nb_man,
            km=None,
            *,
            mlinfra_setup: str = "",
            mlinfra_on_cell: Callable[[CellProgress], Any] | None = None,
            mlinfra_provenance_sink: Callable[[list], Any] | None = None,
            mlinfra_outcome: RunOutcome | None = None,
            **kw,
        ):
            super().__init__(nb_man, km=km, **kw)
            self._setup = mlinfra_setup
            self._on_cell = mlinfra_on_cell
            self._provenance_sink = mlinfra_provenance_sink
            self._outcome = mlinfra_outcome
            self._cell_id: str | None = None
            if mlinfra_outcome is not None:
                mlinfra_outcome.notebook = self.nb

        async def async_start_new_kernel_client(self):
            # nbclient's, with a readiness check that ends when the kernel is ready rather
            # than after 0.2 s without IOPub messages (jupyter_client's wait_for_ready),
            # which every run paid once more after its kernel had answered.
            assert self.km is not None
            try:
                self.kc = self.km.client()
                await ensure_async(self.kc.start_channels())
                await wait_until_ready(self.kc, self.startup_timeout)
            except Exception as e:
                self.log.error(
                    "Error occurred while starting new kernel client for kernel "
                    f"{getattr(self.km, 'kernel_id', None)}: {e}"
                )
                await self._async_cleanup_kernel()
                raise
            self.kc.allow_stdin = False
            await run_hook(self.on_notebook_start, notebook=self.nb)
            self._wrap_execute(self.kc)
            return self.kc

        start_new_kernel_client = run_sync(async_start_new_kernel_client)

        def _wrap_execute(self, kc) -> None:
            if getattr(kc, "_mlinfra_wrapped", False):
                return
            client = self

            def execute(
                code,
                silent=False,
                store_history=True,
                user_expressions=None,
                allow_stdin=None,
                stop_on_error=True,
            ):
                content = {
                    "code": code,
                    "silent": silent,
                    "store_history": store_history,
                    "user_expressions": user_expressions or {},
                    "allow_stdin": kc.allow_stdin if allow_stdin is None else allow_stdin,
                    "stop_on_error": stop_on_error,
                }
                metadata = {"cellId": client._cell_id} if client._cell_id and not silent else {}
                msg = kc.session.msg("execute_request", content, metadata=metadata)
                kc.shell_channel.send(msg)
                return msg["header"]["msg_id"]

            kc.execute = execute
            kc._mlinfra_wrapped = True

        def _run_setup(self) -> None:
            if not self._setup:
                return
            self._wrap_execute(self.kc)
            msg_id = self.kc.execute(self._setup, silent=True, store_history=False)
            reply = self.wait_for_reply(msg_id)
            content = (reply or {}).get("content", {})
            if content.get("status") != "ok":
                raise RuntimeError(
                    "jupyter_mlinfra could not prepare the kernel: "
                    f"{content.get('ename')}: {content.get('evalue')}"
                )

        def _hand_off_provenance(self) -> None:
            if self._provenance_sink is None:
                return
            from .provenance.model import Execution

            try:
                msg_id = self.kc.execute(
                    "pass",
                    silent=True,
                    store_history=False,
                    user_expressions={"records": _HAND_OFF},
                )
                reply = self.wait_for_reply(msg_id) or {}
                result = reply.get("content", {}).get("user_expressions", {}).get("records", {})
                if result.get("status") != "ok":
                    raise RuntimeError(f"{result.get('ename')}: {result.get('evalue')}")
                records = json.loads(ast.literal_eval(result["data"]["text/plain"]))
                if records:
                    self._provenance_sink([Execution.from_dict(r) for r in records])
            except Exception as exc:  # the run's result matters more than its provenance
                log.warning("jupyter_mlinfra: could not collect the run's provenance: %s", exc)

        def papermill_execute_cells(self):
            self._run_setup()
            cells = self.nb.cells
            code_cells = sum(1 for c in cells if c.cell_type == "code")
            executed = 0
            for index, cell in enumerate(cells):
                started = time.perf_counter()
                status = "ok"
                self._cell_id = cell.get("id")
                try:
                    self.nb_man.cell_start(cell, index)
                    self.execute_cell(cell, index)
                except CellExecutionError as ex:
                    status = "error"
                    self.nb_man.cell_exception(self.nb.cells[index], cell_index=index, exception=ex)
                    if self._outcome is not None:
                        self._outcome.stop = _cell_stop(
                            getattr(ex, "ename", "") or "Error",
                            getattr(ex, "evalue", ""),
                            index,
                            cell.get("id"),
                        )
                    break
                except BaseException as ex:
                    # a dead kernel, a timeout, an interrupt: the cell did not complete
                    status = "error"
                    if self._outcome is not None:
                        self._outcome.stop = _exception_stop(
                            ex, index, cell.get("id"), self.timeout
                        )
                    raise
                finally:
                    self.nb_man.cell_complete(self.nb.cells[index], cell_index=index)
                    if cell.cell_type == "code":
                        executed += 1
                        if self._on_cell is not None:
                            self._on_cell(
                                CellProgress(
                                    index=index,
                                    total=len(cells),
                                    cell_id=str(cell.get("id")),
                                    status=status,
                                    executed=executed,
                                    code_cells=code_cells,
                                    duration=time.perf_counter() - started,
                                )
                            )
            self._cell_id = None
            self._hand_off_provenance()

    return MLInfraNotebookClient


# Seconds to wait, after a cell's reply, for the outputs it sent before it went idle.
IOPUB_TIMEOUT = 30.0


def _engine_class():
    from papermill.engines import NBClientEngine
    from papermill.utils import merge_kwargs, remove_args

    client_cls = _client_class()

    class MLInfraEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man,
            kernel_name,
            log_output=False,
            stdout_file=None,
            stderr_file=None,
            start_timeout=60,
            execution_timeout=None,
            **kwargs,
        ):
            kwargs = remove_args(["input_path"], **kwargs)
            safe = remove_args(["timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(
                safe,
                timeout=execution_timeout or kwargs.get("timeout"),
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            from papermill.log import logger

            final.setdefault("log", logger)
            # nbclient waits only 4 s after a cell's reply for its last outputs, then drops
            # what arrives later without a word: on a loaded machine a print went missing
            # from a run's output notebook (and verify saw a mismatch that was not there).
            final.setdefault("iopub_timeout", IOPUB_TIMEOUT)
            return client_cls(nb_man, **final).execute()

    return MLInfraEngine


_registered = False


def _ensure_engine() -> None:
    global _registered
    if not _registered:
        from papermill.engines import papermill_engines

        papermill_engines.register(ENGINE_NAME, _engine_class())
        _registered = True


def load_notebook(source: str | os.PathLike | nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Read a notebook, normalised to nbformat 4.5 so every cell has an id."""
    if isinstance(source, nbformat.NotebookNode):
        nb = source
    else:
        path = Path(source)
        if not path.is_file():
            raise NotFound(f"no notebook at {path}")
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as exc:  # malformed JSON or schema
            raise InvalidInput(f"{path} is not a valid notebook: {exc}") from exc
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) < (4, 5):
        nb.nbformat_minor = 5
    _changes, nb = nbformat.validator.normalize(nb)
    return nbformat.from_dict(nb)


def execute_notebook(
    input: str | os.PathLike | nbformat.NotebookNode,
    output_path: str | os.PathLike | None = None,
    *,
    parameters: dict[str, Any] | None = None,
    kernel_name: str | None = None,
    cwd: str | os.PathLike | None = None,
    execution_timeout: float | None = None,
    start_timeout: float = 60,
    env: dict[str, str] | None = None,
    notebook_path: str | None = None,
    record_provenance: bool = True,
    on_cell: Callable[[CellProgress], Any] | None = None,
    provenance_sink: Callable[[list], Any] | None = None,
    kernel_manager: Any = None,
    progress_bar: bool = False,
    log_output: bool = False,
    save_every_cell: bool = True,
    outcome: RunOutcome | None = None,
) -> nbformat.NotebookNode:
    """Run a notebook top to bottom with papermill; see the module docstring.

    Raises papermill's ``PapermillExecutionError`` when a cell fails (after writing the output
    notebook with papermill's error banner). With ``record_provenance``, the run's records go
    to ``provenance_sink(executions)`` (default: the provenance service of
    ``get_workspace()``). ``save_every_cell=False``: the output notebook is written once, at
    the end (also when a cell fails); ``outcome``: see ``RunOutcome``.
    """
    import papermill

    _ensure_engine()
    nb = load_notebook(input)
    setup = _setup_code(
        {k: str(v) for k, v in (env or {}).items()},
        str(Path(cwd).resolve()) if cwd else None,
        notebook_path,
        record_provenance,
    )
    if record_provenance and provenance_sink is None:

        def provenance_sink(executions: list) -> None:
            from .workspace import get_workspace

            get_workspace().service("provenance").record(executions)

    kwargs: dict[str, Any] = {
        "mlinfra_setup": setup,
        "mlinfra_on_cell": on_cell,
        "mlinfra_provenance_sink": provenance_sink if record_provenance else None,
        "mlinfra_outcome": outcome,
    }
    if kernel_manager is not None:
        kwargs["km"] = kernel_manager
    try:
        return papermill.execute_notebook(
            nb,
            str(output_path) if output_path is not None else None,
            parameters=parameters,
            engine_name=ENGINE_NAME,
            kernel_name=kernel_name,
            execution_timeout=execution_timeout,
            start_timeout=start_timeout,
            progress_bar=progress_bar,
            log_output=log_output,
            request_save_on_cell_execute=output_path is not None and save_every_cell,
            **kwargs,
        )
    except BaseException as exc:
        # papermill also raises for the errors of cells tagged raises-exception, which nbclient
        # ran past: those did not stop the run (a cell that did, the client has recorded)
        if outcome is not None and outcome.stop is None and not _is_cell_failure(exc):
            outcome.stop = _exception_stop(exc, None, None, execution_timeout, kernel_name)
        if (
            not save_every_cell
            and output_path is not None
            and outcome is not None
            and outcome.notebook is not None
            and not _is_cell_failure(exc)
        ):
            # papermill writes the notebook itself when a cell fails; after a dead kernel or a
            # timeout it does not, and without the per-cell save nothing else would have
            try:
                nbformat.write(outcome.notebook, str(output_path))
            except Exception as write_error:
                log.warning("jupyter_mlinfra: could not write %s: %s", output_path, write_error)
        raise


def _is_cell_failure(exc: BaseException) -> bool:
    from papermill.exceptions import PapermillExecutionError

    return isinstance(exc, PapermillExecutionError)
