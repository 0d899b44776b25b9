"""The kernels job runs execute in: started (forked from a template when it can be), warmed
up, killed with every process they started, and their connection files removed. Safe to call
from a worker's threads: nothing here keeps state."""

from __future__ import annotations

import os
import signal
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
