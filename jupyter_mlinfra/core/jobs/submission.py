"""Submitting runs: of a notebook, of notebook content, of a job with its downstream
pipeline (the DAG expanded in dependency order), sweeps over a parameter grid, retries.
Every submission checks the owner's queue quota in the transaction that inserts its runs."""

from __future__ import annotations

import collections
import graphlib
import hashlib
import importlib.util
import itertools
import json
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..catalog.schema import utcnow
from ..errors import Conflict, InvalidInput, NotFound
from ..identity import DEFAULT_VISIBILITY, check_may_change
from . import validation as v
from .definitions import find_job, still_allowed
from .quotas import check_queue_quota
from .runs import readable_run
from .specs import RunOptions, new_id, root_dir
from .states import FINAL_STATES, RunState, Trigger, run_to_dict
from .tables import JobDefinition, Run, Sweep

MAX_SWEEP_RUNS = 10_000


def prepare_notebook_bytes(path: Path) -> bytes:
    """The snapshot stored for a run: the notebook as it is now (nbformat 4.5, cell ids)."""
    import nbformat

    from ..notebook_execution import load_notebook

    return nbformat.writes(load_notebook(path)).encode()


def prepared_notebook(ws, full: Path) -> tuple[bytes, dict | None]:
    """The snapshot of the notebook file ``full`` (:func:`prepare_notebook_bytes`) and its
    declared parameters (:func:`validation.notebook_parameters`), both read from one read of
    the file. Both are a pure function of the file's bytes and of the installed nbformat and
    papermill, so they are kept in a cache under the workspace home keyed by those: running
    an unchanged notebook again (``jupyter mlinfra run NB -p ...``) neither imports papermill
    and nbformat (about 0.5 s of CPU) nor parses it. Invalid notebooks are never cached."""
    raw = full.read_bytes()
    cache = _prepared_cache_path(ws, raw)
    if cache is not None:
        try:
            entry = json.loads(cache.read_text())
            declared = entry["parameters"]
            if declared is not None:
                params = v.DeclaredParameters(declared["names"])
                params.unparsed = list(declared["unparsed"])
                declared = params
            return entry["snapshot"].encode(), declared
        except (OSError, ValueError, KeyError, TypeError):
            pass  # missing or unreadable: computed again below
    declared = v.notebook_parameters(full)
    snapshot = prepare_notebook_bytes(full)
    if cache is not None and full.read_bytes() == raw:  # not changed while it was read
        try:
            entry = {
                "snapshot": snapshot.decode(),
                "parameters": None
                if declared is None
                else {"names": dict(declared), "unparsed": list(getattr(declared, "unparsed", []))},
            }
            cache.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", dir=cache.parent, suffix=".tmp", delete=False
            ) as f:
                json.dump(entry, f)
            os.replace(f.name, cache)
            _prune_prepared_cache(cache.parent)
        except (OSError, TypeError, ValueError, UnicodeDecodeError):
            pass  # a cache it cannot write (read-only home, odd defaults): no cache
    return snapshot, declared


PREPARED_CACHE_ENTRIES = 500  # notebook versions kept in the cache (the newest ones)


def _prune_prepared_cache(folder: Path) -> None:
    """Keep the newest PREPARED_CACHE_ENTRIES entries (only after adding one)."""
    entries = [e for e in os.scandir(folder) if e.name.endswith(".json")]
    if len(entries) <= PREPARED_CACHE_ENTRIES:
        return
    entries.sort(key=lambda e: e.stat().st_mtime_ns)
    for entry in entries[: len(entries) - PREPARED_CACHE_ENTRIES]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass


def _prepared_cache_path(ws, raw: bytes) -> Path | None:
    """The cache file for a notebook with these bytes under the installed nbformat and
    papermill (their package files' size and modification time stand for their versions:
    an upgrade or reinstall rewrites them), or None when they cannot be found."""
    from ..._version import __version__

    salt = [__version__]
    for package in ("nbformat", "papermill"):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.origin:
            return None
        st = os.stat(spec.origin)
        salt.append(f"{package}:{spec.origin}:{st.st_size}:{st.st_mtime_ns}")
    key = hashlib.sha256(raw)
    key.update("\0".join(salt).encode())
    return ws.config.home / "cache" / "prepared-notebooks" / f"{key.hexdigest()}.json"


