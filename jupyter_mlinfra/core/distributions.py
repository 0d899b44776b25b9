"""The inventory of installed Python distributions, one for every capability.

A run's environment (jobs) and a model version's environment lock (models) list the same
distributions under the same names: each as the distribution declares itself (``PyYAML``,
``scikit-learn``: what ``pip freeze`` shows and ``importlib.metadata.version`` accepts), the
one that imports first when several copies are on the path, sorted case-insensitively.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

_INSTALLED: dict[str, str] | None = None
_RUNTIME: dict[str, str] | None = None


def installed_distributions() -> dict[str, str]:
    """{name: version} of every installed distribution (read once per process)."""
    global _INSTALLED
    if _INSTALLED is None:
        found: dict[str, str] = {}
        for dist in metadata.distributions():  # in sys.path order: the first one imports
            name, version = _name_and_version(dist)
            if name:
                found.setdefault(name, version)
        _INSTALLED = dict(sorted(found.items(), key=lambda kv: (kv[0].lower(), kv[0])))
    return dict(_INSTALLED)


def _name_and_version(dist: metadata.Distribution) -> tuple[str | None, str]:
    """The ``Name`` and ``Version`` fields of a distribution's core metadata, read from its
    header block only. ``dist.metadata`` parses the whole file as an e-mail message, long
    description included: 0.3 s of CPU per process for ~200 distributions, against 0.02 s."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    if text is None:
        return None, ""
    fields: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():  # the headers end at a blank line
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version") and key not in fields:
            fields[key] = value.strip()
    return fields.get("Name") or None, fields.get("Version", "")


def runtime() -> dict[str, str]:
    """The interpreter and machine: python version, implementation, platform, executable,
    hostname."""
    global _RUNTIME
    if _RUNTIME is None:
        _RUNTIME = {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "executable": sys.executable,
            "hostname": platform.node(),
        }
    return dict(_RUNTIME)
