"""Start-up cost of the processes jupyter_mlinfra owns: the ``jupyter mlinfra`` CLI and the
local job workers (not kernels, not the Jupyter server).

jsonschema, imported by nbformat and so by papermill, builds the RFC 3987 IRI grammar with
Lark at import when the optional ``rfc3987-syntax`` package is installed (jupyter_events
brings it in): about 1.3 s of CPU, most of what ``jupyter mlinfra run NB`` cost. Only
jsonschema's ``iri`` format checks use that grammar; nbformat's notebook validation does not
check formats, and nothing else these processes do validates IRIs. So they leave it out.
"""

from __future__ import annotations

import sys
from types import ModuleType


def skip_iri_grammar() -> None:
    """Make jsonschema's optional ``import rfc3987_syntax`` fail (it handles that: no IRI
    format checks). Only before jsonschema is imported; a no-op after."""
    if "jsonschema" not in sys.modules:
        # None in sys.modules is Python's documented "this import fails" marker
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


# papermill.iorw registers its remote-storage handlers at import by importing their client
# libraries if installed: pyarrow (which imports numpy) for HDFS, boto3 for S3, gcsfs, the
# Azure SDKs, PyGithub. With pyarrow and boto3 installed that is about half of importing
# papermill. These processes give papermill a notebook object and a local output file, never
# a remote path, so they import papermill.iorw without them (nothing else changes: the
# libraries import normally afterwards, e.g. boto3 for an S3 artifact store).
PAPERMILL_REMOTE_IO = (
    "pyarrow",
    "boto3",
    "gcsfs",
    "github",
    "azure.datalake.store",
    "azure.storage.blob",
    "azure.identity",
)


class _PapermillWithoutRemoteIO:
    """A meta path finder that wraps the loader of ``papermill.iorw`` (once)."""

    def find_spec(self, name, path=None, target=None):
        if name != "papermill.iorw":
            return None
        sys.meta_path.remove(self)
        import importlib.abc
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        real = spec.loader

        class Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return real.create_module(spec)

            def exec_module(self, module: ModuleType) -> None:
                blocked = [n for n in PAPERMILL_REMOTE_IO if n not in sys.modules]
                for n in blocked:
                    sys.modules[n] = None  # type: ignore[assignment]  # "import n" raises ImportError
                try:
                    real.exec_module(module)
                finally:
                    for n in blocked:
                        if n in sys.modules and sys.modules[n] is None:
                            del sys.modules[n]

        spec.loader = Loader()
        return spec


def lean_start() -> None:
    """What ``jupyter mlinfra`` and the job workers do first (never in users' processes)."""
    skip_iri_grammar()
    if "papermill.iorw" not in sys.modules and not any(
        isinstance(f, _PapermillWithoutRemoteIO) for f in sys.meta_path
    ):
        sys.meta_path.insert(0, _PapermillWithoutRemoteIO())