def _snapshot(ws, run_id: str, full: Path, data: bytes | None = None) -> str:
    key = f"runs/{run_id}/input.ipynb"
    ws.artifacts.put(
        key,
        prepare_notebook_bytes(full) if data is None else data,
        metadata={"run_id": run_id, "source": str(full)},
    )
    return key


def new_run(
    ws,
    *,
    owner: str,
    notebook: str,
    parameters: dict,
    trigger: str,
    state: str,
    now: datetime,
    job: JobDefinition | None = None,
    like: Run | None = None,
    options: RunOptions | None = None,
    full: Path | None = None,
    snapshot: bytes | None = None,
    snapshot_key: str | None = None,
    cwd: str | None = None,
    run_id: str | None = None,
    job_id: str | None = None,
    attempt: int = 1,
    **extra: Any,
) -> Run:
    """A new run. Its options come from ``options``, else from ``like`` (the run retried)
    or the job, else the defaults; its snapshot is taken from the file ``full`` unless an
    existing ``snapshot_key`` (and ``cwd``) is given."""
    run_id = run_id or new_id()
    options = options or RunOptions()
    src = like if like is not None else job

    def pick(name: str, default: Any) -> Any:
        given = getattr(options, name)
        if given is not None:
            return given
        return getattr(src, name) if src is not None else default

    # who may read it: its job's visibility, else (a run of a notebook) the default, for
    # the team of its owner
    if job is not None and options.visibility not in (None, job.visibility):
        raise InvalidInput(
            f"a run of job {job.name} has the job's visibility "
            f"({job.visibility}); change the job's instead"
        )
    if snapshot_key is None:
        assert full is not None
        snapshot_key, cwd = _snapshot(ws, run_id, full, snapshot), str(full.parent)
    extra.setdefault("visibility", pick("visibility", DEFAULT_VISIBILITY))
    extra.setdefault("team", src.team if src is not None else ws.identity.team)
    return Run(
        id=run_id,
        job_id=job.id if job is not None else job_id,
        owner=owner,
        notebook=notebook,
        cwd=cwd,
        snapshot_key=snapshot_key,
        parameters=parameters,
        kernel_name=pick("kernel_name", None),
        state=state,
        trigger=trigger,
        priority=int(pick("priority", 0)),
        cpus=float(pick("cpus", 1.0)),
        memory_mb=int(pick("memory_mb", 0)),
        retries=int(pick("retries", 0)),
        retry_backoff=float(pick("retry_backoff", 30.0)),
        timeout=pick("timeout", None),
        tags=list(pick("tags", [])),
        attempt=attempt,
        created_at=now,
        queued_at=now if state == RunState.QUEUED.value else None,
        upstream_run_ids=[],
        progress={},
        history=[],
        environment={},
        output_text="",
        cancel_requested=False,
        **extra,
    )


def submit_notebook(
    ws,
    notebook: str,
    *,
    parameters: dict | None,
    base: str | None,
    trigger: str,
    options: RunOptions,
) -> dict:
    owner = ws.user
    full, relative = v.resolve_notebook(notebook, root_dir(ws.config.settings), base)
    snapshot, declared = prepared_notebook(ws, full)
    params = v.check_parameters(parameters, declared, relative)
    with ws.catalog.session() as s:
        check_queue_quota(ws, s, {owner: 1})
        run = new_run(
            ws,
            owner=owner,
            notebook=relative,
            full=full,
            snapshot=snapshot,
            parameters=params,
            trigger=trigger,
            state=RunState.QUEUED.value,
            options=options,
            now=utcnow(),
        )
        s.add(run)
        s.flush()
        return run_to_dict(run)


