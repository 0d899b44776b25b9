"""Artifacts in S3 or an S3-compatible store (MinIO...), through boto3.

Credentials come from boto3's standard chain (environment, shared files, instance roles);
``endpoint_url`` points at an S3-compatible service. Large objects go up and down in parallel
multipart transfers (boto3's transfer manager). S3 PUTs are atomic: an object is visible whole
or not at all, so an interrupted upload never leaves a partial artifact.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO
from urllib.parse import urlsplit

from ..errors import ConfigurationError, InvalidInput, NotFound
from .base import ArtifactStore

_MB = 1024 * 1024


def _whole_local_file(source: BinaryIO) -> bool:
    """``source`` is a regular file opened by path and positioned at its start."""
    import os

    name = getattr(source, "name", None)
    try:
        return isinstance(name, str) and os.path.isfile(name) and source.tell() == 0
    except (OSError, ValueError):
        return False


class _HashingSink:
    """A non-seekable file for the transfer manager, which then writes the parallel ranged
    downloads in order (buffering early parts): each part is hashed as it is written, on the
    transfer's IO thread, while later parts are still on the wire. The bytes are kept in
    memory, or written on to ``out`` (a file)."""

    def __init__(self, out: BinaryIO | None = None) -> None:
        self.chunks: list[bytes] = []
        self.hash = hashlib.sha256()
        self.size = 0
        self._out = out

    def seekable(self) -> bool:
        return False

    def write(self, data) -> int:
        chunk = bytes(data)
        self.hash.update(chunk)
        self.size += len(chunk)
        if self._out is not None:
            self._out.write(chunk)
        else:
            self.chunks.append(chunk)
        return len(chunk)

    def getvalue(self) -> bytes:
        return self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)


class S3ArtifactStore(ArtifactStore):
    backend = "s3"

    def __init__(self, url: str, endpoint_url: str | None = None, client=None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise InvalidInput(f"S3 artifact root must look like s3://bucket/prefix, got {url!r}")
        self.url = url
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.endpoint_url = endpoint_url
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url,
                config=Config(
                    max_pool_connections=32, retries={"max_attempts": 5, "mode": "standard"}
                ),
            )
        self.client = client
        from boto3.s3.transfer import TransferConfig

        self.transfer = TransferConfig(
            multipart_threshold=16 * _MB,
            multipart_chunksize=16 * _MB,
            max_concurrency=8,
            use_threads=True,
        )

    def _key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def _missing(self, exc) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        return code in ("404", "NoSuchKey", "NotFound")

    @contextmanager
    def _not_found_as_error(self, path: str) -> Iterator[None]:
        """S3's "no such key" inside the block becomes NotFound (other errors pass)."""
        from botocore.exceptions import ClientError

        try:
            yield
        except ClientError as exc:
            if self._missing(exc):
                raise NotFound(f"no artifact {path.removeprefix('refs/')!r}") from None
            raise

    def _write_object(self, path: str, source: BinaryIO, size: int | None = None) -> None:
        if size is not None and size < 16 * _MB:
            self.client.put_object(Bucket=self.bucket, Key=self._key(path), Body=source.read())
        elif _whole_local_file(source):
            # a file on disk (a streamed upload the service received): the transfer manager
            # reads each part from the file as it sends it, instead of queueing up to ten
            # 16 MiB parts in memory as it does for a file object
            self.client.upload_file(source.name, self.bucket, self._key(path), Config=self.transfer)
        else:
            self.client.upload_fileobj(source, self.bucket, self._key(path), Config=self.transfer)

    def _open_object(self, path: str) -> BinaryIO:
        with self._not_found_as_error(path):
            resp = self.client.get_object(Bucket=self.bucket, Key=self._key(path))
        return resp["Body"]

    def _read_object(self, path: str) -> bytes:
        return self._download(path, io.BytesIO()).getvalue()

    def _read_object_hashed(self, path: str) -> tuple[bytes, str]:
        sink = self._download(path, _HashingSink())
        return sink.getvalue(), sink.hash.hexdigest()

    def _copy_hashed(self, path: str, out: BinaryIO | None) -> tuple[str, int]:
        sink = self._download(path, _HashingSink(out))
        return sink.hash.hexdigest(), sink.size

    def _download(self, path: str, sink):
        """The object into ``sink`` (a file) through the transfer manager's parallel ranged
        GETs; returns the sink."""
        with self._not_found_as_error(path):
            self.client.download_fileobj(self.bucket, self._key(path), sink, Config=self.transfer)
        return sink

    def _object_exists(self, path: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(path))
            return True
        except ClientError as exc:
            if self._missing(exc):
                return False
            raise

    def _object_age(self, path: str) -> float:
        from datetime import datetime, timezone

        with self._not_found_as_error(path):
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(path))
        return (datetime.now(timezone.utc) - head["LastModified"]).total_seconds()

    def _delete_object(self, path: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(path))

    def _list_objects(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        full = self._key(prefix)
        strip = len(self.prefix) + 1 if self.prefix else 0
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for obj in page.get("Contents", []):
                yield obj["Key"][strip:]

    def describe(self) -> dict:
        return {
            "backend": self.backend,
            "root": self.url,
            "endpoint_url": self.endpoint_url or "AWS default",
        }


def check_bucket(store: S3ArtifactStore) -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    try:
        store.client.head_bucket(Bucket=store.bucket)
    except (ClientError, EndpointConnectionError, NoCredentialsError) as exc:
        raise ConfigurationError(f"cannot reach S3 bucket {store.bucket!r}: {exc}") from exc
