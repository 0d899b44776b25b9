"""Loading a version: its artifacts read back through the artifact store, verified against
the checksums the catalog recorded, and deserialized (the trust model is in ``service``)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, NotFound
from . import capture
from .loaded import LoadedModel
from .versions import ModelVersion

SPOOL_MAX_AGE = 86400  # seconds a spool file a crash left behind is kept


class EnvironmentMismatchWarning(UserWarning):
    """The environment loading a model differs from the one that registered it."""


@contextmanager
def _catalog_checksum(version: ModelVersion, artifact_name: str) -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:
        raise IntegrityError(
            f"artifact {artifact_name} of {version.ref} does not match the "
            f"checksum the catalog recorded: {exc.message}"
        ) from None


def read_artifact(workspace, version: ModelVersion, artifact_name: str) -> bytes:
    """The bytes of one artifact, verified against the checksum the catalog recorded."""
    entry = version.artifact(artifact_name)
    if entry is None:
        raise NotFound(f"{version.ref} has no artifact {artifact_name!r}")
    with _catalog_checksum(version, artifact_name):
        return workspace.artifacts.get(entry["key"], expected_sha256=entry["sha256"])


def read_text(workspace, version: ModelVersion, artifact_name: str) -> str:
    """A text artifact ("" when the version has none of that name)."""
    if version.artifact(artifact_name) is None:
        return ""
    return read_artifact(workspace, version, artifact_name).decode("utf-8", "replace")


def spool_folder(workspace) -> Path:
    """Where downloads are spooled before they are mapped (each file is unlinked once
    mapped; what a crash left behind is removed after a day)."""
    spool = workspace.config.home / "cache"
    spool.mkdir(parents=True, exist_ok=True)
    for stale in spool.glob("mlinfra-*.blob"):
        try:
            if time.time() - stale.stat().st_mtime > SPOOL_MAX_AGE:
                stale.unlink()
        except OSError:
            pass
    return spool


def load_parameters(workspace, version: ModelVersion, entry: dict) -> Any:
    """The fitted object, deserialized only from bytes that match the catalog's checksum.
    A joblib file is mapped copy-on-write (its arrays are paged in from the verified file
    rather than copied: a large model loads in the time of its download)."""
    if entry["format"] != "joblib":
        return capture.deserialize(
            entry["format"], read_artifact(workspace, version, entry["name"])
        )
    spool = spool_folder(workspace)
    with (
        _catalog_checksum(version, entry["name"]),
        workspace.artifacts.verified_file(
            entry["key"], expected_sha256=entry["sha256"], dir=spool
        ) as path,
    ):
        return capture.deserialize_file(entry["format"], path)


def load_version(workspace, version: ModelVersion, *, warn: bool = True) -> LoadedModel:
    """The model with its featurize and predict functions, ready to predict; warns
    (:class:`EnvironmentMismatchWarning`) when this environment differs from the recorded one."""
    parameters = next(
        (a for a in version.artifacts if a["kind"] == "parameters" and a.get("loadable", True)),
        None,
    )
    if parameters is None:
        raise IntegrityError(f"{version.ref} has no parameters artifact")
    model = load_parameters(workspace, version, parameters)
    functions = {}
    for label in ("featurize", "predict"):
        entry = version.artifact(f"{label}.pkl")
        if entry is not None:
            functions[label] = capture.deserialize(
                "cloudpickle", read_artifact(workspace, version, entry["name"])
            )
    diffs = capture.environment_differences(version.dependencies)
    if diffs and warn:
        warnings.warn(
            f"{version.ref} was registered in a different environment: " + "; ".join(diffs),
            EnvironmentMismatchWarning,
            stacklevel=4,
        )
    return LoadedModel(
        version=version,
        model=model,
        featurize=functions.get("featurize"),
        predict_fn=functions.get("predict"),
        environment_differences=diffs,
    )


__all__ = [
    "EnvironmentMismatchWarning",
    "read_artifact",
    "read_text",
    "load_version",
    "load_parameters",
    "spool_folder",
]
