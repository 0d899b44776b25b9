"""The feature store over HTTP (placeholder until written)."""
