"""Version states and the reproduce mode's names, shared by the registry, the registration
pipeline and ``reproduce`` (a leaf: it imports nothing from this package, so those modules
import it without importing each other)."""

READY = "ready"
ARCHIVED = "archived"
CAPTURED = "captured"  # a registration inside a reproduce re-run: recorded, not stored

REGISTER_WRITE = "models.register"
"""The kind of a registration in a reproduce re-run's capture log; ``reproduce`` reads the
metrics and data fingerprints of the re-run's registrations from these entries' payloads."""

__all__ = ["READY", "ARCHIVED", "CAPTURED", "REGISTER_WRITE"]
