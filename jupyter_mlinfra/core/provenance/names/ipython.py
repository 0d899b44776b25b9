"""IPython syntax: magics and shell escapes.

- :func:`python_source`: a small fallback that turns an IPython cell read from a notebook into
  Python (the kernel recorder uses IPython's own transformer instead);
- :func:`inline_magic`: what a ``get_ipython().run_line_magic(...)`` / ``run_cell_magic(...)`` /
  ``system(...)`` / ``getoutput(...)`` call (IPython's rendering of ``%time x = f()``,
  ``%%bash``, ``!cmd``, ``x = !cmd``) runs: Python code to analyse, a shell command, or code the
  analysis cannot follow (``%run``);
- :func:`shell_effects`: the files a shell command reads and writes through its redirections.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import cast

_UNFOLLOWED_MAGICS = frozenset({"run", "store", "autoreload", "aimport"})
# Shell escapes (``!cmd``, ``x = !cmd``, ``%%bash``): redirections name the files they read and
# write; a command that may write files it does not name in a redirection is unfollowed.
_SHELL_MAGICS = frozenset({"bash", "sh", "script", "system", "sx"})
_SHELL_WRITE = re.compile(r"(?:^|[^<>&\d])(>>?)\s*([^\s;|&<>()]+)")
_SHELL_READ = re.compile(r"(?:^|[^<])<\s*([^\s;|&<>()]+)")
_SHELL_TEE = re.compile(r"\btee\s+(-a\s+)?([^\s;|&<>()-][^\s;|&<>()]*)")
_SHELL_WRITERS = re.compile(
    r"(?:^|[;&|(]\s*|\s)(cp|mv|rm|ln|wget|curl|tar|unzip|gunzip|gzip|bunzip2|touch|sed\s+-i|"
    r"python3?|bash|sh|make|jupyter|papermill|git|kaggle|dvc|aws|gsutil|rsync|scp|dd|split)\b"
)

_CELL_MAGIC_BODY_IS_PYTHON = {"time", "timeit", "capture", "prun", "debug"}
_LINE_MAGIC = re.compile(r"^(\s*)([%!].*)$")
_ASSIGN_MAGIC = re.compile(r"^(\s*)([A-Za-z_][\w, ]*)=\s*[%!].*$")


def python_source(source: str) -> str:
    """Best-effort Python from an IPython cell: line magics and shell escapes become ``pass``
    (``x = !ls`` keeps its assignment), a cell magic whose body is Python keeps the body."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        name = lines[0].lstrip()[2:].split(None, 1)[0] if lines[0].strip() != "%%" else ""
        if name in _SHELL_MAGICS:
            return f"get_ipython().run_cell_magic({name!r}, '', {chr(10).join(lines[1:])!r})"
        if name not in _CELL_MAGIC_BODY_IS_PYTHON:
            return "pass"
        lines = lines[1:]
    out = []
    for line in lines:
        m = _ASSIGN_MAGIC.match(line)
        if m:
            command = line.split("=", 1)[1].strip()
            value = (
                f"get_ipython().getoutput({command[1:]!r})" if command.startswith("!") else "None"
            )
            out.append(f"{m.group(1)}{m.group(2).strip()} = {value}")
            continue
        m = _LINE_MAGIC.match(line)
        if m:
            escape = m.group(2)
            if escape.startswith("!"):
                out.append(f"{m.group(1)}get_ipython().system({escape.lstrip('!')!r})")
            else:
                out.append(f"{m.group(1)}pass")
            continue
        if line.rstrip().endswith("?") and not line.lstrip().startswith("#"):
            out.append("pass")  # help syntax: obj?
            continue
        out.append(line)
    return "\n".join(out)


@dataclass
class InlineMagic:
    """What an IPython call found in a cell runs."""

    unfollowed: str | None = None  # a magic whose effects cannot be followed (``%run``)
    shell: str | None = None  # a shell command
    python: str | None = None  # Python code the magic runs in the namespace (``%time``)


def _on_ipython(func: ast.AST) -> bool:
    """``get_ipython().<something>``."""
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "get_ipython"
    )


def inline_magic(node: ast.Call) -> InlineMagic | None:
    """What ``get_ipython().run_line_magic('time', 'x = f()')`` (IPython's rendering of
    ``%time x = f()``), ``run_cell_magic``, ``system`` or ``getoutput`` runs; None for any
    other call."""
    func = node.func
    if not _on_ipython(func):
        return None
    attr = cast(ast.Attribute, func).attr
    if (
        attr in ("system", "getoutput")
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return InlineMagic(shell=node.args[0].value)
    if not (
        attr in ("run_line_magic", "run_cell_magic")
        and node.args
        and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)
    ):
        return None
    args = [cast(str, cast(ast.Constant, a).value) for a in node.args]  # checked above
    name = args[0]
    found = InlineMagic(unfollowed=f"%{name}" if name in _UNFOLLOWED_MAGICS else None)
    if name in _SHELL_MAGICS:
        found.shell = args[-1]
    elif name in _CELL_MAGIC_BODY_IS_PYTHON:
        code = args[-1]
        found.python = re.sub(r"^\s*(-\w+(\s+\d+)?\s+)*", "", code) if name == "timeit" else code
    return found


def shell_effects(command: str) -> list[tuple[str, str]]:
    """A shell command's effects, in the order they apply, as (kind, name) with kind "bind",
    "mutate", "read" (file pseudo-names) or "unfollowed": ``> out`` / ``tee out`` write,
    ``>> out`` / ``tee -a out`` append, ``< in`` reads; a path with shell expansion, or a
    command that may write files it does not name that way, is unfollowed."""

    def literal(path: str) -> bool:
        return not any(c in path for c in "{}$`*?~")

    out: list[tuple[str, str]] = []
    for op, path in _SHELL_WRITE.findall(command):
        if not literal(path):
            out.append(("unfollowed", f"!{command.strip()[:40]}"))
        else:
            out.append(("mutate" if op == ">>" else "bind", f"<file:{path}>"))
    for append, path in _SHELL_TEE.findall(command):
        if literal(path):
            out.append(("mutate" if append else "bind", f"<file:{path}>"))
    for path in _SHELL_READ.findall(command):
        if literal(path):
            out.append(("read", f"<file:{path}>"))
    writer = _SHELL_WRITERS.search(command)
    if writer:
        out.append(("unfollowed", f"!{writer.group(1)}"))
    return out
