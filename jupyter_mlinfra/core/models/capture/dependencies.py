"""4. The dependencies: Python, platform, the distributions the model and its functions come
from, and the full environment lock; differences with the loading environment."""

from __future__ import annotations

import importlib.metadata as importlib_metadata
import os
import platform
import sys
import types
from collections.abc import Callable
from typing import Any

from ...distributions import installed_distributions
from .definition import distribution_version, library_of
from .serializers import SerializedPart


def _modules_used_by(fn: Callable, seen: set[int] | None = None) -> set[str]:
    """Top-level modules a function reaches through its globals (and the helper functions it
    calls that were defined in the same session)."""
    seen = seen if seen is not None else set()
    if id(fn) in seen:
        return set()
    seen.add(id(fn))
    found: set[str] = set()
    module = getattr(fn, "__module__", None)
    if module and module != "__main__":
        found.add(module.split(".")[0])
    code = getattr(fn, "__code__", None)
    g = getattr(fn, "__globals__", {})
    if code is None:
        return found
    names = set(code.co_names)
    for const in code.co_consts:  # nested functions and comprehensions
        if isinstance(const, types.CodeType):
            names |= set(const.co_names)
    for name in names:
        value = g.get(name)
        if value is None:
            continue
        if isinstance(value, types.ModuleType):
            found.add(value.__name__.split(".")[0])
        elif isinstance(value, types.FunctionType):
            found |= _modules_used_by(value, seen)
        else:
            mod = getattr(value, "__module__", None) or type(value).__module__
            if isinstance(mod, str) and mod not in ("builtins", "__main__"):
                found.add(mod.split(".")[0])
    return found


def _model_modules(model: Any) -> set[str]:
    found = {library_of(model)}
    # Pipelines and meta-estimators: the classes of nested steps (one level of get_params).
    if hasattr(model, "get_params"):
        try:
            for value in model.get_params(deep=True).values():
                mod = type(value).__module__
                if mod not in ("builtins",) and not isinstance(value, (str, int, float, bool)):
                    found.add(mod.split(".")[0])
        except Exception:
            pass
    return found


_STDLIB = set(getattr(sys, "stdlib_module_names", ())) | {"__main__", "builtins"}


def environment_lock() -> dict[str, str]:
    """Every installed distribution with its exact version (read once per process)."""
    return installed_distributions()


def capture_dependencies(
    model: Any, functions: list[Callable], inputs: list[Any] | None = None
) -> dict:
    """Python, platform, the exact versions of the distributions the model, its functions and
    its input types (a DataFrame needs pandas) come from, and the full environment lock."""
    modules = _model_modules(model)
    for fn in functions:
        modules |= _modules_used_by(fn)
    for obj in inputs or []:
        if obj is not None and not isinstance(obj, (str, os.PathLike, dict)):
            modules.add((type(obj).__module__ or "").split(".")[0])
    packages: dict[str, str] = {}
    for top in sorted(m for m in modules if m and m not in _STDLIB):
        dist, version = distribution_version(top)
        if dist and version:
            packages[dist] = version
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": packages,
        "lock": environment_lock(),
    }


def environment_differences(recorded: dict) -> list[str]:
    """Human-readable differences between a recorded environment and this one."""
    diffs: list[str] = []
    now_py = platform.python_version()
    if recorded.get("python") and recorded["python"] != now_py:
        diffs.append(f"python {recorded['python']} recorded, {now_py} here")
    for dist, version in (recorded.get("packages") or {}).items():
        try:
            here = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            diffs.append(f"{dist} {version} recorded, not installed here")
            continue
        if here != version:
            diffs.append(f"{dist} {version} recorded, {here} here")
    if recorded.get("machine") and recorded["machine"] != platform.machine():
        diffs.append(f"machine {recorded['machine']} recorded, {platform.machine()} here")
    return diffs


def dependency_parts(dependencies: dict) -> list[SerializedPart]:
    """``dependencies`` without its lock (replaced by ``lock_size``), as two files:
    ``requirements.txt`` (the model's own packages) and ``environment-lock.txt``."""
    lock = dependencies.pop("lock")
    dependencies["lock_size"] = len(lock)
    return [
        SerializedPart(
            "requirements.txt",
            "dependencies",
            "".join(f"{d}=={v}\n" for d, v in dependencies["packages"].items()).encode(),
            "requirements",
            "text/plain",
            loadable=False,
        ),
        SerializedPart(
            "environment-lock.txt",
            "dependencies",
            (
                f"# python {dependencies['python']} on {dependencies['platform']}\n"
                + "".join(f"{d}=={v}\n" for d, v in lock.items())
            ).encode(),
            "requirements",
            "text/plain",
            loadable=False,
        ),
    ]
