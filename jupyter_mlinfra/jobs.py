"""Jobs from plain Python (and notebooks): run notebooks, schedule them, sweep parameters.

    from jupyter_mlinfra import jobs
    run = jobs.run("train.ipynb", parameters={"lr": 0.1}, wait=True)
    run["state"], run["metrics"]
    jobs.create("nightly", "train.ipynb", schedule="0 2 * * *", timezone="Europe/Paris")
    sweep = jobs.sweep("train.ipynb", {"lr": [0.01, 0.1]}, wait=True)
    jobs.sweep_results(sweep["id"])         # a pandas DataFrame

Runs are executed by the scheduler of the Jupyter server or of ``jupyter mlinfra scheduler``.
``run(..., wait=True, execute_here=True)`` (or no scheduler running) executes the run in a
scheduler started in this process for the duration of the call.
"""

from __future__ import annotations

from typing import Any

from .core.deferred_imports import defer_rfc3987_syntax
from .core.workspace import get_workspace

# A run reads its notebook with nbformat, whose jsonschema would compile rfc3987_syntax's
# grammars (seconds) in the caller's process; deferred until an IRI is checked (the CLI and
# workers leave them out altogether: core/startup.py).
defer_rfc3987_syntax()


def _svc():
    return get_workspace().service("jobs")


def create(name: str, notebook: str, **spec: Any) -> dict:
    """Define a job: parameters, kernel_name, schedule, timezone, catchup, depends_on,
    priority, cpus, memory, retries, retry_backoff_seconds, timeout_seconds, tags, active,
    description (``retry_backoff`` and ``timeout`` are deprecated aliases of the two
    durations)."""
    return _svc().create_job(name, notebook, **spec)


def update(name: str, **changes: Any) -> dict:
    """Change a job's fields (the names :func:`create` takes)."""
    return _svc().update_job(name, **changes)


def get(name: str) -> dict:
    return _svc().get_job(name)


def list_jobs(**filters: Any) -> list[dict]:
    """Every job definition matching the filters (owner, tag, active, q), by name."""
    return _svc().list_jobs(**filters)


def list_jobs_page(**filters: Any) -> dict:
    """One page of job definitions (the envelope; ``limit``, ``offset``, ``cursor``)."""
    return _svc().list_jobs_page(**filters)


def pause(name: str) -> dict:
    return _svc().pause_job(name)


def resume(name: str) -> dict:
    return _svc().resume_job(name)


def delete(name: str) -> None:
    _svc().delete_job(name)


def run(
    notebook: str | None = None,
    *,
    job: str | None = None,
    parameters: dict | None = None,
    wait: bool = False,
    timeout: float | None = None,
    execute_here: bool | None = None,
    **options: Any,
) -> dict:
    """Submit a run of a notebook (or of a job); with ``wait`` return it once it ended.

    ``options``: priority, cpus, memory, retries, retry_backoff_seconds, timeout_seconds
    (the run's limit), tags, kernel_name, visibility. ``timeout`` here is how long to wait.
    ``execute_here``: run it with a scheduler in this process while waiting (default: when
    no scheduler has been seen recently... i.e. always when waiting outside a server)."""
    svc = _svc()
    result = svc.submit(notebook, job=job, parameters=parameters, **options)
    if not wait or result.get("captured"):  # captured in a reproduce re-run: no run to wait for
        return result
    return wait_for(result["id"], timeout=timeout, execute_here=execute_here)


def wait_for(
    run_id: str, timeout: float | None = None, execute_here: bool | None = None, on_update=None
) -> dict:
    from .core.jobs.local import wait_with_local_scheduler

    return wait_with_local_scheduler(
        get_workspace(), [run_id], timeout=timeout, execute_here=execute_here, on_update=on_update
    )[0]


def sweep(
    notebook: str | None = None,
    grid: dict | list | None = None,
    *,
    job: str | None = None,
    parameters: dict | None = None,
    wait: bool = False,
    timeout: float | None = None,
    execute_here: bool | None = None,
    **options: Any,
) -> dict:
    svc = _svc()
    result = svc.sweep(notebook, grid, job=job, parameters=parameters, **options)
    if wait and not result.get("captured"):
        from .core.jobs.local import wait_with_local_scheduler

        wait_with_local_scheduler(
            get_workspace(), result["run_ids"], timeout=timeout, execute_here=execute_here
        )
    return result


def sweep_results(sweep_id: str):
    """A pandas DataFrame: one row per run with parameters, state, duration and metrics."""
    return _svc().sweep_results(sweep_id)


def runs(*, limit: int | None = None, **filters: Any) -> list[dict]:
    """Every run matching the filters, newest first (summaries: ``get_run`` has a run's
    environment): job, state, owner, trigger, tag, sweep, notebook, parameters, q, since,
    until, offset; at most ``limit`` runs when given. Read page by page;
    ``jobs.runs_page(...)`` gives one page with its total and next_cursor."""
    from .core.paging import walk

    return walk(_svc().list_runs, limit=limit, **filters)


def runs_page(**filters: Any) -> dict:
    """One page of runs: {"items", "total", "total_exact", "limit", "offset",
    "next_cursor"}; pass ``cursor=page["next_cursor"]`` for the next one."""
    return _svc().list_runs(**filters)


def get_run(run_id: str) -> dict:
    return _svc().get_run(run_id)


def cancel(run_id: str) -> dict:
    return _svc().cancel_run(run_id)


def retry(run_id: str) -> dict:
    return _svc().retry_run(run_id)


def output(run_id: str):
    """The run's output notebook as an nbformat NotebookNode."""
    import nbformat

    return nbformat.reads(_svc().run_output(run_id).decode(), as_version=4)


def log(run_id: str) -> str:
    return "\n".join(line["text"] for line in _svc().run_log(run_id)["lines"])


def log_metric(name: str, value: float, step: int | None = None) -> None:
    from . import log_metric as _log_metric

    _log_metric(name, value, step)


__all__ = [
    "create",
    "update",
    "get",
    "list_jobs",
    "pause",
    "resume",
    "delete",
    "run",
    "wait_for",
    "sweep",
    "sweep_results",
    "runs",
    "runs_page",
    "list_jobs_page",
    "get_run",
    "cancel",
    "retry",
    "output",
    "log",
    "log_metric",
]
