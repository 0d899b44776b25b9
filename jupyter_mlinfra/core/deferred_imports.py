"""Third-party imports that cost seconds and are rarely used, made when first used.

``rfc3987_syntax`` (installed with ``jsonschema[format-nongpl]``, which Jupyter Server's
``jupyter_events`` requires) compiles 38 Lark grammars when it is imported, and
``jsonschema`` imports it at its own import, to check the ``iri`` formats. So every process
that imports ``nbformat`` (to read a notebook) paid 1-2 s of CPU on a quiet machine, 10 s and
more on a loaded one, before a run could start. The processes jupyter_mlinfra owns (the
CLI, the workers) leave the grammar out (``core/startup.py``); in users' processes
(``jobs.run``), which may validate IRIs themselves, it is deferred instead.

:func:`defer_rfc3987_syntax` puts a stand-in module in ``sys.modules`` whose
``is_valid_syntax`` (all jsonschema takes from it) and every other attribute import the real
module on first use, which then replaces the stand-in: the same answers, paid only by a
process that validates an IRI.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

_NAME = "rfc3987_syntax"
_lock = threading.Lock()


class _Deferred(types.ModuleType):
    """Stands for ``rfc3987_syntax`` until something uses it."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # the import system probing (__path__, __file__...)
            raise AttributeError(name)
        return getattr(_real(), name)


def _real() -> types.ModuleType:
    with _lock:
        module = sys.modules.get(_NAME)
        if isinstance(module, _Deferred):
            del sys.modules[_NAME]
            try:
                module = importlib.import_module(_NAME)
            except BaseException:
                if _STAND_IN is not None:
                    sys.modules[_NAME] = _STAND_IN  # as it was
                raise
        assert module is not None
        return module


def is_valid_syntax(*args: Any, **kwargs: Any) -> Any:
    return _real().is_valid_syntax(*args, **kwargs)


_STAND_IN: _Deferred | None = None


def defer_rfc3987_syntax() -> None:
    """Install the stand-in, unless ``rfc3987_syntax`` or jsonschema's format checks are
    imported already or the package is not installed."""
    global _STAND_IN
    if _NAME in sys.modules or "jsonschema._format" in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(_NAME)
    except (ImportError, ValueError):
        return
    if spec is None:
        return
    with _lock:
        if _NAME in sys.modules:
            return
        stand_in = _Deferred(_NAME, "a stand-in importing rfc3987_syntax when first used")
        stand_in.__spec__ = spec
        if spec.submodule_search_locations is not None:  # its submodules stay importable
            stand_in.__path__ = list(spec.submodule_search_locations)
        stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
        _STAND_IN = stand_in
        sys.modules[_NAME] = stand_in
