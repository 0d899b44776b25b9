"""1. The model definition: class, library (and its version), hyper-parameters."""

from __future__ import annotations

import importlib.metadata as importlib_metadata
import inspect
import sys
import types
from collections.abc import Mapping
from typing import Any


def _jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe rendering of a hyper-parameter value."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return (
            value if value == value and value not in (float("inf"), float("-inf")) else str(value)
        )
    if depth < 3 and isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in value]
    if depth < 3 and isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if hasattr(value, "get_params") and depth < 3:
        return {
            "class": f"{type(value).__module__}.{type(value).__qualname__}",
            "params": _jsonable(value.get_params(deep=False), depth + 1),
        }
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return _jsonable(value.item(), depth)
    except ImportError:  # pragma: no cover
        pass
    if callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', repr(value))}"
    text = repr(value)
    return text if len(text) <= 200 else text[:199] + "…"


def library_of(obj: Any) -> str:
    module = type(obj).__module__ or ""
    return module.split(".")[0]


def distribution_version(top_level: str) -> tuple[str | None, str | None]:
    """(distribution name, version) providing the importable top-level module."""
    dists = _packages_distributions().get(top_level) or []
    for dist in dists:
        try:
            return dist, importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            continue
    module = sys.modules.get(top_level)
    version = getattr(module, "__version__", None)
    return (top_level if version else None), (str(version) if version else None)


_PD_CACHE: Mapping[str, list[str]] | None = None


def _packages_distributions() -> Mapping[str, list[str]]:
    global _PD_CACHE
    if _PD_CACHE is None:
        _PD_CACHE = importlib_metadata.packages_distributions()
    return _PD_CACHE


def describe_definition(model: Any) -> dict:
    cls = type(model)
    library = library_of(model)
    dist, version = distribution_version(library)
    params: dict = {}
    if hasattr(model, "get_params"):
        try:
            params = _jsonable(model.get_params(deep=False))
            # nested estimators (pipelines, meta-estimators): their scalar parameters too,
            # as scikit-learn names them ("logisticregression__C"), so versions compare
            for key, value in model.get_params(deep=True).items():
                if "__" in key and (value is None or isinstance(value, (bool, int, float, str))):
                    params[key] = _jsonable(value)
        except Exception:  # a half-implemented estimator API
            params = {}
    elif not isinstance(model, (types.FunctionType, types.BuiltinFunctionType)):
        public = (
            {k: v for k, v in vars(model).items() if not k.startswith("_")}
            if hasattr(model, "__dict__")
            else {}
        )
        params = {
            k: _jsonable(v)
            for k, v in public.items()
            if v is None or isinstance(v, (bool, int, float, str))
        }
    fitted = sorted(
        k for k in getattr(model, "__dict__", {}) if k.endswith("_") and not k.startswith("_")
    )
    return {
        "class": cls.__qualname__,
        "module": cls.__module__,
        "library": library,
        "distribution": dist,
        "library_version": version,
        "hyperparameters": params,
        "fitted_attributes": fitted[:50],
        "doc": (inspect.getdoc(cls) or "").split("\n", 1)[0][:200],
    }
