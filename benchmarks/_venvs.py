"""`make bench-venvs`: one virtual environment per tool a user would pick instead of ours.

Feast, MLflow and ipyflow pin dependencies that clash with this package's (and with each
other's), so each gets its own venv under ``benchmarks/.venvs/<tool>/`` (gitignored),
pip-installed from the package index. The benchmarks drive each tool as a subprocess of its
venv's interpreter (``benchmarks/_feast_side.py``, ``_mlflow_side.py``; ipyflow's kernel).

A tool that does not install on this machine is not skipped silently: its venv gets a
``status.json`` with ``ok: false`` and the reason (pip's last lines), and the benchmark prints
"did not install: <reason>" where its rows would be. A venv whose requirements are unchanged
since its last successful install is kept as it is.

Run: ``python benchmarks/_venvs.py [tool ...]`` (default: every tool).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE / ".venvs"

# Lower bounds: the releases whose APIs the side scripts use.
TOOLS: dict[str, list[str]] = {
    # SQLite online store and the file offline store are Feast's defaults; the DuckDB offline
    # store is the extra.
    "feast": ["feast[duckdb]>=0.40", "pyarrow>=14", "pandas>=2.0"],
    # sklearn flavour; S3 artifact store through boto3.
    "mlflow": ["mlflow>=2.12", "scikit-learn>=1.3", "boto3>=1.28"],
    # ipyflow's kernel (``python -m ipyflow.kernel``).
    "ipyflow": ["ipyflow>=0.0.200", "psutil>=5.9"],
}
# What each side script imports, to check an install really works.
PROBES = {
    "feast": "import feast, duckdb",
    "mlflow": "import mlflow, sklearn, boto3",
    "ipyflow": "import ipyflow, ipyflow.kernel, ipykernel",
}
VERSION = "; from importlib.metadata import version; print(version({!r}))"


def python(tool: str) -> Path:
    return ROOT / tool / "bin" / "python"


def status(tool: str) -> dict:
    """``{"ok": bool, "reason": str, "version": str}`` (not installed yet: ok false)."""
    path = ROOT / tool / "status.json"
    if not path.exists():
        return {"ok": False, "reason": "venv not created (run `make bench-venvs`)"}
    return json.loads(path.read_text())


def unavailable(tool: str) -> str | None:
    """None when the tool's venv works, else the line a benchmark prints instead of its rows."""
    st = status(tool)
    return None if st.get("ok") else f"{tool}: did not install: {st.get('reason', '?')}"


def _digest(tool: str) -> str:
    return hashlib.sha256(json.dumps([sys.version_info[:2], TOOLS[tool]]).encode()).hexdigest()


def _reason(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR") or "rror:" in line]
    return " | ".join((errors or lines)[-3:])[:500] or "unknown error"


def ensure(tool: str) -> dict:
    home = ROOT / tool
    st = status(tool)
    if st.get("ok") and st.get("digest") == _digest(tool) and python(tool).exists():
        return st
    shutil.rmtree(home, ignore_errors=True)
    print(f"bench-venvs: installing {tool} ({' '.join(TOOLS[tool])})", flush=True)
    result: dict = {"digest": _digest(tool), "requirements": TOOLS[tool]}
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(home)
        pip = subprocess.run(
            [str(python(tool)), "-m", "pip", "install", "-q", *TOOLS[tool]],
            capture_output=True,
            text=True,
        )
        if pip.returncode != 0:
            result.update(ok=False, reason=_reason(pip.stderr + pip.stdout))
        else:
            probe = subprocess.run(
                [str(python(tool)), "-c", PROBES[tool] + VERSION.format(tool)],
                capture_output=True,
                text=True,
            )
            if probe.returncode != 0:
                result.update(
                    ok=False, reason="installed but does not import: " + _reason(probe.stderr)
                )
            else:
                result.update(ok=True, reason="", version=probe.stdout.strip())
    except Exception as exc:  # reported, never skipped silently
        result.update(ok=False, reason=f"{type(exc).__name__}: {exc}")
    home.mkdir(parents=True, exist_ok=True)
    (home / "status.json").write_text(json.dumps(result, indent=1))
    return result


def main(argv: list[str]) -> int:
    for tool in argv or list(TOOLS):
        st = ensure(tool)
        if st["ok"]:
            print(f"bench-venvs: {tool} {st['version']} ready ({python(tool)})")
        else:
            print(f"bench-venvs: {tool} did not install: {st['reason']}")
    return 0  # a tool that does not install is reported by its benchmark, not a make failure


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
