"""Capture of what a model version keeps: definition, serialized parameters, functions and
their source, dependencies, data fingerprints, generating code, figures and a signature.

Everything here is plain Python; the kernel door passes what only the kernel knows (the cell
history, provenance) through :class:`SessionContext`.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata as importlib_metadata
import inspect
import io
import json
import os
import platform
import queue
import subprocess
import sys
import textwrap
import threading
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import InvalidInput

# -- session context ----------------------------------------------------------------------------


@dataclass
class SessionContext:
    """What the calling kernel knows that plain Python does not.

    - ``history``: the cell sources executed in this session, in execution order (IPython's
      ``In``), used to find the source of functions defined in cells and as the fallback
      replay order when provenance is not available;
    - ``notebook_path``: the notebook the kernel runs (``JPY_SESSION_NAME``);
    - ``replay``: provenance's record for the model variable: ``{"cells": [{"cell_id",
      "execution_count", "source"}...], "hazards": [{"kind", "message"}...]}``;
    - ``cell_source``: ``f(function_name) -> source of the cell that defined it | None``
      (provenance's recorded cell source).
    """

    history: list[str] = field(default_factory=list)
    notebook_path: str | None = None
    variable: str | None = None
    replay: dict | None = None
    replay_error: str | None = None
    cell_source: Callable[[str], str | None] | None = None


# -- 1. definition ------------------------------------------------------------------------------


def _jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe rendering of a hyper-parameter value."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) \
            else str(value)
    if depth < 3 and isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in value]
    if depth < 3 and isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if hasattr(value, "get_params") and depth < 3:
        return {"class": f"{type(value).__module__}.{type(value).__qualname__}",
                "params": _jsonable(value.get_params(deep=False), depth + 1)}
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


_PD_CACHE: dict[str, list[str]] | None = None


def _packages_distributions() -> dict[str, list[str]]:
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
                if "__" in key and (value is None or isinstance(value, (bool, int, float,
                                                                        str))):
                    params[key] = _jsonable(value)
        except Exception:  # a half-implemented estimator API
            params = {}
    elif not isinstance(model, (types.FunctionType, types.BuiltinFunctionType)):
        public = {k: v for k, v in vars(model).items() if not k.startswith("_")} \
            if hasattr(model, "__dict__") else {}
        params = {k: _jsonable(v) for k, v in public.items()
                  if v is None or isinstance(v, (bool, int, float, str))}
    fitted = sorted(k for k in getattr(model, "__dict__", {}) if k.endswith("_")
                    and not k.startswith("_"))
    return {"class": cls.__qualname__, "module": cls.__module__,
            "library": library, "distribution": dist, "library_version": version,
            "hyperparameters": params, "fitted_attributes": fitted[:50],
            "doc": (inspect.getdoc(cls) or "").split("\n", 1)[0][:200]}


# -- 2. parameters ------------------------------------------------------------------------------


@dataclass
class SerializedPart:
    name: str              # file name inside the version ("model.joblib")
    kind: str              # parameters | native | featurize | predict | source | ...
    data: bytes
    format: str            # joblib | cloudpickle | xgboost-json | torch-state-dict | ...
    media_type: str = "application/octet-stream"
    loadable: bool = True  # the file the loader deserializes (vs. a companion for other tools)
    sha256: str | None = None  # computed while serializing (saves a pass over large models)


class HashingWriter(io.RawIOBase):
    """A write-only file collecting chunks with no buffer reallocation. The SHA-256 is
    computed on a second thread while the serializer goes on (hashlib releases the GIL on
    large chunks), and is ready when both finish."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._hash = hashlib.sha256()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        # a position lets joblib align arrays in the file, so that load can map them
        return self.size

    def write(self, data) -> int:
        chunk = data if isinstance(data, bytes) else bytes(data)
        self._chunks.append(chunk)
        self.size += len(chunk)
        self._queue.put(chunk)
        if self._thread is None:
            self._thread = threading.Thread(target=self._hash_chunks, daemon=True,
                                            name="mlinfra-hash")
            self._thread.start()
        return len(chunk)

    def _hash_chunks(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._hash.update(chunk)

    def getvalue(self) -> bytes:
        value = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks = [value]
        return value

    def hexdigest(self) -> str:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        return self._hash.hexdigest()


def _is_sklearn_like(model: Any) -> bool:
    return library_of(model) == "sklearn" or (hasattr(model, "get_params")
                                              and hasattr(model, "fit"))


def serialize_model(model: Any) -> list[SerializedPart]:
    """The fitted object (joblib for estimators, cloudpickle otherwise) plus the library's own
    format when it has one (loaded by the library's tools without Python pickles)."""
    parts: list[SerializedPart] = []
    writer = HashingWriter()
    if _is_sklearn_like(model):
        import joblib

        joblib.dump(model, writer)
        name, fmt = "model.joblib", "joblib"
    else:
        import cloudpickle

        cloudpickle.dump(model, writer, protocol=5)
        name, fmt = "model.pkl", "cloudpickle"
    parts.append(SerializedPart(name, "parameters", writer.getvalue(), fmt,
                                sha256=writer.hexdigest()))
    native = _native_format(model)
    if native is not None:
        parts.append(native)
    return parts


def _native_format(model: Any) -> SerializedPart | None:
    library = library_of(model)
    import tempfile

    try:
        if library == "xgboost" and hasattr(model, "save_model"):
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "model.ubj")
                model.save_model(path)
                return SerializedPart("model.xgb.ubj", "native", Path(path).read_bytes(),
                                      "xgboost-ubj", loadable=False)
        if library == "lightgbm":
            booster = getattr(model, "booster_", model)
            if hasattr(booster, "model_to_string"):
                return SerializedPart("model.lgb.txt", "native",
                                      booster.model_to_string().encode(), "lightgbm-text",
                                      "text/plain", loadable=False)
        if library == "torch" and hasattr(model, "state_dict"):
            import torch

            buffer = io.BytesIO()
            torch.save(model.state_dict(), buffer)
            return SerializedPart("model.state_dict.pt", "native", buffer.getvalue(),
                                  "torch-state-dict", loadable=False)
        if library == "catboost" and hasattr(model, "save_model"):
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "model.cbm")
                model.save_model(path)
                return SerializedPart("model.cbm", "native", Path(path).read_bytes(),
                                      "catboost-cbm", loadable=False)
        if library in ("keras", "tensorflow", "tf_keras") and hasattr(model, "save"):
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "model.keras")
                model.save(path)
                return SerializedPart("model.keras", "native", Path(path).read_bytes(),
                                      "keras", loadable=False)
    except Exception:  # the native export is a companion: never fail a registration for it
        return None
    return None


