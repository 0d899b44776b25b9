"""The artifact store interface, shared by the local-folder and S3 backends.

Layout under the root::

    blobs/sha256/<aa>/<digest>   immutable content, named by its SHA-256
    refs/<key>                   small JSON pointer {"sha256", "size", ...} for a named key

``put(key, data)`` writes the blob first and the ref last, each atomically, so a crash
mid-write leaves at most an unreferenced blob (removed by ``gc()``), never a visible partial
object. Every read verifies the SHA-256 of the bytes it returns against the ref and raises
:class:`IntegrityError` on a mismatch.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import BinaryIO

from ..errors import IntegrityError, InvalidInput, NotFound

CHUNK = 8 * 1024 * 1024
_KEY_RE = re.compile(r"^[A-Za-z0-9_.=@+-]+(/[A-Za-z0-9_.=@+-]+)*$")
# A key becomes a file path (one file name per part: at most 255 bytes on common file
# systems) or an S3 object key (at most 1024 bytes with the store's prefix and "refs/").
MAX_KEY_LENGTH = 768
MAX_KEY_PART_LENGTH = 255


@dataclass(frozen=True)
class ArtifactInfo:
    key: str
    sha256: str
    size: int
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def uri(self) -> str:
        return f"artifact:{self.key}"


def check_key(key: str) -> str:
    """Keys are relative slash-separated names of safe characters; no '..', no leading '/';
    at most MAX_KEY_LENGTH characters, MAX_KEY_PART_LENGTH between two slashes."""
    if isinstance(key, str) and (
        len(key) > MAX_KEY_LENGTH or any(len(part) > MAX_KEY_PART_LENGTH for part in key.split("/"))
    ):
        raise InvalidInput(
            f"artifact key {key[:60]!r}... is too long ({len(key)} characters): "
            f"at most {MAX_KEY_LENGTH}, and {MAX_KEY_PART_LENGTH} between two "
            "'/'"
        )
    if (
        not isinstance(key, str)
        or not _KEY_RE.match(key)
        or any(part in (".", "..") for part in key.split("/"))
    ):
        raise InvalidInput(
            f"invalid artifact key {str(key)[:100]!r}: use letters, digits and "
            "_.=@+- separated by '/'"
        )
    return key


def blob_path(digest: str) -> str:
    return f"blobs/sha256/{digest[:2]}/{digest}"


class VerifyingReader(io.RawIOBase):
    """A readable stream that hashes what passes through and checks it at the end."""

    def __init__(self, raw: BinaryIO, expected: str, size: int, label: str) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self._expected = expected
        self._size = size
        self._seen = 0
        self._label = label
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._raw.read(len(buffer))
        if not chunk:
            self._check()
            return 0
        n = len(chunk)
        buffer[:n] = chunk
        self._hash.update(chunk)
        self._seen += n
        if self._seen > self._size:
            self._check()
        return n

    def _check(self) -> None:
        if self._checked:
            return
        self._checked = True
        if self._seen != self._size or self._hash.hexdigest() != self._expected:
            raise IntegrityError(
                f"artifact {self._label} is corrupted: expected sha256 {self._expected} "
                f"({self._size} bytes), read {self._hash.hexdigest()} ({self._seen} bytes)"
            )

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def _check_content(info: ArtifactInfo, digest: str, size: int) -> None:
    if digest != info.sha256 or size != info.size:
        raise IntegrityError(
            f"artifact {info.key} is corrupted: expected sha256 {info.sha256} ({info.size} "
            f"bytes), read {digest} ({size} bytes)"
        )


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class ArtifactStore(ABC):
    """Content-addressed, checksummed storage of named artifacts."""

    backend = "abstract"

    # -- backend primitives -----------------------------------------------------------------
    @abstractmethod
    def _write_object(self, path: str, source: BinaryIO, size: int | None = None) -> None:
        """Atomically create the object at ``path`` from ``source``."""

    @abstractmethod
    def _open_object(self, path: str) -> BinaryIO:
        """Open the object for reading; raise NotFound when absent."""

    @abstractmethod
    def _object_exists(self, path: str) -> bool: ...

    @abstractmethod
    def _delete_object(self, path: str) -> None: ...

    @abstractmethod
    def _list_objects(self, prefix: str) -> Iterator[str]:
        """Paths (relative to the root) of the objects under ``prefix``."""

    @abstractmethod
    def _object_age(self, path: str) -> float:
        """Seconds since the object was written (NotFound when it is not there)."""

    @abstractmethod
    def describe(self) -> dict: ...

    # -- public API -------------------------------------------------------------------------
    def put(
        self,
        key: str,
        data: bytes | BinaryIO,
        metadata: dict | None = None,
        *,
        sha256: str | None = None,
    ) -> ArtifactInfo:
        """Store ``data`` (bytes or a readable binary file) under ``key``; return its info.

        ``sha256``: the digest of ``data`` (bytes only) when the caller computed it while
        producing the bytes (a serializer hashing as it writes), to skip a second pass. A
        wrong digest cannot go unnoticed: every read verifies the bytes against it.
        """
        check_key(key)
        source: BinaryIO
        if sha256 is not None and isinstance(data, bytes) and re.fullmatch(r"[0-9a-f]{64}", sha256):
            digest, size, source = sha256, len(data), io.BytesIO(data)
        else:
            digest, size, source = self._hash_source(data)
        path = blob_path(digest)
        if not self._object_exists(path):
            self._write_object(path, source, size)
        info = ArtifactInfo(key=key, sha256=digest, size=size, metadata=dict(metadata or {}))
        ref = json.dumps(info.to_dict(), sort_keys=True).encode()
        self._write_object(f"refs/{key}", io.BytesIO(ref), len(ref))
        return info

    def stat(self, key: str) -> ArtifactInfo:
        check_key(key)
        with self._open_object(f"refs/{key}") as fh:
            raw = fh.read()
        try:
            return ArtifactInfo(**json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise IntegrityError(f"artifact {key} has a damaged reference: {exc}") from exc

    def open(self, key: str) -> BinaryIO:
        """A stream of the artifact's bytes; the checksum is verified when it reaches the end."""
        info = self.stat(key)
        raw = self._open_object(blob_path(info.sha256))
        return io.BufferedReader(VerifyingReader(raw, info.sha256, info.size, key), CHUNK)

    def get(self, key: str, *, expected_sha256: str | None = None) -> bytes:
        """The artifact's bytes, verified. ``expected_sha256``: refuse (IntegrityError) a key
        that no longer points at the content a caller recorded (a catalog's checksum)."""
        info = self._checked_stat(key, expected_sha256)
        data, digest = self._read_object_hashed(blob_path(info.sha256))
        _check_content(info, digest, len(data))
        return data

    @contextmanager
    def verified_file(
        self, key: str, *, expected_sha256: str | None = None, dir: str | os.PathLike | None = None
    ) -> Iterator[str]:
        """A local file holding the artifact's bytes, verified before it is handed out: for
        readers that map files rather than copy bytes (joblib's ``mmap_mode``). Remote bytes
        go to a private temporary file in ``dir``, removed when the context exits (a mapping
        made inside stays valid); a local blob is handed out in place, read-only."""
        info = self._checked_stat(key, expected_sha256)
        with self._verified_blob_file(blob_path(info.sha256), info, dir) as path:
            yield path

    @contextmanager
    def _verified_blob_file(
        self, path: str, info: ArtifactInfo, dir: str | os.PathLike | None
    ) -> Iterator[str]:
        """Default: copy the object into a private temporary file, hashing as it goes."""
        fd, tmp = tempfile.mkstemp(dir=dir, prefix="mlinfra-", suffix=".blob")
        try:
            with os.fdopen(fd, "wb") as out:
                digest, size = self._copy_hashed(path, out)
            _check_content(info, digest, size)
            yield tmp
        finally:
            _unlink(tmp)

    def _copy_hashed(self, path: str, out: BinaryIO | None) -> tuple[str, int]:
        """Stream the object into ``out`` (None: only hash it); its SHA-256 and size."""
        digest, size = hashlib.sha256(), 0
        with self._open_object(path) as src:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if out is not None:
                    out.write(chunk)
        return digest.hexdigest(), size

    def _checked_stat(self, key: str, expected_sha256: str | None) -> ArtifactInfo:
        info = self.stat(key)
        if expected_sha256 is not None and info.sha256 != expected_sha256:
            raise IntegrityError(
                f"artifact {key} was replaced: expected sha256 {expected_sha256}, the store "
                f"has {info.sha256}"
            )
        return info

    def _read_object(self, path: str) -> bytes:
        """The whole object; backends override this with their fastest path."""
        with self._open_object(path) as fh:
            return fh.read()

    def _read_object_hashed(self, path: str) -> tuple[bytes, str]:
        """The whole object and its SHA-256 (backends may hash while the bytes arrive)."""
        data = self._read_object(path)
        return data, hashlib.sha256(data).hexdigest()

    def exists(self, key: str) -> bool:
        check_key(key)
        return self._object_exists(f"refs/{key}")

    def list(self, prefix: str = "") -> list[str]:
        prefix = prefix.strip("/")
        if prefix:
            check_key(prefix)
        base = "refs/" + (prefix + "/" if prefix else "")
        return sorted(p[len("refs/") :] for p in self._list_objects(base))

    def delete(self, key: str) -> None:
        """Remove the key. Its blob stays while other keys may share it; ``gc()`` frees it."""
        check_key(key)
        if not self._object_exists(f"refs/{key}"):
            raise NotFound(f"no artifact {key!r}")
        self._delete_object(f"refs/{key}")

    def gc(self, min_age: float = 3600.0) -> int:
        """Delete blobs no key refers to (left by deletes or by a crash mid-put) that are at
        least ``min_age`` seconds old. A ``put`` writes its blob before its key, so a younger
        unreferenced blob may be one that a write in progress is about to name: the age
        keeps gc safe to run beside writers."""
        live = set()
        for key in self.list():
            try:
                live.add(self.stat(key).sha256)
            except NotFound:  # deleted meanwhile
                continue
        removed = 0
        for path in list(self._list_objects("blobs/sha256/")):
            if path.rsplit("/", 1)[-1] in live:
                continue
            try:
                old_enough = self._object_age(path) >= min_age
            except NotFound:  # another gc removed it meanwhile
                continue
            if old_enough:
                self._delete_object(path)
                removed += 1
        return removed

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _hash_source(data: bytes | BinaryIO) -> tuple[str, int, BinaryIO]:
        if isinstance(data, (bytes, bytearray, memoryview)):
            data = bytes(data)
            return hashlib.sha256(data).hexdigest(), len(data), io.BytesIO(data)
        if not hasattr(data, "read"):
            raise InvalidInput("artifact data must be bytes or a readable binary file")
        if hasattr(data, "seekable") and data.seekable():
            start = data.tell()
            h = hashlib.sha256()
            size = 0
            while chunk := data.read(CHUNK):
                h.update(chunk)
                size += len(chunk)
            data.seek(start)
            return h.hexdigest(), size, data
        # A non-seekable stream: spool it so it can be read twice (hash, then upload).
        import tempfile

        spool = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)
        h = hashlib.sha256()
        size = 0
        while chunk := data.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
            spool.write(chunk)
        spool.seek(0)
        return h.hexdigest(), size, spool  # type: ignore[return-value]
