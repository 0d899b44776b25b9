"""3. The featurize and predict functions: serialized, and their readable source."""

from __future__ import annotations

import ast
import inspect
import os
import sys
import textwrap
import types
from collections.abc import Callable

from .context import SessionContext
from .serializers import SerializedPart


def _defined_in_session(fn: Callable) -> bool:
    module = getattr(fn, "__module__", None)
    filename = getattr(getattr(fn, "__code__", None), "co_filename", "") or ""
    return module == "__main__" or filename.startswith("<") or "ipykernel_" in filename


def _definition_from_text(text: str, name: str) -> str | None:
    """The source of ``def name`` (with its decorators) inside a cell's text."""
    try:
        tree = ast.parse(textwrap.dedent(text))
    except SyntaxError:
        return None
    lines = textwrap.dedent(text).splitlines()
    found = None
    for node in ast.walk(tree):
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.name == name
        ):
            found = node  # the last definition in the cell wins, as at run time
    if found is None:
        return None
    start = min([found.lineno] + [d.lineno for d in getattr(found, "decorator_list", [])])
    return "\n".join(lines[start - 1 : found.end_lineno]) + "\n"


def function_source(fn: Callable, context: SessionContext | None = None) -> dict:
    """Readable source of a function, and where it came from.

    Functions defined in notebook cells are taken from provenance's recorded cell source,
    then from the kernel's live cell cache, then from the session's input history (the most
    recent cell defining the name); functions from modules from their file.
    """
    name = getattr(fn, "__name__", None) or type(fn).__name__
    qualname = getattr(fn, "__qualname__", name)
    module = getattr(fn, "__module__", None)
    info: dict = {"name": name, "qualname": qualname, "module": module}
    if name == "<lambda>":
        try:
            info.update(source=textwrap.dedent(inspect.getsource(fn)), origin="inspect")
        except (OSError, TypeError):
            info.update(source=None, origin="unavailable")
        return info
    if _defined_in_session(fn):
        context = context or SessionContext()
        if context.cell_source is not None:
            cell = context.cell_source(name)
            source = _definition_from_text(cell, name) if cell else None
            if source:
                info.update(source=source, origin="provenance cell source")
                return info
        try:
            source = textwrap.dedent(inspect.getsource(fn))
            info.update(source=source, origin="kernel cell cache")
            return info
        except (OSError, TypeError):
            pass
        for cell in reversed(context.history):
            if name in cell:
                source = _definition_from_text(cell, name)
                if source:
                    info.update(source=source, origin="session history")
                    return info
        info.update(source=None, origin="unavailable")
        return info
    try:
        info.update(source=textwrap.dedent(inspect.getsource(fn)), origin=f"module {module}")
    except (OSError, TypeError):
        info.update(source=None, origin="unavailable")
    return info


def serialize_function(fn: Callable) -> bytes:
    """cloudpickle, with the function stored by value when it comes from the user's own
    module file (next to the notebook, say) rather than from an installed package: the
    batch-prediction job, ``serve`` or another machine can then load it without that file."""
    import cloudpickle

    module = _user_module(fn)
    if module is None:
        return cloudpickle.dumps(fn)
    cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(fn)
    finally:
        cloudpickle.unregister_pickle_by_value(module)


def _user_module(fn: Callable) -> types.ModuleType | None:
    """The module defining ``fn`` when it is a file outside the standard library and the
    installed packages (None for those, and for functions defined in the notebook)."""
    import sysconfig

    name = getattr(fn, "__module__", None)
    module = sys.modules.get(name) if name and name != "__main__" else None
    filename = getattr(module, "__file__", None)
    if module is None or not filename:
        return None
    real = os.path.realpath(filename)
    roots = {
        os.path.realpath(p)
        for p in (
            sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")
        )
        if p
    }
    return None if any(real.startswith(root + os.sep) for root in roots) else module


def capture_functions(
    featurize: Callable | None, predict: Callable | None, context: SessionContext
) -> tuple[dict, list[SerializedPart]]:
    """What the version keeps of its featurize and predict functions: their description
    (``code["functions"]``), each pickled, and their sources in one ``functions.py``."""
    functions: dict[str, dict] = {}
    parts: list[SerializedPart] = []
    sources: list[str] = []
    for label, fn in (("featurize", featurize), ("predict", predict)):
        if fn is None:
            continue
        src = function_source(fn, context)
        functions[label] = {k: v for k, v in src.items() if k != "source"}
        functions[label]["has_source"] = bool(src.get("source"))
        parts.append(SerializedPart(f"{label}.pkl", label, serialize_function(fn), "cloudpickle"))
        sources.append(
            f"# {label}: {src['qualname']} (source from {src['origin']})\n"
            + (src.get("source") or "# source unavailable\n")
        )
    if sources:
        parts.append(
            SerializedPart(
                "functions.py",
                "source",
                "\n\n".join(sources).encode(),
                "python",
                "text/x-python",
                loadable=False,
            )
        )
    return functions, parts
