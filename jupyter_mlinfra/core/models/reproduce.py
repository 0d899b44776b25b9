"""Reproduce a version: re-run what generated it in a fresh kernel and compare its metrics."""

from __future__ import annotations

import json
import math
import re
import tempfile
import time
from pathlib import Path

from ..process_env import workspace_environment
from ..shared_writes import CAPTURE_ARTIFACT_PREFIX, REPRODUCE_TAG, public_entries
from .modes import REGISTER_WRITE
from .versions import ModelVersion

_CELL_HEADER = re.compile(r"^# \[[^\]]*\] cell \S+\n", re.MULTILINE)


def _replay_notebook(script: str):
    import nbformat

    chunks = [c.strip("\n") for c in _CELL_HEADER.split(script) if c.strip()]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in chunks]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def compare_metrics(
    recorded: dict, reproduced: dict, tolerance: float, absolute_tolerance: float
) -> dict:
    out = {}
    for key in sorted(set(recorded) | set(reproduced)):
        old, new = recorded.get(key), reproduced.get(key)
        entry = {"recorded": old, "reproduced": new, "difference": None, "within_tolerance": False}
        if old is not None and new is not None:
            entry["difference"] = new - old
            entry["within_tolerance"] = math.isclose(
                new, old, rel_tol=tolerance, abs_tol=absolute_tolerance
            )
        out[key] = entry
    return out


def reproduce_version(
    store,
    version: ModelVersion,
    *,
    tolerance: float,
    absolute_tolerance: float,
    timeout: float | None,
    kernel_name: str | None,
    via_jobs: bool | None = None,
) -> dict:
    result: dict = {
        "ref": version.ref,
        "tolerance": tolerance,
        "absolute_tolerance": absolute_tolerance,
        "reproduced": False,
        "metrics": {},
        "error": None,
        "captured_writes": [],
    }
    if version.artifact("notebook.ipynb") is not None:
        import nbformat

        nb = nbformat.reads(store.read_artifact(version, "notebook.ipynb").decode(), as_version=4)
        result["source"] = "notebook snapshot"
    elif version.artifact("replay.py") is not None:
        nb = _replay_notebook(store.read_artifact(version, "replay.py").decode())
        result["source"] = "replay script"
    else:
        result["error"] = (
            f"{version.ref} kept no notebook snapshot and no replay script: "
            "there is nothing to re-run"
        )
        return result
    parameters = version.code.get("parameters") or None
    result["parameters"] = parameters or {}
    started = time.perf_counter()
    captured: list[dict] | None = None
    jobs = jobs_service(store.ws) if via_jobs is not False else None
    if via_jobs and jobs is None:
        from ..errors import InvalidInput

        raise InvalidInput("the jobs capability (submit_content, run_and_wait) is not available")
    if jobs is not None:
        try:
            captured = _run_as_job(
                store,
                jobs,
                version,
                nb,
                _notebook_folder(version),
                parameters,
                timeout,
                kernel_name,
                result,
            )
        except Exception as exc:  # the run could not be submitted or did not finish
            result["error"] = f"the re-run failed: {type(exc).__name__}: {exc}"[:2000]
            captured = []
    else:
        captured = _run_directly(store, version, nb, parameters, timeout, kernel_name, result)
    result["duration"] = round(time.perf_counter() - started, 2)
    result["duration_seconds"] = result["duration"]  # the contract's name; "duration" stays
    # every write to shared state the re-run attempted was captured, not applied
    result["captured_writes"] = public_entries(captured)
    captured = [
        c["payload"]
        for c in sorted(captured, key=lambda c: c.get("seq", 0))
        if c.get("kind") == REGISTER_WRITE and isinstance(c.get("payload"), dict)
    ]
    mine = [c for c in captured if c.get("name") == version.name]
    if not mine:
        result["error"] = result["error"] or (
            f"the re-run did not register {version.name} (it registered "
            f"{sorted({str(c.get('name')) for c in captured}) or 'nothing'})"
        )
        return result
    # a notebook may register several versions of the model: take the one built with the
    # same hyper-parameters (else the last one)
    same = [
        c
        for c in mine
        if (c.get("definition") or {}).get("hyperparameters")
        == version.definition.get("hyperparameters")
    ]
    rerun = (same or mine)[-1]
    result["metrics"] = compare_metrics(
        version.metrics, rerun.get("metrics") or {}, tolerance, absolute_tolerance
    )
    recorded_data = {d["role"]: d.get("content_sha256") for d in version.data}
    rerun_data = {d["role"]: d.get("content_sha256") for d in rerun.get("data") or []}
    result["data"] = {
        role: {"same": recorded_data.get(role) == rerun_data.get(role)}
        for role in sorted(set(recorded_data) | set(rerun_data))
    }
    result["reproduced"] = (
        result["error"] is None
        and bool(result["metrics"])
        and all(m["within_tolerance"] for m in result["metrics"].values())
    )
    if not version.metrics:
        result["error"] = result["error"] or f"{version.ref} recorded no metrics to compare"
    return result


