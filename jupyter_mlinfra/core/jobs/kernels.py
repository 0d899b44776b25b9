"""The kernels job runs execute in: started (forked from a template when it can be), warmed
up, killed with every process they started, and their connection files removed. Safe to call
from a worker's threads: nothing here keeps state."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..kernel_protocol import EXTENSION_MODULE

DEFAULT_KERNEL = "python3"
# A job run's IPython kernel keeps its input history in memory: it does not open (and lock)
# the user's IPython history database, nor start the thread that writes to it. ``In``,
# ``_ih`` and ``%history`` of the run's own session work as before.
NO_HISTORY_FILE = "--HistoryManager.hist_file=:memory:"


def run_coro(value):
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


def start_kernel(
    kernel_name: str = DEFAULT_KERNEL,
    cwd: str | None = None,
    *,
    fork: bool = False,
    env: dict[str, str] | None = None,
    history_file: bool = True,
):
    """A started kernel in an AsyncKernelManager: nbclient then polls it without blocking
    its loop, so a killed kernel ends the run at once (DeadKernelError). With ``fork``, an
    ipykernel kernel is forked from a template process that has already imported it (see
    ``forked_kernel.py``) instead of starting a new interpreter. ``env``: the kernel's
    whole environment (default: this process's). ``history_file=False``: an ipykernel
    kernel keeps its history in memory (``NO_HISTORY_FILE``)."""
    import uuid

    from jupyter_client import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir

    # IPC sockets in the runtime folder, not TCP ports: kernels started at the same moment
    # by several workers cannot race for the same free port (and nothing listens on TCP).
    runtime = Path(jupyter_runtime_dir())
    runtime.mkdir(parents=True, exist_ok=True)
    connection_file = str(runtime / f"mlinfra-kernel-{uuid.uuid4().hex[:12]}.json")
    km = AsyncKernelManager(
        kernel_name=kernel_name, transport="ipc", connection_file=connection_file
    )
    options: dict = {"cwd": cwd} if cwd else {}
    if fork or not history_file:
        from .forked_kernel import PROVISIONER_NAME, forkable

        spec = km.kernel_spec
        if spec is not None and forkable(spec.argv):
            if fork:
                spec.metadata = {
                    **spec.metadata,
                    "kernel_provisioner": {"provisioner_name": PROVISIONER_NAME},
                }
            if not history_file:
                options["extra_arguments"] = [NO_HISTORY_FILE]
    if env is not None:
        options["env"] = env
    run_coro(km.start_kernel(**options))
    return km


def run_kernel_environment(workspace) -> dict[str, str] | None:
    """The environment a job run's kernel starts with: this process's, except that a
    scheduler with a ``jobs_service_url`` (the central service's) passes on no mlinfra
    setting and no credential (the run's own variables come with its set-up: a run token)."""
    if workspace.config.settings.jobs_service_url:
        from ..process_env import without_credentials

        return without_credentials(os.environ)
    return None


VERIFY_TOKEN_MARGIN = 600.0  # seconds a verify kernel's token outlives its budget
VERIFY_TOKEN_LIFETIME = 86400.0  # of a verify without a timeout (spent when it ends anyway)


@contextmanager
def verify_kernel_environment(
    workspace, *, timeout: float | None = None, cells: int = 1
) -> Iterator[dict[str, str] | None]:
    """The environment of the kernel of a verify (or replay) run by ``workspace``'s user:
    as a run's (:func:`run_kernel_environment`), and on the central service (a
    ``jobs_service_url``) also the service's URL and a token acting as that user while the
    verify runs, and no longer than its time budget (``timeout`` per cell over ``cells``
    cells, plus a margin): mlinfra calls in the verified notebook work as the caller."""
    env = run_kernel_environment(workspace)
    settings = workspace.config.settings
    if env is None:
        yield None
        return
    from ..errors import ConfigurationError
    from .run_tokens import SECRET_VARIABLE, RunTokens, active_verify

    secret = os.environ.get(SECRET_VARIABLE)
    if not secret:
        raise ConfigurationError(
            f"jobs_service_url is set but {SECRET_VARIABLE} is not: a verify's kernel needs "
            "a token the service accepts (use the service's secret)"
        )
    budget = float(timeout) * max(1, cells) if timeout else VERIFY_TOKEN_LIFETIME
    with active_verify() as verify_id:
        yield {
            **env,
            "MLINFRA_SERVICE_URL": settings.jobs_service_url,
            "MLINFRA_SERVICE_TOKEN": RunTokens(secret).issue_verify(
                workspace.user, verify_id, lifetime=budget + VERIFY_TOKEN_MARGIN
            ),
            "MLINFRA_USER": workspace.user,
            "MLINFRA_HOME": str(workspace.config.home / "verify-kernels"),
        }


def start_run_kernel(workspace, kernel_name: str):
    """A job run's kernel: forked from a template unless ``jobs_fork_kernels`` is off."""
    return start_kernel(
        kernel_name,
        fork=bool(workspace.config.settings.jobs_fork_kernels),
        env=run_kernel_environment(workspace),
        history_file=False,
    )


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
            reply = await kc.execute_interactive(
                code, silent=True, store_history=False, timeout=timeout
            )
            return reply.get("content", {}).get("status") == "ok"
        finally:
            kc.stop_channels()

    try:
        return bool(run_coro(asyncio.wait_for(go(), timeout)))
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
        run_coro(km.shutdown_kernel(now=True))
    except Exception:
        pass
    try:
        run_coro(km.cleanup_resources())
    except Exception:
        pass
    remove_connection_files(km)


def prestart_run_template(
    workspace, notebook: str | None, kernel_name: str | None, execute_here: bool | None
):
    """Begin, on a thread, the start-up of the kernel template the run's kernel will be
    forked from (:func:`start_run_kernel`), when ``run(wait=True)`` will execute the run in
    this process: the template's imports (a process of their own) then overlap with the
    submission instead of following it. Nothing is started in remote mode, with
    ``jobs_fork_kernels`` off, or (``execute_here`` None) when a scheduler serves the catalog
    or that cannot be told without SQLAlchemy (not a SQLite catalog at the heads). Errors are
    swallowed: the run's own kernel start reports them. Returns a :class:`TemplatePrestart`
    (to cancel if the submission fails), or None."""
    try:
        if execute_here is False or getattr(workspace, "remote", None) is not None:
            return None
        if not workspace.config.settings.jobs_fork_kernels:
            return None
        if execute_here is None and not _nobody_serves(workspace.config.catalog_url):
            return None
    except Exception:
        return None
    prestart = TemplatePrestart(workspace, notebook, kernel_name)
    prestart.thread.start()
    return prestart


class TemplatePrestart:
    """A kernel template being started on a thread for a run about to be submitted;
    :meth:`cancel` (the submission failed) closes it once started, unless it was already
    this process's template (another run's)."""

    def __init__(self, workspace, notebook: str | None, kernel_name: str | None) -> None:
        import threading

        self._lock = threading.Lock()
        self._cancelled = False
        self._template = None  # the template this pre-start created
        self.thread = threading.Thread(
            target=self._run,
            args=(workspace, notebook, kernel_name),
            name="mlinfra-kernel-template",
            daemon=True,
        )

    def _run(self, workspace, notebook: str | None, kernel_name: str | None) -> None:
        template = _start_template(workspace, notebook, kernel_name)
        with self._lock:
            self._template = template
            cancelled = self._cancelled
        if cancelled:
            self.cancel()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            template, self._template = self._template, None
        if template is not None:
            from .forked_kernel import close_template

            close_template(template)


def _nobody_serves(catalog_url: str) -> bool:
    """True when the SQLite catalog records no serving scheduler alive (what the wait's
    ``nobody_serves`` reads, with ``sqlite3``) or does not exist yet; False when one does or
    it cannot be told without SQLAlchemy."""
    from datetime import datetime, timezone

    from ..catalog.direct_sqlite import connect_at_heads, sqlite_path

    path = sqlite_path(catalog_url)
    if path is not None and not os.path.exists(path):
        return True  # no catalog yet (the submission creates it): nobody serves it
    conn = connect_at_heads(catalog_url)
    if conn is None:
        return False
    try:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")  # as stored
        row = conn.execute(
            "SELECT 1 FROM mlinfra_job_schedulers WHERE serving AND stopped_at IS NULL"
            " AND expires_at > ? LIMIT 1",
            (now,),
        ).fetchone()
        return row is None
    finally:
        conn.close()


def _start_template(workspace, notebook: str | None, kernel_name: str | None):
    """The template started for the run's kernel, or None (none needed, one was already
    running, or it could not start)."""
    try:
        if not kernel_name:
            kernel_name = _notebook_kernel_name(workspace, notebook)
        from .forked_kernel import LAUNCHER, forkable, running_templates, template_for

        argv = _kernelspec_argv(kernel_name)
        if argv is None:
            return None
        if not forkable(argv):
            return None
        interpreter = argv[: argv.index(LAUNCHER) - 1]
        # as jupyter_client's format_kernel_cmd: a bare "python" is this interpreter
        major, minor = sys.version_info[:2]
        if interpreter[0] in {"python", f"python{major}", f"python{major}.{minor}"}:
            interpreter[0] = sys.executable
        if any("{" in part for part in interpreter):
            return None  # substitutions only jupyter_client makes: left to the run's own start
        env = run_kernel_environment(workspace)
        running = set(map(id, running_templates()))
        template = template_for(interpreter, env if env is not None else dict(os.environ))
        return None if id(template) in running else template
    except Exception:  # the run's kernel start reports (or works around) the same problem
        return None


def _kernelspec_argv(kernel_name: str) -> list[str] | None:
    """The ``argv`` of the kernelspec ``kernel_name`` from its ``kernel.json``, found where
    jupyter_client's KernelSpecManager looks first (``jupyter_path("kernels")``), without
    importing jupyter_client (0.15 s, which would hold back the template). None when there
    is no such file (e.g. ipykernel's built-in spec): the run's own start handles it."""
    import json

    from jupyter_core.paths import jupyter_path

    if not kernel_name or "/" in kernel_name or kernel_name.startswith("."):
        return None
    for folder in jupyter_path("kernels"):
        spec = Path(folder) / kernel_name / "kernel.json"
        if spec.is_file():
            with open(spec, encoding="utf-8") as fh:
                argv = json.load(fh).get("argv")
            return [str(a) for a in argv] if isinstance(argv, list) and argv else None
    return None


def _notebook_kernel_name(workspace, notebook: str | None) -> str:
    """The notebook's kernelspec name (what the run will use), else the default."""
    import json

    if notebook:
        try:
            path = Path(notebook).expanduser()
            if not path.is_absolute():
                root = workspace.config.settings.root_dir or os.getcwd()
                path = Path(root).expanduser() / path
            with open(path, encoding="utf-8") as fh:
                name = json.load(fh).get("metadata", {}).get("kernelspec", {}).get("name")
            if isinstance(name, str) and name:
                return name
        except Exception:
            pass
    return DEFAULT_KERNEL
