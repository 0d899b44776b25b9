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
            name = dist.metadata["Name"] if dist.metadata else None
            if name:
                found.setdefault(name, dist.version)
        _INSTALLED = dict(sorted(found.items(), key=lambda kv: (kv[0].lower(), kv[0])))
    return dict(_INSTALLED)


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
