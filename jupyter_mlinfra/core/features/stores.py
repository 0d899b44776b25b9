"""What a feature service holds across identities: the online store (opened on first use from
``online_store_url``), the offline store, the sorted-rows cache of point-in-time joins and
the transforms loaded from the artifact store. The per-user services of a Jupyter server
share one :class:`FeatureStores`."""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..errors import InvalidInput
from .asof import SortedRowsCache
from .definitions import ViewVersion, load_transform
from .offline import OfflineStore
from .online import OnlineStore, open_online_store


class FeatureStores:
    def __init__(self, workspace) -> None:
        self._ws = workspace  # for its configuration and artifact store (not its identity)
        self.config = workspace.config
        self._online: OnlineStore | None = None
        self._offline: OfflineStore | None = None
        self._lock = threading.Lock()
        self.sorted = SortedRowsCache()
        self.transforms: dict[tuple[str, int], Callable] = {}

    @property
    def online(self) -> OnlineStore:
        if self._online is None:
            with self._lock:
                if self._online is None:
                    url = self.config.settings.online_store_url or ""
                    self._online = open_online_store(url, self.config.home)
        return self._online

    @property
    def offline(self) -> OfflineStore:
        if self._offline is None:
            with self._lock:
                if self._offline is None:
                    self._offline = OfflineStore(
                        self._ws.artifacts, self.config.home / "feature-cache"
                    )
        return self._offline

    def transform_of(self, version: ViewVersion) -> Callable:
        """The transform of a view version (loaded from the artifact store once)."""
        key = (version.view, version.version)
        func = self.transforms.get(key)
        if func is None:
            if not version.transform_key:
                raise InvalidInput(
                    f"feature view {version.view!r} version {version.version} was defined "
                    f"through the mlinfra service: its transform runs only in the caller's "
                    f"process (define it again with its transform here, or materialize and "
                    f"push from remote mode)"
                )
            func = load_transform(self._ws.artifacts.get(version.transform_key))
            self.transforms[key] = func
        return func

    def close(self) -> None:
        with self._lock:
            if self._online is not None:
                self._online.close()
                self._online = None
            if self._offline is not None:
                self._offline.close()
                self._offline = None
