"""Predictions from the model store with the loaded models kept in memory.

``predict`` resolves a reference (an alias is re-resolved on every call, so moving it takes
effect at once), fills missing input columns from the online feature store, loads the version
once (``LoadedModels``: the most recently used versions stay loaded) and predicts with the
stored featurize then predict. The REST door's ``POST /models/{name}/predict`` is a call of it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from ..errors import InvalidInput, MLInfraError, quote
from .online import fill_features


class LoadedModels:
    """Loaded versions by version id, at most ``capacity`` of them (least recently used
    dropped first). Thread-safe: one load per version even when requests race for it."""

    def __init__(self, capacity: int = 16) -> None:
        self.capacity = capacity
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, store, version) -> Any:
        with self._lock:
            loaded = self._models.get(version.id)
            if loaded is not None:
                self._models.move_to_end(version.id)
                return loaded
            loading = self._loading.setdefault(version.id, threading.Lock())
        with loading:  # a second request for the same version waits for the first load
            with self._lock:
                loaded = self._models.get(version.id)
            if loaded is None:
                loaded = store.load(version.ref, warn=False)
                with self._lock:
                    self._models[version.id] = loaded
                    while len(self._models) > self.capacity:
                        self._models.popitem(last=False)
        with self._lock:
            self._loading.pop(version.id, None)
        return loaded

    def __contains__(self, version_id: str) -> bool:
        with self._lock:
            return version_id in self._models

    def __len__(self) -> int:
        with self._lock:
            return len(self._models)


LOADED_MODELS = LoadedModels()


def predict(
    workspace,
    name: str,
    records: list[dict],
    *,
    version: int | None = None,
    alias: str | None = None,
    features: Any = None,
    cache: LoadedModels | None = None,
) -> dict:
    """``{"model", "version", "predictions"}`` for ``records`` (JSON objects) with ``name``
    at ``version``, at ``@alias``, or its latest version."""
    store = workspace.service("models")
    if version is not None:
        ref = f"{name}:{int(version)}"
    elif alias:
        ref = f"{name}@{alias}"
    else:
        ref = name
    found = store.get(ref)
    records = fill_features(workspace, found, records, features)
    loaded = (cache if cache is not None else LOADED_MODELS).get(store, found)
    try:
        predictions = loaded.predict_records(records)
    except MLInfraError:
        raise
    except Exception as exc:
        raise InvalidInput(
            f"{found.ref} cannot predict these records: "
            f"{type(exc).__name__}: {quote(str(exc))[1:-1]}"
        ) from None
    return {"model": name, "version": found.version, "predictions": predictions}


__all__ = ["LOADED_MODELS", "LoadedModels", "predict"]
