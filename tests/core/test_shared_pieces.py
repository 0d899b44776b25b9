"""The pieces every capability shares instead of keeping its own copy: the environment that
re-opens a workspace in another process, the inventory of installed distributions, the
kernel-side module names core sends to kernels."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from importlib import metadata

from jupyter_mlinfra.core import kernel_protocol
from jupyter_mlinfra.core.config import resolve_config
from jupyter_mlinfra.core.distributions import installed_distributions
from jupyter_mlinfra.core.process_env import workspace_environment


def test_the_environment_reopens_the_same_workspace_in_another_process(workspace, tmp_path):
    workspace.config.settings.root_dir = str(tmp_path)
    workspace.config.settings.jobs_record_provenance = False
    env = workspace_environment(
        workspace.config, user="ada", settings=("root_dir", "jobs_record_provenance")
    )
    code = (
        "from jupyter_mlinfra.core.config import resolve_config; c = resolve_config(); "
        "print(c.catalog_url); print(c.artifact_root); print(c.home); "
        "print(c.settings.root_dir); print(c.settings.jobs_record_provenance); "
        "print(c.user)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert out[:6] == [
        workspace.config.catalog_url,
        workspace.config.artifact_root,
        str(workspace.config.home),
        str(tmp_path),
        "False",
        "ada",
    ]
    # and the settings it names read back as they were, in this process too
    again = resolve_config(environ=env)
    assert again.settings.jobs_record_provenance is False
    assert again.catalog_url == workspace.config.catalog_url


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("MLINFRA_")}


def test_a_run_and_a_model_list_the_same_distributions_under_the_same_names():
    from jupyter_mlinfra.core.jobs.execution import capture_environment
    from jupyter_mlinfra.core.models.capture import environment_lock

    run_packages = capture_environment()["packages"]
    assert run_packages == environment_lock() == installed_distributions()
    # names as each distribution declares itself (what pip freeze shows), in either list
    declared = {d.metadata["Name"] for d in metadata.distributions()}
    mixed_case = sorted(n for n in declared if n != n.lower())
    assert mixed_case and all(n in run_packages for n in mixed_case)
    for name, version in list(run_packages.items())[:20]:
        assert metadata.version(name) == version


def test_the_kernel_modules_core_names_exist():
    for name in (
        kernel_protocol.EXTENSION_MODULE,
        kernel_protocol.RECORDER_MODULE,
        kernel_protocol.TEMPLATE_MODULE,
    ):
        assert importlib.util.find_spec(name) is not None, name