def deserialize_file(part_format: str, path: str) -> Any:
    """Load a verified joblib file with its numpy arrays memory-mapped copy-on-write (writable,
    private to this process; the pages come from the file as they are used). Files written
    without joblib's array alignment (before this version) are read whole instead."""
    import warnings

    import joblib

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = joblib.load(path, mmap_mode="c")
    if any("not byte aligned" in str(w.message) for w in caught):
        with open(path, "rb") as fh:
            return joblib.load(fh)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model


def deserialize(part_format: str, data: bytes) -> Any:
    if part_format == "joblib":
        import joblib

        return joblib.load(io.BytesIO(data))
    if part_format == "cloudpickle":
        import cloudpickle

        return cloudpickle.loads(data)
    raise InvalidInput(f"cannot load an artifact in format {part_format!r}")


# -- 3. functions and their source --------------------------------------------------------------


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
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and node.name == name:
            found = node  # the last definition in the cell wins, as at run time
    if found is None:
        return None
    start = min([found.lineno] + [d.lineno for d in getattr(found, "decorator_list", [])])
    return "\n".join(lines[start - 1: found.end_lineno]) + "\n"


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
        info.update(source=textwrap.dedent(inspect.getsource(fn)),
                    origin=f"module {module}")
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
    roots = {os.path.realpath(p) for p in (sysconfig.get_paths().get(k) for k in
                                           ("stdlib", "platstdlib", "purelib", "platlib")) if p}
    return None if any(real.startswith(root + os.sep) for root in roots) else module


