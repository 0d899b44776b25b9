"""The ExtensionApp: builds one Workspace from the server's config and mounts the routes."""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp

from ..core.workspace import Workspace
from .routes import ROUTES


class MLInfraExtension(ExtensionApp):
    name = "jupyter_mlinfra"
    # The REST API lives under /mlinfra/api/; ExtensionApp's own default URL is unused.
    default_url = "/mlinfra/api/health"
    load_other_extensions = True

    def initialize_settings(self) -> None:
        assert self.serverapp is not None  # ExtensionApp sets it before initialize_settings
        workspace = Workspace.open(self.serverapp.config)
        if workspace.remote is not None:
            # remote mode: the central service holds the catalog and runs the scheduler;
            # this server forwards the panel's requests to it (ServiceProxyHandler)
            self.settings["mlinfra_workspace"] = workspace
            self.log.info(
                "jupyter_mlinfra: remote mode, the mlinfra service at %s", workspace.remote.url
            )
            return
        workspace.catalog.ensure_schema()  # fail at start-up, not on the first request
        if not workspace.config.settings.root_dir:
            # job notebooks live under the server's root, as the file browser shows it
            workspace.config.settings.root_dir = str(self.serverapp.root_dir)
        self.settings["mlinfra_workspace"] = workspace
        self.log.info(
            "jupyter_mlinfra: catalog %s, artifacts %s",
            workspace.catalog.describe()["url"],
            workspace.artifacts.describe()["root"],
        )
        for hook in STARTUP_HOOKS:
            hook(self, workspace)

    def initialize_handlers(self) -> None:
        base = "mlinfra/api"
        routes = ROUTES
        workspace = self.settings.get("mlinfra_workspace")
        if workspace is not None and workspace.remote is not None:
            from .remote_handlers import PROXY_ROUTES

            routes = PROXY_ROUTES
        elif getattr(self.serverapp, "runs_user_code", True) is False:
            # the central service: no caller's code (pickles, transforms) in its process
            from .remote_handlers import without_user_code

            routes = without_user_code(ROUTES)
        self.handlers.extend((rf"/{base}{pattern}", handler) for pattern, handler in routes)

    async def stop_extension(self) -> None:
        workspace = self.settings.get("mlinfra_workspace")
        for hook in SHUTDOWN_HOOKS:
            await hook(self, workspace)
        if workspace is not None:
            workspace.close()


# Capabilities that run background work in the server (the jobs scheduler) add callables here:
# STARTUP_HOOKS: f(app, workspace); SHUTDOWN_HOOKS: async f(app, workspace).
STARTUP_HOOKS: list = []
SHUTDOWN_HOOKS: list = []

from .jobs_handlers import start_jobs_scheduler, stop_jobs_scheduler

STARTUP_HOOKS.append(start_jobs_scheduler)
SHUTDOWN_HOOKS.append(stop_jobs_scheduler)