def jobs_service(workspace):
    """The jobs service when it has the API reproduce and batch prediction need (a remote
    client may not), else None."""
    try:
        jobs = workspace.service("jobs")
    except Exception:
        return None
    needed = ("submit_content", "run_and_wait", "run_artifacts")
    return jobs if all(hasattr(jobs, name) for name in needed) else None


def _notebook_folder(version: ModelVersion) -> Path | None:
    """Where the notebook lived (its data paths are relative to it), if it still exists."""
    path = version.code.get("notebook_path")
    cwd = version.code.get("cwd")
    if path:
        full = Path(path) if Path(path).is_absolute() else Path(cwd or ".") / path
        if full.parent.is_dir():
            return full.parent.resolve()
    if cwd and Path(cwd).is_dir():
        return Path(cwd).resolve()
    return None


def _run_directly(store, version, nb, parameters, timeout, kernel_name, result) -> list[dict]:
    from ..notebook_execution import execute_notebook, load_notebook
    from ..shared_writes import CAPTURE_FILE_ENV

    result["executed_by"] = "shared notebook runner (in-process papermill, fresh kernel)"
    with tempfile.TemporaryDirectory(prefix="mlinfra-reproduce-") as tmp:
        capture_file = Path(tmp) / "captured.jsonl"
        capture_file.touch()
        env = {
            **workspace_environment(store.ws.config, user=store.ws.user),
            CAPTURE_FILE_ENV: str(capture_file),
        }
        folder = _notebook_folder(version)
        cwd = str(folder) if folder is not None else tmp
        try:
            execute_notebook(
                load_notebook(nb),
                Path(tmp) / "reproduced.ipynb",
                parameters=parameters,
                kernel_name=kernel_name,
                cwd=cwd,
                env=env,
                execution_timeout=timeout,
                record_provenance=False,
                notebook_path=version.code.get("notebook_path"),
            )
        except Exception as exc:  # the re-run failed: report it, do not raise
            result["error"] = f"the re-run failed: {type(exc).__name__}: {exc}"[:2000]
        return [json.loads(line) for line in capture_file.read_text().splitlines() if line.strip()]


def _run_as_job(
    store, jobs, version, nb, folder: Path | None, parameters, timeout, kernel_name, result
) -> list[dict]:
    """Submit the snapshot as a job run tagged ``mlinfra-reproduce`` (every write to shared
    state inside it is captured to the run's artifacts, not applied), in the notebook's
    folder when it still exists, and wait for it; when no scheduler serves the catalog, the
    run executes in this process."""
    options: dict = {"tags": [REPRODUCE_TAG, f"model:{version.name}:{version.version}"]}
    if timeout:
        options["timeout"] = timeout
    if kernel_name:
        options["kernel_name"] = kernel_name
    run = jobs.submit_content(
        nb,
        name=f"reproduce-{version.name}-{version.version}.ipynb",
        parameters=parameters,
        cwd=str(folder) if folder is not None else None,
        **options,
    )
    result["run_id"] = run["id"]
    result["executed_by"] = f"jobs service (run {run['id']})"
    final = jobs.run_and_wait(run["id"], timeout=timeout)
    if final["state"] != "succeeded":
        error = final.get("error") or {}
        result["error"] = (
            f"the re-run (job run {run['id']}) ended {final['state']}: "
            f"{error.get('type', '')} {error.get('message', '')}".strip()
        )[:2000]
    captured = []
    for artifact in jobs.run_artifacts(run["id"]):
        if artifact["name"].startswith(CAPTURE_ARTIFACT_PREFIX):
            captured.append(json.loads(store.ws.artifacts.get(artifact["key"])))
    captured.sort(key=lambda c: c.get("seq", 0))
    return captured
