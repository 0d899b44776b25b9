"""Files a call reads and writes, as pseudo-names (``<file:data.csv>``).

``open(path, "w"/"r"/"a")``, ``Path.write_text/read_text/open``, pandas ``to_*/read_*``, numpy
``save/savez/load``, ``joblib.dump/load`` and ``torch.save/load``, with a literal path,
``Path("...")``, ``os.path.join`` of literals, or a name the kernel resolves later
(``<file?:name|suffix>``). Shell redirections are read in ipython.py.
"""

from __future__ import annotations

import ast
import os
from typing import cast

from .nodes import argument, chain, qualified

_READ_FUNCS = frozenset(
    {
        "read_csv",
        "read_parquet",
        "read_json",
        "read_excel",
        "read_pickle",
        "read_feather",
        "read_table",
        "read_fwf",
        "read_hdf",
        "read_orc",
        "read_stata",
        "read_sas",
        "read_spss",
        "read_xml",
    }
)
_WRITE_METHODS = frozenset(
    {
        "to_csv",
        "to_parquet",
        "to_json",
        "to_excel",
        "to_pickle",
        "to_feather",
        "to_hdf",
        "to_orc",
        "to_stata",
        "to_xml",
        "tofile",
    }
)
_NUMPY_WRITES = {"save": ".npy", "savez": ".npz", "savez_compressed": ".npz", "savetxt": ""}
_NUMPY_READS = frozenset({"load", "loadtxt", "genfromtxt", "fromfile"})
_PATH_CALLS = frozenset({"Path", "PurePath", "PosixPath", "WindowsPath"})


def file_of(node: ast.AST | None, suffix: str = "") -> str | None:
    """The file pseudo-name of a path expression: a literal, ``Path("...")``,
    ``os.path.join("...", ...)`` of literals, or a name the kernel resolves later."""
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
        path = node.value
        return f"<file:{path if path.endswith(suffix) else path + suffix}>"
    if isinstance(node, ast.Name):
        return f"<file?:{node.id}|{suffix}>"
    if isinstance(node, ast.Call) and len(node.args) >= 1:
        parts = chain(node.func)
        if parts and parts[-1] in _PATH_CALLS and len(node.args) == 1:
            return file_of(node.args[0], suffix)
        if (
            parts
            and parts[-2:] == ["path", "join"]
            and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)
        ):
            pieces = [cast(str, cast(ast.Constant, a).value) for a in node.args]
            return file_of(ast.Constant(os.path.join(*pieces)), suffix)
    return None


def file_effects(call: ast.Call, modules: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(files read, files written, files appended to) by a call, as pseudo-names."""
    reads: list[str] = []
    writes: list[str] = []
    appends: list[str] = []
    func = call.func
    parts = chain(func)
    last = parts[-1] if parts else (func.attr if isinstance(func, ast.Attribute) else None)
    if last is None:
        return reads, writes, appends
    qual = qualified(parts, modules) if parts else None

    def add(bucket: list[str], node: ast.AST | None, suffix: str = "") -> None:
        name = file_of(node, suffix)
        if name:
            bucket.append(name)

    def by_mode(target: ast.AST | None, mode_node: ast.AST | None) -> None:
        mode = (
            mode_node.value
            if isinstance(mode_node, ast.Constant) and isinstance(mode_node.value, str)
            else "r"
        )
        add(
            writes
            if ("w" in mode or "x" in mode)
            else appends
            if ("a" in mode or "+" in mode)
            else reads,
            target,
        )

    if parts == ["open"] or qual in ("io.open", "builtins.open", "codecs.open"):
        by_mode(argument(call, 0, "file", "filename"), argument(call, 1, "mode"))
    elif last in _READ_FUNCS:
        add(reads, argument(call, 0, "filepath_or_buffer", "path", "path_or_buf", "io"))
    elif last in _WRITE_METHODS and isinstance(func, ast.Attribute):
        add(writes, argument(call, 0, "path_or_buf", "path", "excel_writer", "fname", "file"))
    elif last in ("read_text", "read_bytes") and isinstance(func, ast.Attribute):
        add(reads, func.value)
    elif last in ("write_text", "write_bytes") and isinstance(func, ast.Attribute):
        add(writes, func.value)
    elif last == "open" and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
        by_mode(func.value, argument(call, 0, "mode"))  # Path("x").open("w")
    elif qual and qual.startswith("numpy."):
        if last in _NUMPY_WRITES:
            add(writes, argument(call, 0, "file", "fname"), _NUMPY_WRITES[last])
        elif last in _NUMPY_READS:
            add(reads, argument(call, 0, "file", "fname"))
    elif qual and qual.startswith(("joblib.", "torch.")):
        if last in ("dump", "save"):
            add(writes, argument(call, 1, "filename", "f"))
        elif last == "load":
            add(reads, argument(call, 0, "filename", "f"))
    return reads, writes, appends
