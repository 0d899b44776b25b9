"""Reproduce a version: re-run what generated it in a fresh kernel and compare its metrics."""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import time
from pathlib import Path

from .versions import ModelVersion

_CELL_HEADER = re.compile(r"^# \[[^\]]*\] cell \S+\n", re.MULTILINE)


def _replay_notebook(script: str):
    import nbformat

    chunks = [c.strip("\n") for c in _CELL_HEADER.split(script) if c.strip()]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in chunks]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def _environment(store) -> dict[str, str]:
    """The kernel must see the same catalog and artifact store as the caller."""
    config = store.ws.config
    env = {"MLINFRA_CATALOG_URL": config.catalog_url,
           "MLINFRA_ARTIFACT_ROOT": config.artifact_root,
           "MLINFRA_HOME": str(config.home), "MLINFRA_USER": store.ws.user}
    if config.s3_endpoint_url:
        env["MLINFRA_S3_ENDPOINT_URL"] = config.s3_endpoint_url
    return env


def compare_metrics(recorded: dict, reproduced: dict, tolerance: float,
                    absolute_tolerance: float) -> dict:
    out = {}
    for key in sorted(set(recorded) | set(reproduced)):
        old, new = recorded.get(key), reproduced.get(key)
        entry = {"recorded": old, "reproduced": new, "difference": None,
                 "within_tolerance": False}
        if old is not None and new is not None:
            entry["difference"] = new - old
            entry["within_tolerance"] = math.isclose(new, old, rel_tol=tolerance,
                                                     abs_tol=absolute_tolerance)
        out[key] = entry
    return out


def reproduce_version(store, version: ModelVersion, *, tolerance: float,
                      absolute_tolerance: float, timeout: float | None,
                      kernel_name: str | None) -> dict:
    from ..notebook_execution import execute_notebook, load_notebook
    from .service import CAPTURE_ENV

    result: dict = {"ref": version.ref, "tolerance": tolerance,
                    "absolute_tolerance": absolute_tolerance, "reproduced": False,
                    "metrics": {}, "error": None}
    if version.artifact("notebook.ipynb") is not None:
        import nbformat

        nb = nbformat.reads(store.read_artifact(version, "notebook.ipynb").decode(),
                            as_version=4)
        result["source"] = "notebook snapshot"
    elif version.artifact("replay.py") is not None:
        nb = _replay_notebook(store.read_artifact(version, "replay.py").decode())
        result["source"] = "replay script"
    else:
        result["error"] = (f"{version.ref} kept no notebook snapshot and no replay script: "
                           "there is nothing to re-run")
        return result
    parameters = version.code.get("parameters") or None
    result["parameters"] = parameters or {}
    with tempfile.TemporaryDirectory(prefix="mlinfra-reproduce-") as tmp:
        capture_file = Path(tmp) / "captured.jsonl"
        capture_file.touch()
        env = {**_environment(store), CAPTURE_ENV: str(capture_file)}
        env.pop("MLINFRA_RUN_ID", None)
        recorded_cwd = version.code.get("cwd")
        cwd = recorded_cwd if recorded_cwd and os.path.isdir(recorded_cwd) else tmp
        output = Path(tmp) / "reproduced.ipynb"
        started = time.perf_counter()
        result["executed_by"] = "shared notebook runner (in-process papermill, fresh kernel)"
        try:
            jobs_runner = _jobs_runner(store)
            if jobs_runner is not None:
                result["executed_by"] = "jobs service"
                jobs_runner(nb, Path(tmp), parameters, env, cwd, timeout)
            else:
                execute_notebook(load_notebook(nb), output, parameters=parameters,
                                 kernel_name=kernel_name, cwd=cwd, env=env,
                                 execution_timeout=timeout, record_provenance=False,
                                 notebook_path=version.code.get("notebook_path"))
        except Exception as exc:  # the re-run failed: report it, do not raise
            result["error"] = f"the re-run failed: {type(exc).__name__}: {exc}"[:2000]
        result["duration"] = round(time.perf_counter() - started, 2)
        captured = [json.loads(line) for line in capture_file.read_text().splitlines()
                    if line.strip()]
    mine = [c for c in captured if c.get("name") == version.name]
    if not mine:
        result["error"] = result["error"] or (
            f"the re-run did not register {version.name} (it registered "
            f"{sorted({c.get('name') for c in captured}) or 'nothing'})")
        return result
    # a notebook may register several versions of the model: take the one built with the
    # same hyper-parameters (else the last one)
    same = [c for c in mine if (c.get("definition") or {}).get("hyperparameters")
            == version.definition.get("hyperparameters")]
    rerun = (same or mine)[-1]
    result["metrics"] = compare_metrics(version.metrics, rerun.get("metrics") or {},
                                        tolerance, absolute_tolerance)
    recorded_data = {d["role"]: d.get("content_sha256") for d in version.data}
    rerun_data = {d["role"]: d.get("content_sha256") for d in rerun.get("data") or []}
    result["data"] = {role: {"same": recorded_data.get(role) == rerun_data.get(role)}
                      for role in sorted(set(recorded_data) | set(rerun_data))}
    result["reproduced"] = result["error"] is None and bool(result["metrics"]) and all(
        m["within_tolerance"] for m in result["metrics"].values())
    if not version.metrics:
        result["error"] = result["error"] or f"{version.ref} recorded no metrics to compare"
    return result


def _jobs_runner(store):
    """The jobs service's submit-and-wait, when it offers one (see the report)."""
    from ..workspace import SERVICES

    if "jobs" not in SERVICES:
        return None
    return None
