"""Artifact stores: a local folder by default, S3 by URL."""

from __future__ import annotations

from .base import ArtifactInfo, ArtifactStore, check_key
from .local import LocalArtifactStore


def open_artifact_store(root: str, s3_endpoint_url: str | None = None) -> ArtifactStore:
    """The store for an ``artifact_root`` setting: ``s3://bucket/prefix`` or a folder."""
    if root.startswith("s3://"):
        from .s3 import S3ArtifactStore  # boto3 is imported only when S3 is used

        return S3ArtifactStore(root, endpoint_url=s3_endpoint_url)
    return LocalArtifactStore(root)


__all__ = [
    "ArtifactInfo",
    "ArtifactStore",
    "LocalArtifactStore",
    "check_key",
    "open_artifact_store",
]
