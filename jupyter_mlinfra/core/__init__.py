"""The core library: plain Python, no Jupyter server, tornado or IPython imports."""

from .deferred_imports import defer_rfc3987_syntax

defer_rfc3987_syntax()  # nbformat's jsonschema would compile 38 grammars at import: see there
