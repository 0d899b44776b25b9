"""The environment that makes another process open the same workspace.

A job worker process, a Dask task, a run's kernel and the kernel that reproduces a model
version must all see the catalog and the artifact store of the process that started them,
whatever configuration files they find: they get these ``MLINFRA_*`` variables (which
override files, see :mod:`.config`) and open the workspace with :func:`open_workspace`.

    env = workspace_environment(ws.config, user=run.owner)
    env = workspace_environment(ws.config, settings=("root_dir", "jobs_record_provenance"))
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from .config import ENV_PREFIX, ResolvedConfig


def workspace_environment(
    config: ResolvedConfig, *, user: str | None = None, settings: Iterable[str] = ()
) -> dict[str, str]:
    """``MLINFRA_*`` variables for the same home, catalog, artifact store (and S3 endpoint);
    ``MLINFRA_USER`` when ``user`` is given; and each named setting that has a value (a
    boolean always: ``true`` or ``false``), written as the configuration reads it back."""
    env = {
        "MLINFRA_HOME": str(config.home),
        "MLINFRA_CATALOG_URL": config.catalog_url,
        "MLINFRA_ARTIFACT_ROOT": config.artifact_root,
    }
    if config.s3_endpoint_url:
        env["MLINFRA_S3_ENDPOINT_URL"] = config.s3_endpoint_url
    if user:
        env["MLINFRA_USER"] = user
    for name in settings:
        text = _env_text(getattr(config.settings, name))
        if text:
            env[ENV_PREFIX + name.upper()] = text
    return env


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value) if value else ""
    return str(value)


def open_workspace(env: dict[str, str]):
    """The workspace that ``env`` (from :func:`workspace_environment`) describes, opened in
    this process (whose environment it updates, as a worker process or task would have)."""
    os.environ.update(env)
    from .config import resolve_config
    from .workspace import Workspace

    return Workspace(resolve_config())
