"""The facade every door builds: one configuration, one catalog, one artifact store, the services.

    from jupyter_mlinfra.core.workspace import Workspace
    ws = Workspace.open()            # files + environment, as the kernel and the CLI do
    ws.catalog, ws.artifacts         # shared storage
    ws.service("jobs")               # a capability's service, built lazily

Capabilities register in ``SERVICES`` as ``name -> "module:Class"``; each service class takes
the workspace in its constructor and has a ``status() -> dict`` used by the health endpoint and
the side panel.
"""

from __future__ import annotations

import copy
import importlib
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, overload

from .._version import __version__
from .config import ResolvedConfig, resolve_config
from .errors import ConfigurationError, NotFound
from .identity import Identity

if TYPE_CHECKING:  # SQLAlchemy and the stores are imported on first use (kernel start-up cost)
    from .artifacts import ArtifactStore
    from .catalog import Catalog
    from .features.service import FeatureService
    from .jobs.service import JobsService
    from .models.service import ModelStore
    from .provenance.service import ProvenanceService
    from .remote import ServiceClient

CAPABILITIES = ("provenance", "jobs", "models", "features")

# name -> "module:Class" of each capability's service
SERVICES: dict[str, str] = {
    "provenance": "jupyter_mlinfra.core.provenance.service:ProvenanceService",
    "jobs": "jupyter_mlinfra.core.jobs.service:JobsService",
    "models": "jupyter_mlinfra.core.models.service:ModelStore",
    "features": "jupyter_mlinfra.core.features.service:FeatureService",
}


class Workspace:
    def __init__(
        self,
        config: ResolvedConfig | None = None,
        *,
        user: str | None = None,
        groups: Iterable[str] = (),
    ) -> None:
        self.config = config or resolve_config()
        self.user = user or self.config.user
        # who acts: the user, their teams (authenticated groups + the configuration's
        # mapping) and roles; never a setting of the user's own choosing
        self.identity = Identity.resolve(self.config.settings, self.user, groups)
        self._catalog: Catalog | None = None
        self._artifacts: ArtifactStore | None = None
        self._services: dict[str, Any] = {}
        self._parent: Workspace | None = None
        self._lock = threading.RLock()
        # the job run whose kernel makes this request (the central service, a run token):
        # inside a reproduce re-run, its writes to shared state are captured (shared_writes)
        self.acting_run_id: str | None = None
        self.remote: ServiceClient | None = None  # remote mode: the central service's client
        if self.config.settings.service_url:
            from .remote import ServiceClient

            self.remote = ServiceClient(self.config.settings.service_url)

    @classmethod
    def open(cls, server_config=None, *, user: str | None = None) -> Workspace:
        return cls(resolve_config(server_config), user=user)

    # -- storage ----------------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        if self.remote is not None:
            raise self._remote_only("catalog")
        if self._catalog is None:
            with self._lock:
                if self._catalog is None:
                    from .catalog import Catalog

                    self.config.home.mkdir(parents=True, exist_ok=True)
                    self._catalog = Catalog(self.config.catalog_url)
        return self._catalog

    @property
    def artifacts(self) -> ArtifactStore:
        if self.remote is not None:
            raise self._remote_only("artifact store")
        if self._artifacts is None:
            with self._lock:
                if self._artifacts is None:
                    from .artifacts import open_artifact_store

                    self._artifacts = open_artifact_store(
                        self.config.artifact_root, self.config.s3_endpoint_url
                    )
        return self._artifacts

    # -- services ---------------------------------------------------------------------------
    # The remote clients (core/remote/*) have the same public methods as the core classes, so
    # the core class is the declared type in both modes.
    @overload
    def service(self, name: Literal["jobs"]) -> JobsService: ...
    @overload
    def service(self, name: Literal["models"]) -> ModelStore: ...
    @overload
    def service(self, name: Literal["features"]) -> FeatureService: ...
    @overload
    def service(self, name: Literal["provenance"]) -> ProvenanceService: ...
    @overload
    def service(self, name: str) -> Any: ...
    def service(self, name: str) -> Any:
        if name not in self._services:
            with self._lock:
                if name not in self._services:
                    self._services[name] = self._build_service(name)
        return self._services[name]

    def _remote_only(self, what: str) -> ConfigurationError:
        url = self.remote.url if self.remote is not None else self.config.settings.service_url
        return ConfigurationError(
            f"this workspace talks to the mlinfra service at {url} (service_url): "
            f"the {what} is the service's, not opened here"
        )

    def _build_service(self, name: str) -> Any:
        if self.remote is not None:
            from .remote import REMOTE_SERVICES

            spec = REMOTE_SERVICES.get(name)
            if spec is None:
                raise NotFound(f"capability {name!r} is not available through the mlinfra service")
            module_name, _, cls_name = spec.partition(":")
            return getattr(importlib.import_module(module_name), cls_name)(self, self.remote)
        if self._parent is not None:
            # A per-user view shares the parent's service (connections, caches) under
            # another identity: the service's own for_user(), else a shallow copy whose
            # `ws` is this workspace.
            base = self._parent.service(name)
            rebind = getattr(base, "for_user", None)
            if callable(rebind):
                return rebind(self)
            clone = copy.copy(base)
            clone.ws = self
            return clone
        spec = SERVICES.get(name)
        if spec is None:
            raise NotFound(f"capability {name!r} is not available in this version")
        module_name, _, cls_name = spec.partition(":")
        cls = getattr(importlib.import_module(module_name), cls_name)
        return cls(self)

    def for_user(self, user: str, groups: Iterable[str] = ()) -> Workspace:
        """The same storage seen as another identity (the server's per-request user, with
        the groups its identity provider authenticated)."""
        clone = Workspace(self.config, user=user, groups=groups)
        clone._catalog = self.catalog
        clone._artifacts = self.artifacts
        clone._parent = self
        return clone

    def capability_status(self) -> dict[str, dict]:
        return {name: {"available": True, **self.service(name).status()} for name in CAPABILITIES}

    def health(self) -> dict:
        """Version, backends and schema state; never a secret. In remote mode: the service's
        (as it sees the caller), with ``service_url``."""
        if self.remote is not None:
            return {**self.remote.call("GET", "health"), "service_url": self.remote.url}
        return {
            "status": "ok",
            "version": __version__,
            "user": self.user,
            "teams": list(self.identity.teams),
            "roles": sorted(self.identity.roles),
            "catalog": {
                **self.catalog.describe(),
                "schema_revisions": self.catalog.schema_revisions(),
                "catalog_id": self.catalog.info().get("catalog_id"),
            },
            "artifacts": self.artifacts.describe(),
            "capabilities": self.capability_status(),
        }

    def info_text(self) -> str:
        """What ``jupyter mlinfra info`` and ``%mlinfra info`` print."""
        from .text_table import render_table

        health = self.health()
        lines = [render_table(self.config.describe(), ["name", "value", "source"], max_width=None)]
        if self.config.files:
            lines.append("\nconfig files: " + ", ".join(self.config.files))
        catalog = health["catalog"]
        if self.remote is not None:
            lines.append(
                f"\nservice:     {self.remote.url} (remote mode: the service's "
                f"catalog and artifacts)"
            )
        lines.append(
            ("" if self.remote is not None else "\n")
            + f"catalog:     {catalog['backend']}  schema "
            f"{', '.join(catalog['schema_revisions'])}  id {catalog['catalog_id']}"
        )
        lines.append(
            f"artifacts:   {health['artifacts']['backend']}  {health['artifacts']['root']}"
        )
        lines.append(
            f"identity:    {health['user']}  teams {', '.join(health['teams']) or '-'}  "
            f"roles {', '.join(health['roles']) or '-'}"
        )
        for name, status in health["capabilities"].items():
            lines.append(
                f"{name + ':':<13}{'available' if status['available'] else status['message']}"
            )
        return "\n".join(lines)

    def close(self) -> None:
        """Release what the services and the catalog hold (connections, engines)."""
        for service in list(self._services.values()):
            closer = getattr(service, "close", None)
            if callable(closer):
                closer()
        self._services.clear()
        if self.remote is not None:
            self.remote.close()
        if self._catalog is not None:
            self._catalog.dispose()


