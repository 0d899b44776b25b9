"""``%load_ext jupyter_mlinfra``: registers the magics (and the capability hooks)."""

from __future__ import annotations

# Importing a magics module registers its %mlinfra subcommands.
from . import (
    commands,  # noqa: F401  (info)
    features_magics,  # noqa: F401  (feature ...)
    jobs_magics,  # noqa: F401  (run, schedule, jobs, runs, sweep, cancel)
    models_magics,  # noqa: F401  (model ...)
    provenance_magics,  # noqa: F401  (history, check, replay, verify)
)
from .magics import MLInfraMagics, usage
from .provenance_recorder import start_recording, stop_recording

# f(ipython) called on load / unload: provenance records every execution.
LOAD_HOOKS: list = [start_recording]
UNLOAD_HOOKS: list = [stop_recording]


def load_ipython_extension(ipython) -> None:
    MLInfraMagics.mlinfra.__doc__ = usage(full=True)
    ipython.register_magics(MLInfraMagics)
    for hook in LOAD_HOOKS:
        hook(ipython)


def unload_ipython_extension(ipython) -> None:
    for hook in UNLOAD_HOOKS:
        hook(ipython)