# -- 4. dependencies ----------------------------------------------------------------------------


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
_LOCK_CACHE: dict[str, str] | None = None


def environment_lock() -> dict[str, str]:
    """Every installed distribution with its exact version (cached per process)."""
    global _LOCK_CACHE
    if _LOCK_CACHE is None:
        lock: dict[str, str] = {}
        for dist in importlib_metadata.distributions():
            name = dist.metadata.get("Name") if dist.metadata else None
            if name:
                lock.setdefault(name, dist.version)
        _LOCK_CACHE = dict(sorted(lock.items(), key=lambda kv: kv[0].lower()))
    return dict(_LOCK_CACHE)


def capture_dependencies(model: Any, functions: list[Callable],
                         inputs: list[Any] | None = None) -> dict:
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
    return {"python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(), "machine": platform.machine(),
            "packages": packages, "lock": environment_lock()}


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


# -- 5. data ------------------------------------------------------------------------------------


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(8 * 1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


def fingerprint_data(role: str, obj: Any) -> dict:
    """Reference and fingerprint of one dataset: schema, rows and content hash for frames and
    arrays; URI (plus size and hash when local) for paths; feature lineage of training
    frames built by the feature store (``frame.attrs["mlinfra_lineage"]``)."""
    entry: dict = {"role": role}
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(obj, (pd.DataFrame, pd.Series)):
        frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
        hashed = pd.util.hash_pandas_object(frame, index=True).to_numpy()
        h = hashlib.sha256(hashed.tobytes())
        h.update(json.dumps([str(c) for c in frame.columns]).encode())
        entry.update(kind="dataframe", rows=int(len(frame)),
                     schema={str(c): str(t) for c, t in frame.dtypes.items()},
                     content_sha256=h.hexdigest())
        lineage = getattr(obj, "attrs", {}).get("mlinfra_lineage")
        if lineage is not None:
            entry["lineage"] = json.loads(json.dumps(lineage, default=str))
        return entry
    try:
        import numpy as np

        if isinstance(obj, np.ndarray):
            data = np.ascontiguousarray(obj)
            h = hashlib.sha256(data.tobytes() if data.dtype != object
                               else repr(data.tolist()).encode())
            entry.update(kind="array", rows=int(obj.shape[0]) if obj.ndim else 1,
                         schema={"dtype": str(obj.dtype), "shape": list(obj.shape)},
                         content_sha256=h.hexdigest())
            return entry
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, (str, os.PathLike)):
        text = os.fspath(obj)
        entry.update(kind="uri", uri=text)
        if "://" not in text or text.startswith("file://"):
            path = Path(text.removeprefix("file://")).expanduser()
            if path.is_file():
                entry.update(uri=path.resolve().as_uri(), size=path.stat().st_size,
                             content_sha256=_file_digest(path))
        return entry
    if isinstance(obj, dict) and ("uri" in obj or "feature_view" in obj):
        entry.update(kind="reference", **json.loads(json.dumps(obj, default=str)))
        return entry
    raise InvalidInput(f"cannot fingerprint {role} data of type {type(obj).__name__}: pass a "
                       "DataFrame, an array, a path/URI or a dict with 'uri'")


# -- 6. generating code -------------------------------------------------------------------------


