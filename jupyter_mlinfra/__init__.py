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


__all__ = ["__version__"]
