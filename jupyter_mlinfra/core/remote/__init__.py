"""Remote mode: the Python API, the magics and the CLI talking to a central mlinfra service.

With ``service_url`` set (``c.MLInfra.service_url``, env ``MLINFRA_SERVICE_URL``), a
:class:`~jupyter_mlinfra.core.workspace.Workspace` opens no catalog and no artifact store: each
capability's service is an HTTP client (:data:`REMOTE_SERVICES`) with the public methods of
the core service, over one kept-alive ``requests.Session`` authenticated with
``MLINFRA_SERVICE_TOKEN`` (else ``JUPYTERHUB_API_TOKEN``, which JupyterHub gives single-user
servers and their kernels). The service decides who the caller is from that token.
"""

from __future__ import annotations

from .client import ServiceClient, ServiceUnavailable, service_token

# capability -> "module:Class" of its HTTP client
REMOTE_SERVICES: dict[str, str] = {
    "jobs": "jupyter_mlinfra.core.remote.jobs:RemoteJobs",
    "provenance": "jupyter_mlinfra.core.remote.provenance:RemoteProvenance",
    "models": "jupyter_mlinfra.core.remote.models:RemoteModels",
    "features": "jupyter_mlinfra.core.remote.features:RemoteFeatures",
}

__all__ = ["REMOTE_SERVICES", "ServiceClient", "ServiceUnavailable", "service_token"]