_default: Workspace | None = None
_default_key: tuple | None = None
_default_sources_key: tuple | None = None
_default_lock = threading.Lock()
_sources: Any = None  # ConfigSources, made on first use


def get_workspace(*, refresh: bool = False) -> Workspace:
    """The process-wide workspace for plain Python and the kernel.

    The configuration is resolved once and again only when one of its sources changes (an
    ``MLINFRA_*`` or Jupyter path variable, a config file's mtime: see
    :class:`~.config.ConfigSources`), or with ``refresh=True``; the workspace is rebuilt when
    the resolved settings differ.
    """
    global _sources
    if _sources is None:
        from .config import ConfigSources

        _sources = ConfigSources()
    sources_key = _sources.key(force=refresh)
    current = _default
    if current is not None and not refresh and sources_key == _default_sources_key:
        return current
    return _rebuild_default(sources_key)


def _rebuild_default(sources_key: tuple) -> Workspace:
    global _default, _default_key, _default_sources_key
    config = resolve_config()
    key = (config.fingerprint(), _identity_key(config))
    with _default_lock:
        if _default is None or key != _default_key:
            if _default is not None:
                _default.close()
            _default = Workspace(config)
            _default_key = key
        _default_sources_key = sources_key
        return _default


def _identity_key(config: ResolvedConfig) -> str:
    """In remote mode the token is who the workspace acts as (it is not a setting): another
    token (``MLINFRA_SERVICE_TOKEN`` / ``JUPYTERHUB_API_TOKEN``) makes another workspace."""
    if not config.settings.service_url:
        return ""
    import hashlib

    from .remote.client import service_token

    return hashlib.sha256(service_token().encode()).hexdigest()