def submit_content(
    ws,
    content: Any,
    *,
    name: str,
    parameters: dict | None,
    cwd: str | None,
    trigger: str,
    options: RunOptions,
) -> dict:
    import nbformat

    from ..notebook_execution import load_notebook

    try:
        if isinstance(content, (bytes, str)):
            node = nbformat.reads(
                content.decode() if isinstance(content, bytes) else content, as_version=4
            )
        else:
            node = content
        nb = load_notebook(node)
    except Exception as exc:
        raise InvalidInput(f"{name} is not a valid notebook: {exc}") from exc
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snapshot.ipynb"
        nbformat.write(nb, path)
        params = v.check_parameters(parameters, v.notebook_parameters(path), name)
    data = nbformat.writes(nb).encode()
    owner = ws.user
    run_id = new_id()
    key = f"runs/{run_id}/input.ipynb"
    with ws.catalog.session() as s:
        check_queue_quota(ws, s, {owner: 1})
        ws.artifacts.put(key, data, metadata={"run_id": run_id, "source": name})
        run = new_run(
            ws,
            owner=owner,
            notebook=name,
            parameters=params,
            trigger=trigger,
            state=RunState.QUEUED.value,
            now=utcnow(),
            options=options,
            run_id=run_id,
            snapshot_key=key,
            cwd=str(Path(cwd).resolve()) if cwd else str(root_dir(ws.config.settings)),
        )
        s.add(run)
        s.flush()
        return run_to_dict(run)


def run_job(ws, ref: str, *, parameters: dict | None, trigger: str, options: RunOptions) -> dict:
    with ws.catalog.session() as s:
        job = find_job(ws, s, ref)
        check_may_change(ws.identity, job.owner, f"job {job.name}", "run")
        runs = create_pipeline(
            ws, s, job, now=utcnow(), trigger=trigger, parameters=parameters, options=options
        )
        s.flush()
        out = run_to_dict(runs[0], job_name=job.name)
        out["pipeline_run_ids"] = [r.id for r in runs]
        return out


def create_pipeline(
    ws,
    s: Session,
    job: JobDefinition,
    *,
    now: datetime,
    trigger: str,
    parameters: dict | None = None,
    options: RunOptions | None = None,
    tick_key: str | None = None,
    check_quota: bool = True,
) -> list[Run]:
    """The job's run (queued) and a waiting run of every active job downstream of it, in
    one pipeline; the job's run first, then the others in dependency order."""
    all_jobs = {j.id: j for j in s.scalars(select(JobDefinition))}
    downstream: dict[str, list[str]] = {}
    for j in all_jobs.values():
        for dep in j.depends_on or []:
            downstream.setdefault(dep, []).append(j.id)
    # the job and every active job reachable downstream of it (another user's job only
    # while the job it follows still lets it: see still_allowed)
    members = [job.id]
    seen = {job.id}
    for jid in members:
        for child in sorted(downstream.get(jid, [])):
            if (
                child not in seen
                and all_jobs[child].active
                and still_allowed(ws.config.settings, all_jobs[jid], all_jobs[child])
            ):
                seen.add(child)
                members.append(child)
    order = list(
        graphlib.TopologicalSorter(
            {m: [d for d in all_jobs[m].depends_on or [] if d in seen] for m in members}
        ).static_order()
    )
    # every run is owned by its own job's owner (and its kernel acts as that user)
    if check_quota:
        check_queue_quota(ws, s, dict(collections.Counter(all_jobs[m].owner for m in order)))
    pipeline_id = new_id() if len(order) > 1 else None
    runs: dict[str, Run] = {}
    for jid in order:
        j = all_jobs[jid]
        full = Path(j.root_dir) / j.notebook
        if not full.is_file():
            raise NotFound(
                f"job {j.name}: notebook {j.notebook} no longer exists under {j.root_dir}"
            )
        if jid == job.id:
            params = dict(j.parameters or {})
            if parameters:
                params.update(
                    v.check_parameters(parameters, v.notebook_parameters(full), j.notebook)
                )
            run = new_run(
                ws,
                owner=j.owner,
                notebook=j.notebook,
                full=full,
                parameters=params,
                trigger=trigger,
                state=RunState.QUEUED.value,
                job=j,
                options=options,
                now=now,
                pipeline_id=pipeline_id,
                tick_key=tick_key,
            )
        else:
            run = new_run(
                ws,
                owner=j.owner,
                notebook=j.notebook,
                full=full,
                parameters=dict(j.parameters or {}),
                trigger=Trigger.DEPENDENCY.value,
                state=RunState.WAITING.value,
                job=j,
                now=now,
                pipeline_id=pipeline_id,
            )
            run.upstream_run_ids = [runs[d].id for d in j.depends_on or [] if d in runs]
        runs[jid] = run
        s.add(run)
    return [runs[job.id]] + [runs[m] for m in order if m != job.id]


