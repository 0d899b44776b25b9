"""``%load_ext jupyter_mlinfra``: registers the magics (and the capability hooks)."""

from __future__ import annotations

from . import commands  # noqa: F401  (registers the foundation subcommands)
from .magics import MLInfraMagics, usage
from . import models_magics  # noqa: F401  (%mlinfra model ...)
from . import features_magics  # noqa: F401  (%mlinfra feature ...)
from . import jobs_magics  # noqa: F401  (%mlinfra run/schedule/jobs/runs/sweep/cancel)

# Capabilities append f(ipython) / g(ipython) pairs: e.g. provenance starts its recorder here.
LOAD_HOOKS: list = []
UNLOAD_HOOKS: list = []

# Provenance: record every execution (kernel/provenance_recorder.py).
from . import provenance_magics  # noqa: E402,F401
from .provenance_recorder import start_recording, stop_recording  # noqa: E402

LOAD_HOOKS.append(start_recording)
UNLOAD_HOOKS.append(stop_recording)


def load_ipython_extension(ipython) -> None:
    MLInfraMagics.mlinfra.__doc__ = usage()
    ipython.register_magics(MLInfraMagics)
    for hook in LOAD_HOOKS:
        hook(ipython)


def unload_ipython_extension(ipython) -> None:
    for hook in UNLOAD_HOOKS:
        hook(ipython)
