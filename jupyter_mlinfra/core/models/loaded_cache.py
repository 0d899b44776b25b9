"""``models.load`` in a loop: a version loaded before in this process comes from memory.

A version's artifacts never change (the catalog holds their checksums), so the loaded object
of a version id can be kept: the most recently used :attr:`LoadedVersions.capacity` of them.
What a reference names can change (an alias moves, a new latest version, a version deleted),
so the reference is resolved again whenever the catalog may have changed: on a SQLite catalog
the file's ``PRAGMA data_version`` (a few microseconds; it changes when any connection, in any
process, commits) tells; on any other catalog every call resolves the reference (one catalog
read) and only the loading is skipped.

Every ``load`` hands out its own model object, as a fresh load would: a model changed in
place (refitted, its attributes set) never changes what the next ``load`` returns. The first
load of a version hands out the object it deserialized and keeps nothing of it; a version
loaded again is loaded once more and kept privately, and from then on each ``load`` gets a
deep copy of it (a small model copies in microseconds; a large model's arrays in about the
time of a memory copy, still far less than a download and a checksum).
"""

from __future__ import annotations

import copy
import dataclasses
import sqlite3
import threading
import warnings
from collections import OrderedDict
from typing import Any

from ..catalog.direct_sqlite import connect_at_heads, sqlite_path
from . import loading


class LoadedVersions:
    capacity = 16
    refs_capacity = 1024

    def __init__(self, catalog_url: str) -> None:
        self._url = catalog_url
        self._lock = threading.Lock()
        self._loaded: OrderedDict[str, Any] = OrderedDict()  # version id -> LoadedModel
        self._seen: OrderedDict[str, None] = OrderedDict()  # versions loaded once (not kept)
        # (identity, ref) -> (change token, ModelVersion): per-user views share this object,
        # and what a reference names (and whether it may be read) depends on who asks
        self._refs: dict[tuple[Any, str], tuple[Any, Any]] = {}
        self._conn: sqlite3.Connection | None = None
        self._conn_opened = sqlite_path(catalog_url) is None  # nothing to open elsewhere

    def _token(self, store) -> Any:
        """Changes whenever the catalog may have: None when that cannot be told cheaply."""
        if not self._conn_opened:
            with self._lock:
                if not self._conn_opened:
                    store.ws.catalog.ensure_schema()  # created or upgraded: then readable
                    self._conn = connect_at_heads(self._url)
                    self._conn_opened = True
        with self._lock:
            conn = self._conn
            return None if conn is None else conn.execute("PRAGMA data_version").fetchone()[0]

    def _resolve(self, store, ref: Any):
        if not isinstance(ref, str):
            return store.get(ref)
        token = self._token(store)
        key = (store.ws.identity, ref)
        if token is not None:
            hit = self._refs.get(key)
            if hit is not None and hit[0] == token:
                return hit[1]
        version = store.get(ref)  # read after the token: a later change makes a new token
        if token is not None:
            with self._lock:
                if len(self._refs) >= self.refs_capacity:
                    self._refs.clear()
                self._refs[key] = (token, version)
        return version

    def load(self, store, ref: Any, *, warn: bool = True):
        version = self._resolve(store, ref)
        with self._lock:
            loaded = self._loaded.get(version.id)
            if loaded is not None:
                self._loaded.move_to_end(version.id)
        if loaded is None:
            loaded = loading.load_version(store.ws, version, warn=warn)
            with self._lock:
                first = version.id not in self._seen
                if first:  # the caller owns this object: nothing of it is kept
                    self._seen[version.id] = None
                    while len(self._seen) > self.refs_capacity:
                        self._seen.popitem(last=False)
                else:  # loaded again: keep this one privately, hand out copies of it
                    self._loaded[version.id] = loaded
                    while len(self._loaded) > self.capacity:
                        self._loaded.popitem(last=False)
            if first:
                return loaded
        elif warn and loaded.environment_differences:
            warnings.warn(
                f"{version.ref} was registered in a different environment: "
                + "; ".join(loaded.environment_differences),
                loading.EnvironmentMismatchWarning,
                stacklevel=4,
            )
        try:  # the caller's own model (a change to it stays theirs)
            model = copy.deepcopy(loaded.model)
        except Exception:  # an object that cannot be copied (a lock, a handle): load it anew
            with self._lock:
                self._loaded.pop(version.id, None)
            return loading.load_version(store.ws, version, warn=False)
        return dataclasses.replace(loaded, version=version, model=model)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn, self._conn_opened = None, sqlite_path(self._url) is None
            self._refs.clear()
            self._loaded.clear()
            self._seen.clear()


__all__ = ["LoadedVersions"]
