"""``jupyter mlinfra enable-recording`` / ``disable-recording``: make every IPython kernel load
the extension (and so record provenance) from its first cell, without ``%load_ext``.

The switch is a marked block in an IPython kernel configuration file, the file IPython reads
when a kernel starts (``ipython_kernel_config.py``):

- ``user``: in the default profile of ``IPYTHONDIR`` (``~/.ipython/profile_default``);
- ``sys-prefix``: in ``<sys.prefix>/etc/ipython``, for the kernels of this environment.

The block appends to ``c.InteractiveShellApp.extensions`` (so other extensions configured
elsewhere stay) and only when ``jupyter_mlinfra`` is importable by the kernel's Python, so
kernels of environments without the package start as before. Enabling twice writes one block;
disabling removes exactly that block (and the file, when nothing else is left in it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..core.errors import InvalidInput

SCOPES = ("user", "sys-prefix")
CONFIG_NAME = "ipython_kernel_config.py"
BEGIN = "# >>> jupyter mlinfra enable-recording >>>"
END = "# <<< jupyter mlinfra enable-recording <<<"
BLOCK = f"""{BEGIN}
# Every IPython kernel loads jupyter_mlinfra, which records each cell execution from the
# kernel's first cell. Undo with: jupyter mlinfra disable-recording
import importlib.util as _mlinfra_util
if _mlinfra_util.find_spec("jupyter_mlinfra") is not None:
    c.InteractiveShellApp.extensions.append("jupyter_mlinfra")
del _mlinfra_util
{END}
"""


def config_path(scope: str) -> Path:
    """The kernel configuration file a scope writes."""
    if scope == "user":
        from IPython.paths import get_ipython_dir

        return Path(get_ipython_dir()) / "profile_default" / CONFIG_NAME
    if scope == "sys-prefix":
        return Path(sys.prefix) / "etc" / "ipython" / CONFIG_NAME
    raise InvalidInput(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def is_enabled(scope: str) -> bool:
    return BEGIN in _read(config_path(scope))


def enable(scope: str = "sys-prefix") -> dict:
    """Write the block (once); ``changed`` is False when it was already there."""
    path = config_path(scope)
    text = _read(path)
    if BEGIN in text:
        return {"scope": scope, "path": str(path), "enabled": True, "changed": False}
    path.parent.mkdir(parents=True, exist_ok=True)
    if text and not text.endswith("\n"):
        text += "\n"
    tmp = path.with_name(path.name + ".mlinfra-tmp")
    tmp.write_text(text + ("\n" if text else "") + BLOCK, encoding="utf-8")
    os.replace(tmp, path)
    return {"scope": scope, "path": str(path), "enabled": True, "changed": True}


def disable(scope: str = "sys-prefix") -> dict:
    """Remove exactly the block ``enable`` wrote; ``changed`` is False when there was none."""
    path = config_path(scope)
    text = _read(path)
    start = text.find(BEGIN)
    if start < 0:
        return {"scope": scope, "path": str(path), "enabled": False, "changed": False}
    end = text.find(END, start)
    end = len(text) if end < 0 else end + len(END)
    before, after = text[:start], text[end:]
    if after.startswith("\n"):
        after = after[1:]
    if before.endswith("\n\n"):
        before = before[:-1]  # the blank line enable put before the block
    rest = before + after
    if rest.strip():
        tmp = path.with_name(path.name + ".mlinfra-tmp")
        tmp.write_text(rest, encoding="utf-8")
        os.replace(tmp, path)
    else:
        path.unlink()
    return {"scope": scope, "path": str(path), "enabled": False, "changed": True}


def status() -> dict:
    """Where recording from the first cell is switched on (each scope, and either)."""
    scopes = {
        scope: {"enabled": is_enabled(scope), "path": str(config_path(scope))} for scope in SCOPES
    }
    return {"enabled": any(s["enabled"] for s in scopes.values()), "scopes": scopes}
