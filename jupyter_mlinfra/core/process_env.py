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


# -- the kernels of a central service's job runs -------------------------------------------
# What a job kernel of the central service never inherits from the process that starts it
# (the service's own settings, its Hub token, database and cloud credentials): a user's
# notebook could read them and bypass every permission.
CREDENTIAL_PREFIXES = (
    "MLINFRA_",
    "AWS_",
    "JUPYTERHUB_",
    "PG",
    "AZURE_",
    "GOOGLE_",
    "GCS_",
    "MINIO_",
    "BOTO_",
)
CREDENTIAL_NAMES = frozenset({"DATABASE_URL", "JPY_API_TOKEN"})
RUN_TOKEN_MARGIN = 600.0  # seconds a run token outlives its run's timeout
RUN_TOKEN_LIFETIME = 7 * 86400.0  # of a run without a timeout (refused anyway once it ended)


def is_credential(name: str) -> bool:
    upper = name.upper()
    return upper.startswith(CREDENTIAL_PREFIXES) or upper in CREDENTIAL_NAMES


def without_credentials(environ: dict[str, str] | os._Environ) -> dict[str, str]:
    """``environ`` without the mlinfra settings and the credentials a job kernel of the
    central service must not hold (see CREDENTIAL_PREFIXES)."""
    return {k: v for k, v in environ.items() if not is_credential(k)}


def remote_run_environment(
    config: ResolvedConfig, *, run_id: str, owner: str, timeout: float | None = None
) -> dict[str, str]:
    """What a run's kernel gets when its scheduler has a ``jobs_service_url``: the service's
    URL, a run token signed for this run and its owner (expiring ``RUN_TOKEN_MARGIN`` after
    the run's timeout), the run id and the owner's name (display only: the service takes
    identity from the token), and a home of its own (the remote artifacts cache). Nothing
    that opens the catalog or the artifact store."""
    from .errors import ConfigurationError
    from .jobs.run_tokens import SECRET_VARIABLE, RunTokens

    secret = os.environ.get(SECRET_VARIABLE)
    if not secret:
        raise ConfigurationError(
            f"jobs_service_url is set but {SECRET_VARIABLE} is not: the run's kernel needs a "
            "token the service accepts (use the service's secret)"
        )
    lifetime = float(timeout) + RUN_TOKEN_MARGIN if timeout else RUN_TOKEN_LIFETIME
    return {
        "MLINFRA_SERVICE_URL": config.settings.jobs_service_url,
        "MLINFRA_SERVICE_TOKEN": RunTokens(secret).issue(owner, run_id, lifetime=lifetime),
        "MLINFRA_RUN_ID": run_id,
        "MLINFRA_USER": owner,
        "MLINFRA_HOME": str(config.home / "job-kernels"),
    }
