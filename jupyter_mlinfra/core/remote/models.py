"""The model store over HTTP (placeholder until written)."""
