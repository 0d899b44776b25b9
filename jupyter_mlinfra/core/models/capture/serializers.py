"""2. The parameters: the fitted object serialized (joblib for estimators, cloudpickle
otherwise) with its SHA-256 computed while it is written, and read back.

Native library formats (xgboost, lightgbm...) are written beside it by the exporters
registry (``..exporters``)."""

from __future__ import annotations

import hashlib
import io
import queue
import threading
from dataclasses import dataclass
from typing import Any

from ...errors import InvalidInput
from .definition import library_of


@dataclass
class SerializedPart:
    name: str  # file name inside the version ("model.joblib")
    kind: str  # parameters | native | featurize | predict | source | ...
    data: bytes
    format: str  # joblib | cloudpickle | xgboost-json | torch-state-dict | ...
    media_type: str = "application/octet-stream"
    loadable: bool = True  # the file the loader deserializes (vs. a companion for other tools)
    sha256: str | None = None  # computed while serializing (saves a pass over large models)
    # the bytes are in this local file instead of ``data`` (an upload the central service
    # received to disk, hashed as it arrived: ``sha256`` is then set)
    file: str | None = None

    def digest(self) -> str:
        """The SHA-256 of the bytes (computed once)."""
        if self.sha256 is None:
            if self.file is not None:
                digest = hashlib.sha256()
                with open(self.file, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        digest.update(chunk)
                self.sha256 = digest.hexdigest()
            else:
                self.sha256 = hashlib.sha256(self.data).hexdigest()
        return self.sha256

    def nbytes(self) -> int:
        import os

        return os.path.getsize(self.file) if self.file is not None else len(self.data)

    def describe(self) -> dict:
        """Everything but the bytes (JSON-able)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "format": self.format,
            "media_type": self.media_type,
            "loadable": self.loadable,
            "sha256": self.digest(),
            "size": self.nbytes(),
        }


class HashingWriter(io.RawIOBase):
    """A write-only file collecting chunks with no buffer reallocation. The SHA-256 is
    computed on a second thread while the serializer goes on (hashlib releases the GIL on
    large chunks), and is ready when both finish."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._hash = hashlib.sha256()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        # a position lets joblib align arrays in the file, so that load can map them
        return self.size

    def write(self, data) -> int:
        chunk = data if isinstance(data, bytes) else bytes(data)
        self._chunks.append(chunk)
        self.size += len(chunk)
        self._queue.put(chunk)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._hash_chunks, daemon=True, name="mlinfra-hash"
            )
            self._thread.start()
        return len(chunk)

    def _hash_chunks(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._hash.update(chunk)

    def getvalue(self) -> bytes:
        value = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks = [value]
        return value

    def hexdigest(self) -> str:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        return self._hash.hexdigest()


def _is_sklearn_like(model: Any) -> bool:
    return library_of(model) == "sklearn" or (
        hasattr(model, "get_params") and hasattr(model, "fit")
    )


def serialize_model(model: Any) -> list[SerializedPart]:
    """The fitted object: joblib for estimators, cloudpickle otherwise (one part, its SHA-256
    computed while it is written)."""
    writer = HashingWriter()
    if _is_sklearn_like(model):
        import joblib

        joblib.dump(model, writer)
        name, fmt = "model.joblib", "joblib"
    else:
        import cloudpickle

        cloudpickle.dump(model, writer, protocol=5)
        name, fmt = "model.pkl", "cloudpickle"
    return [SerializedPart(name, "parameters", writer.getvalue(), fmt, sha256=writer.hexdigest())]


def deserialize_file(part_format: str, path: str) -> Any:
    """Load a verified joblib file with its numpy arrays memory-mapped copy-on-write (writable,
    private to this process; the pages come from the file as they are used). Files written
    without joblib's array alignment (before this version) are read whole instead."""
    import warnings

    import joblib

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = joblib.load(path, mmap_mode="c")
    if any("not byte aligned" in str(w.message) for w in caught):
        with open(path, "rb") as fh:
            return joblib.load(fh)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model


def deserialize(part_format: str, data: bytes) -> Any:
    if part_format == "joblib":
        import joblib

        return joblib.load(io.BytesIO(data))
    if part_format == "cloudpickle":
        import cloudpickle

        return cloudpickle.loads(data)
    raise InvalidInput(f"cannot load an artifact in format {part_format!r}")
