"""The IPython extension: the %mlinfra magics (and, with provenance, the execution recorder)."""
