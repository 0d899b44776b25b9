"""jupyter_mlinfra: provenance, notebook jobs, a model store and a feature store in JupyterLab.

Everything here is lazy: importing the package costs nothing until a hook is used.
"""

from __future__ import annotations

from ._version import __version__


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyter-mlinfra"}]


def _jupyter_server_extension_points():
    from .server.app import MLInfraExtension

    return [{"module": "jupyter_mlinfra.server.app", "app": MLInfraExtension}]


def load_ipython_extension(ipython):
    from .kernel.extension import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython):
    from .kernel.extension import unload_ipython_extension as _unload

    _unload(ipython)


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Record a metric of the current job run (``MLINFRA_RUN_ID`` in the kernel's
    environment); outside a run it is printed and not stored."""
    from .core.jobs.inside import log_metric as _log_metric

    _log_metric(name, value, step)


def log_artifact(name: str, obj, **kwargs) -> dict | None:
    """Attach a table (DataFrame), a figure (matplotlib), bytes, text or a file path to the
    current job run as ``runs/<id>/artifacts/<name>``."""
    from .core.jobs.inside import log_artifact as _log_artifact

    return _log_artifact(name, obj, **kwargs)


__all__ = ["__version__"]