def git_state(folder: str | os.PathLike) -> dict | None:
    """Commit, branch and dirty flag of the repository holding ``folder`` (None outside one)."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True,
                                 timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    status = git("status", "--porcelain", "--untracked-files=no") or ""
    return {"commit": commit, "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
            "dirty": bool(status.strip()),
            "changed_files": [line[3:] for line in status.splitlines()][:50],
            "remote": git("config", "--get", "remote.origin.url")}


def replay_script(context: SessionContext) -> tuple[list[dict], str]:
    """The cells that produced the model, in replay order, and the linear script they make.

    With provenance, the replay order of the model variable; without it, the session's whole
    input history (which is what ran, but may include cells the model does not depend on).
    """
    if context.replay and context.replay.get("cells"):
        cells = [{"cell_id": c.get("cell_id"), "execution_count": c.get("execution_count"),
                  "source": c.get("source", "")} for c in context.replay["cells"]]
    else:
        cells = [{"cell_id": None, "execution_count": i + 1, "source": src}
                 for i, src in enumerate(context.history) if src.strip()]
    script = "\n\n".join(f"# [{c['execution_count'] or 'running'}] cell {c['cell_id'] or '-'}\n"
                         f"{c['source'].rstrip()}" for c in cells) + "\n"
    return cells, script


# -- 7. figures ---------------------------------------------------------------------------------


def render_figures(figures: Any) -> list[tuple[str, bytes]]:
    """PNG bytes of matplotlib figures: the ones passed in, or (``"open"``) every open figure
    when pyplot is in use."""
    if figures is None or figures == "open":
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is None:
            return []
        figures = [pyplot.figure(n) for n in pyplot.get_fignums()]
    elif not isinstance(figures, (list, tuple)):
        figures = [figures]
    rendered = []
    for i, fig in enumerate(figures, 1):
        if not hasattr(fig, "savefig"):
            raise InvalidInput(f"figure {i} is a {type(fig).__name__}, not a matplotlib figure")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        label = None
        try:
            label = fig.get_label() or (fig.axes[0].get_title() if fig.axes else None)
        except Exception:
            label = None
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in (label or ""))[:40]
        rendered.append((f"figure-{i}{'-' + safe if safe else ''}.png", buffer.getvalue()))
    return rendered


# -- signature ----------------------------------------------------------------------------------


def _column_spec(obj: Any) -> dict:
    try:
        import pandas as pd
        import numpy as np
    except ImportError:  # pragma: no cover
        return {"type": type(obj).__name__}
    if isinstance(obj, pd.DataFrame):
        return {"type": "dataframe",
                "columns": [{"name": str(c), "dtype": str(t)} for c, t in obj.dtypes.items()]}
    if isinstance(obj, pd.Series):
        return {"type": "series", "name": str(obj.name) if obj.name is not None else None,
                "dtype": str(obj.dtype)}
    if isinstance(obj, np.ndarray):
        return {"type": "ndarray", "dtype": str(obj.dtype), "shape": [None, *obj.shape[1:]]}
    if isinstance(obj, (list, tuple)):
        return {"type": "list", "length": len(obj)}
    return {"type": type(obj).__name__}


def infer_signature(example: Any, output: Any) -> dict:
    signature = {"inputs": _column_spec(example), "outputs": _column_spec(output)}
    try:
        import pandas as pd

        if isinstance(example, pd.DataFrame):
            head = example.head(5)
            signature["input_example"] = json.loads(head.to_json(orient="records",
                                                                 date_format="iso"))
    except ImportError:  # pragma: no cover
        pass
    return signature


def missing_columns(signature: dict, frame: Any) -> list[str]:
    """Columns of the registered input example that ``frame`` lacks (empty when the
    signature is not a DataFrame's or the input is not a DataFrame)."""
    inputs = (signature or {}).get("inputs") or {}
    if inputs.get("type") != "dataframe":
        return []
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        return []
    if not isinstance(frame, pd.DataFrame):
        return []
    return [c["name"] for c in inputs.get("columns", []) if c["name"] not in frame.columns]