def sweep(
    ws,
    notebook: str | None,
    combos: list[dict],
    *,
    job: str | None,
    parameters: dict | None,
    base: str | None,
    options: RunOptions,
) -> dict:
    """One run per parameter combination (``combos``: from :func:`expand_grid`), each with
    the fixed ``parameters`` (and, for a job, the job's) under it."""
    owner = ws.user
    with ws.catalog.session() as s:
        j = find_job(ws, s, job) if job is not None else None
        if j is not None:
            # a job's runs are its owner's, as in run_job
            check_may_change(ws.identity, j.owner, f"job {j.name}", "run")
            owner = j.owner
            full = Path(j.root_dir) / j.notebook
            relative = j.notebook
            fixed = {**(j.parameters or {}), **(parameters or {})}
        else:
            assert notebook is not None
            full, relative = v.resolve_notebook(notebook, root_dir(ws.config.settings), base)
            fixed = dict(parameters or {})
        # one read of the notebook for every run of the sweep (the snapshot each run keeps,
        # its parameters), from the prepared-notebooks cache when it is unchanged
        snapshot, declared = prepared_notebook(ws, full)
        checked = [v.check_parameters({**fixed, **c}, declared, relative) for c in combos]
        check_queue_quota(ws, s, {owner: len(checked)})
        sweep_id = new_id()
        s.add(
            Sweep(
                id=sweep_id,
                owner=owner,
                notebook=relative,
                job_id=j.id if j else None,
                grid=combos,
                created_at=utcnow(),
            )
        )
        now = utcnow()
        runs = []
        for i, params in enumerate(checked):
            # one microsecond apart: the grid's order is the queue's and the table's
            run = new_run(
                ws,
                owner=owner,
                notebook=relative,
                full=full,
                snapshot=snapshot,
                parameters=params,
                trigger=Trigger.SWEEP.value,
                state=RunState.QUEUED.value,
                job=j,
                options=options,
                now=now + timedelta(microseconds=i),
                sweep_id=sweep_id,
            )
            s.add(run)
            runs.append(run)
        s.flush()
        return {
            "id": sweep_id,
            "notebook": relative,
            "grid": combos,
            "run_ids": [r.id for r in runs],
            "runs": [run_to_dict(r) for r in runs],
        }


def retry_run(ws, run_id: str) -> dict:
    """A new run of the same snapshot and parameters (trigger "retry", ``retry_of`` the old
    run): its own attempts count from 1, with the old run's ``retries`` all available."""
    with ws.catalog.session() as s:
        old = readable_run(ws, s, run_id)
        check_may_change(ws.identity, old.owner, f"run {old.id}")
        if old.state not in FINAL_STATES:
            raise Conflict(f"run {run_id} has not ended ({old.state}); cancel it first")
        check_queue_quota(ws, s, {old.owner: 1})
        new = new_run(
            ws,
            owner=old.owner,
            notebook=old.notebook,
            parameters=old.parameters,
            trigger=Trigger.RETRY.value,
            state=RunState.QUEUED.value,
            now=utcnow(),
            like=old,
            snapshot_key=old.snapshot_key,
            cwd=old.cwd,
            job_id=old.job_id,
            retry_of=old.id,
            sweep_id=old.sweep_id,
        )
        s.add(new)
        s.flush()
        return run_to_dict(new)


def expand_grid(grid: dict | list | None) -> list[dict]:
    """The parameter combinations of a sweep: the product of {name: [values]}, or a list
    of parameter dicts as given."""
    if isinstance(grid, dict):
        if not grid:
            raise InvalidInput("the sweep grid is empty")
        names = list(grid)
        values = []
        for name in names:
            vals = grid[name]
            if not isinstance(vals, (list, tuple)):
                vals = [vals]
            if not vals:
                raise InvalidInput(f"the sweep grid gives no values for {name}")
            values.append(list(vals))
        combos = [dict(zip(names, combo)) for combo in itertools.product(*values)]
    elif isinstance(grid, (list, tuple)):
        if not grid or not all(isinstance(c, dict) for c in grid):
            raise InvalidInput("a sweep list must be a non-empty list of parameter dicts")
        combos = [dict(c) for c in grid]
    else:
        raise InvalidInput("a sweep needs a grid {name: [values]} or a list of parameter dicts")
    if len(combos) > MAX_SWEEP_RUNS:
        raise InvalidInput(f"the sweep has {len(combos)} runs; at most {MAX_SWEEP_RUNS}")
    return combos
