"""The installed package registers both Jupyter extensions: what `jupyter labextension list`
and `jupyter server extension list` show a user after `pip install`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import jupyter_mlinfra

VENV_BIN = Path(sys.executable).parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _jupyter(*args: str, tmp_path: Path) -> str:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    # The user's own config files must not enable or disable anything here.
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "jupyter-config")
    env.pop("JUPYTER_CONFIG_PATH", None)
    jupyter = VENV_BIN / "jupyter"
    result = subprocess.run(
        [str(jupyter) if jupyter.exists() else "jupyter", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return ANSI.sub("", result.stdout + result.stderr)


def _installed_labextension() -> Path | None:
    """The folder JupyterLab loads jupyter-mlinfra from, if any."""
    from jupyter_core.paths import jupyter_path
    from jupyterlab_server.config import get_federated_extensions

    found = get_federated_extensions(jupyter_path("labextensions")).get("jupyter-mlinfra")
    return Path(found["ext_path"]) if found else None


@pytest.fixture
def labextension_dir() -> Path:
    folder = _installed_labextension()
    if folder is None and not os.environ.get("CI"):
        pytest.skip(
            "the front end was not built (an editable install with "
            "SKIP_JUPYTER_BUILDER=1?): run `pip install -e .` or `make install`"
        )
    assert folder is not None, "jupyter-mlinfra is not installed in any labextensions folder"
    return folder


def test_labextension_is_listed_enabled_and_ok(labextension_dir, tmp_path):
    output = _jupyter("labextension", "list", tmp_path=tmp_path)
    line = next((ln for ln in output.splitlines() if "jupyter-mlinfra" in ln), None)
    assert line is not None, output
    assert re.search(
        rf"jupyter-mlinfra v{re.escape(jupyter_mlinfra.__version__)}\s+enabled\s+OK", line
    ), line
    # The bundle the listing points at is complete: its entry point and styles exist.
    package = json.loads((labextension_dir / "package.json").read_text())
    assert package["name"] == "jupyter-mlinfra"
    assert (labextension_dir / package["jupyterlab"]["_build"]["load"]).is_file()
    assert (labextension_dir / "static" / "style.js").is_file()


def test_server_extension_is_listed_enabled_and_valid(tmp_path):
    output = _jupyter("server", "extension", "list", tmp_path=tmp_path)
    assert re.search(r"^\s*jupyter_mlinfra\s+enabled\s*$", output, re.M), output
    assert re.search(rf"jupyter_mlinfra {re.escape(jupyter_mlinfra.__version__)} OK", output), (
        output
    )
