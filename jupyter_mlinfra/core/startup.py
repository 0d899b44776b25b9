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


def skip_iri_grammar() -> None:
    """Make jsonschema's optional ``import rfc3987_syntax`` fail (it handles that: no IRI
    format checks). Only before jsonschema is imported; a no-op after."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)
