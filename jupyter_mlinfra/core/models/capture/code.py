"""6. The generating code: the notebook snapshot, the replay script, the git state and the
job run's parameters."""

from __future__ import annotations

import ast
import hashlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from .context import SessionContext
from .serializers import SerializedPart


def git_state(folder: str | os.PathLike) -> dict | None:
    """Commit, branch and dirty flag of the repository holding ``folder`` (None outside one)."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=folder, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    status = git("status", "--porcelain", "--untracked-files=no") or ""
    return {
        "commit": commit,
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status.strip()),
        "changed_files": [line[3:] for line in status.splitlines()][:50],
        "remote": git("config", "--get", "remote.origin.url"),
    }


def replay_script(context: SessionContext) -> tuple[list[dict], str]:
    """The cells that produced the model, in replay order, and the linear script they make.

    With provenance, the replay order of the model variable; without it, the session's whole
    input history (which is what ran, but may include cells the model does not depend on).
    """
    if context.replay and context.replay.get("cells"):
        cells = [
            {
                "cell_id": c.get("cell_id"),
                "execution_count": c.get("execution_count"),
                "source": c.get("source", ""),
            }
            for c in context.replay["cells"]
        ]
    else:
        cells = [
            {"cell_id": None, "execution_count": i + 1, "source": src}
            for i, src in enumerate(context.history)
            if src.strip()
        ]
    script = (
        "\n\n".join(
            f"# [{c['execution_count'] or 'running'}] cell {c['cell_id'] or '-'}\n"
            f"{c['source'].rstrip()}"
            for c in cells
        )
        + "\n"
    )
    return cells, script


def generating_code(
    context: SessionContext,
    notebook: str | None = None,
    run_id: str | None = None,
    parameters: dict | None = None,
    job_parameters: Callable[[str], dict | None] | None = None,
) -> tuple[dict, list[SerializedPart]]:
    """``code`` (working folder, notebook path and hash, replay order, git state, run id and
    parameters, variable) and its files: the notebook snapshot and ``replay.py``.

    ``job_parameters(run_id)`` looks up a job run's parameters (None when unknown); without
    it, or when it knows nothing, they come from the parameters cell papermill injected."""
    parts: list[SerializedPart] = []
    notebook = notebook or context.notebook_path or os.environ.get("JPY_SESSION_NAME")
    code: dict = {"cwd": os.getcwd(), "notebook_path": notebook, "notebook_sha256": None}
    folder = os.getcwd()
    if notebook:
        path = Path(notebook).expanduser()
        if not path.is_absolute():
            path = Path(os.getcwd()) / path
        if path.is_file() and path.suffix == ".ipynb":
            raw = path.read_bytes()
            parts.append(
                SerializedPart(
                    "notebook.ipynb",
                    "notebook",
                    raw,
                    "ipynb",
                    "application/x-ipynb+json",
                    loadable=False,
                )
            )
            code["notebook_sha256"] = hashlib.sha256(raw).hexdigest()
            folder = str(path.parent)
    cells, script = replay_script(context)
    code["replay_origin"] = (
        "provenance"
        if context.replay and context.replay.get("cells")
        else ("session history" if context.history else None)
    )
    if context.replay_error:
        code["replay_error"] = context.replay_error
    code["replay"] = [
        {"cell_id": c["cell_id"], "execution_count": c["execution_count"]} for c in cells
    ]
    if cells:
        parts.append(
            SerializedPart(
                "replay.py", "code", script.encode(), "python", "text/x-python", loadable=False
            )
        )
    code["git"] = git_state(folder)
    code["run_id"] = run_id
    if parameters is None and run_id and job_parameters is not None:
        parameters = job_parameters(run_id)
    if parameters is None:
        parameters = injected_parameters(context.history)
    code["parameters"] = parameters or {}
    code["variable"] = context.variable
    return code, parts


def injected_parameters(history: list[str]) -> dict:
    """The parameters of the cell papermill injected (``# Parameters``), from the session's
    history ({} when there is none)."""
    for cell in history:
        if cell.lstrip().startswith("# Parameters"):
            params: dict = {}
            try:
                for node in ast.parse(cell).body:
                    if (
                        isinstance(node, ast.Assign)
                        and len(node.targets) == 1
                        and isinstance(node.targets[0], ast.Name)
                    ):
                        params[node.targets[0].id] = ast.literal_eval(node.value)
            except (SyntaxError, ValueError):
                continue
            return params
    return {}
