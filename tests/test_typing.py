"""What a type checker sees of the package: the services ``Workspace.service`` returns carry
their types (an editor completes ``ws.service("jobs").submit``), and the package says it is
typed (PEP 561)."""

from __future__ import annotations

from pathlib import Path

from mypy import api as mypy_api

import jupyter_mlinfra

ROOT = Path(__file__).resolve().parents[1]

USE = """\
from jupyter_mlinfra.core.workspace import Workspace

ws = Workspace()
reveal_type(ws.service("jobs"))
reveal_type(ws.service("models"))
reveal_type(ws.service("features"))
reveal_type(ws.service("provenance"))
name: str = "jobs"
reveal_type(ws.service(name))
ws.service("jobs").no_such_method()
"""


def test_workspace_service_returns_the_service_type(tmp_path):
    snippet = tmp_path / "use_services.py"
    snippet.write_text(USE)
    stdout, stderr, _ = mypy_api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            str(snippet),
        ]
    )
    revealed = [
        line.split("Revealed type is ", 1)[1].strip('"')
        for line in stdout.splitlines()
        if "Revealed type is" in line
    ]
    assert revealed == [
        "jupyter_mlinfra.core.jobs.service.JobsService",
        "jupyter_mlinfra.core.models.service.ModelStore",
        "jupyter_mlinfra.core.features.service.FeatureService",
        "jupyter_mlinfra.core.provenance.service.ProvenanceService",
        "Any",
    ], stdout + stderr
    # a typo in a method name is caught before the notebook runs
    assert '"JobsService" has no attribute "no_such_method"' in stdout, stdout


def test_the_package_is_marked_typed():
    assert (Path(jupyter_mlinfra.__file__).parent / "py.typed").is_file()
