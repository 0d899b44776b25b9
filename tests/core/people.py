"""Named users on one catalog: a workspace's storage seen by another identity, under the
workspace's configuration plus the deployment's ``teams`` / ``roles`` mappings (what the
server does for each request of a named user)."""

from __future__ import annotations


def workspace_as(ws, user: str, groups=(), **settings):
    from jupyter_mlinfra.core.config import resolve_config
    from jupyter_mlinfra.core.workspace import Workspace

    config = resolve_config()
    for name in ws.config.settings.trait_names(config=True):
        setattr(config.settings, name, getattr(ws.config.settings, name))
    for name, value in settings.items():
        setattr(config.settings, name, value)
    base = Workspace(config)
    base._catalog, base._artifacts = ws.catalog, ws.artifacts  # the same storage
    return base.for_user(user, groups=groups)
