"""``jupyter mlinfra service``: the central mlinfra service of a team deployment.

A jupyter_server ``ServerApp`` that serves only the mlinfra REST API (the same route table,
handlers and OpenAPI description as the server extension, under ``<base_url>mlinfra/api/``)
and runs the jobs scheduler. No kernels, contents, files, terminals or lab UI are served:
``default_services`` is empty and no other server extension is loaded.

It alone holds the catalog URL and the storage credentials (its own configuration:
``c.MLInfra.catalog_url``, ``MLINFRA_CATALOG_URL``...). Callers authenticate with
``Authorization: token <t>``:

- under JupyterHub (``JUPYTERHUB_API_TOKEN`` and ``JUPYTERHUB_SERVICE_URL`` set by the Hub for a
  managed service) the Hub says who the token belongs to and their groups
  (:class:`~.hub_identity.HubTokenIdentityProvider`); the service listens on the service URL's
  port, under ``JUPYTERHUB_SERVICE_PREFIX``;
- otherwise a static token table (:class:`~.hub_identity.StaticTokenIdentityProvider`,
  ``--tokens-file`` or ``MLINFRA_SERVICE_TOKENS_FILE``).
"""

from __future__ import annotations

import os
import secrets
from urllib.parse import urlsplit

from jupyter_server.serverapp import ServerApp
from jupyter_server.serverapp import aliases as server_aliases
from jupyter_server.serverapp import flags as server_flags
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from traitlets import Dict, Unicode, default

from ..core.jobs.run_tokens import SECRET_VARIABLE, RunTokens
from .hub_identity import HubTokenIdentityProvider, StaticTokenIdentityProvider, _TokenOnly

aliases = dict(server_aliases)
aliases.update({"tokens-file": "StaticTokenIdentityProvider.tokens_file"})
flags = dict(server_flags)


class NoFilesContentsManager(AsyncLargeFileManager):
    """The server's contents manager without its ``/files/`` handler: the service serves no
    files (jobs and provenance read notebooks under its root themselves)."""

    def get_extra_handlers(self) -> list:
        return []


def under_hub(environ=os.environ) -> bool:
    """Started by JupyterHub as a managed service."""
    return bool(environ.get("JUPYTERHUB_API_TOKEN") and environ.get("JUPYTERHUB_SERVICE_URL"))


class MLInfraServiceApp(ServerApp):
    name = "jupyter-mlinfra-service"
    description = (
        "The central mlinfra service: the mlinfra REST API and the jobs scheduler, "
        "holding the catalog and storage credentials; callers send a JupyterHub "
        "(or configured) token."
    )
    aliases = aliases
    flags = flags
    classes = [*ServerApp.classes, StaticTokenIdentityProvider, HubTokenIdentityProvider]

    # the mlinfra API only: no kernels, contents, files, sessions, terminals or lab pages
    default_services = ()  # type: ignore[assignment]  # ServerApp's type lists its 13 names
    # and no caller's code in this process (see remote_handlers.UserCodeRefusedHandler)
    runs_user_code = False

    jpserver_extensions = Dict({"jupyter_mlinfra": True}, help="Always only jupyter_mlinfra.")

    hub_service_url = Unicode(
        help="The URL JupyterHub gave this service (default $JUPYTERHUB_SERVICE_URL): its "
        "port is the one the service listens on."
    ).tag(config=True)

    @default("hub_service_url")
    def _hub_service_url_default(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_URL", "") if under_hub() else ""

    @default("contents_manager_class")
    def _contents_manager_class_default(self):
        return NoFilesContentsManager

    @default("identity_provider_class")
    def _identity_provider_class_default(self):
        return HubTokenIdentityProvider if under_hub() else StaticTokenIdentityProvider

    @default("port")
    def _port_default(self) -> int:
        if self.hub_service_url:
            parts = urlsplit(self.hub_service_url)
            return parts.port or (443 if parts.scheme == "https" else 80)
        return 8890

    @default("ip")
    def _ip_default(self) -> str:
        if self.hub_service_url:
            return urlsplit(self.hub_service_url).hostname or "127.0.0.1"
        return "127.0.0.1"

    @default("base_url")
    def _base_url_default(self) -> str:
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "") if under_hub() else ""
        return prefix or "/"

    @default("port_retries")
    def _port_retries_default(self) -> int:
        return 0  # its job kernels are told this port: fail rather than listen on another

    @default("open_browser")
    def _open_browser_default(self) -> bool:
        return False

    @default("allow_remote_access")
    def _allow_remote_access_default(self) -> bool:
        # every request carries its token (no cookie a foreign page could ride on), and
        # behind the Hub's proxy the Host header is the proxy's public name
        return True

    def find_server_extensions(self) -> None:
        """The extensions enabled in the Jupyter config path (jupyterlab...) are not loaded."""

    def init_server_extensions(self) -> None:
        self.jpserver_extensions = {"jupyter_mlinfra": True}
        super().init_server_extensions()

    def load_server_extensions(self) -> None:
        # Before the scheduler starts (with the extension): the job kernels of this
        # service's scheduler work in remote mode against it, with a run token, and hold no
        # catalog URL or storage credentials (execution.run_env). Its workers read it from
        # their environment.
        from ..core.config import resolve_config

        if not resolve_config(self.config).settings.jobs_service_url:
            os.environ["MLINFRA_JOBS_SERVICE_URL"] = self.own_url()
        super().load_server_extensions()
        if "mlinfra_workspace" not in self.web_app.settings:  # jupyter_server only logged it
            self.log.critical(
                "jupyter mlinfra service: the mlinfra API did not load (the "
                "error is above); stopping"
            )
            self.exit(1)

    def init_webapp(self) -> None:
        super().init_webapp()
        # run tokens for the job kernels of this service: the scheduler's workers (started
        # from this process's environment) sign them with this key, the identity providers
        # check them
        if not os.environ.get(SECRET_VARIABLE):
            os.environ[SECRET_VARIABLE] = secrets.token_hex(32)
        tokens = RunTokens(os.environ[SECRET_VARIABLE])
        if isinstance(self.identity_provider, _TokenOnly):
            self.identity_provider.run_tokens = tokens
        self.web_app.settings["mlinfra_run_tokens"] = tokens
        self.web_app.settings["mlinfra_service"] = True

    def own_url(self) -> str:
        """This service's URL as its job kernels on this machine reach it."""
        host = self.ip if self.ip not in ("", "0.0.0.0", "::", "*") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self.certfile else "http"
        return f"{scheme}://{host}:{self.port}{self.base_url}"


main = launch_new_instance = MLInfraServiceApp.launch_instance
