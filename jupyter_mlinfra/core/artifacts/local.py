"""Artifacts in a local folder (the default)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..errors import NotFound
from .base import CHUNK, ArtifactInfo, ArtifactStore, _check_content


class LocalArtifactStore(ArtifactStore):
    backend = "local"

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, path: str) -> Path:
        return self.root / path

    def _write_object(self, path: str, source: BinaryIO, size: int | None = None) -> None:
        target = self._path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file in the same folder, fsync, then rename over the target:
        # readers see the old object or the whole new one, never a partial file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def _open_object(self, path: str) -> BinaryIO:
        try:
            return open(self._path(path), "rb")
        except FileNotFoundError:
            raise NotFound(f"no artifact {path.removeprefix('refs/')!r}") from None

    def _object_exists(self, path: str) -> bool:
        return self._path(path).is_file()

    def _object_age(self, path: str) -> float:
        try:
            return time.time() - self._path(path).stat().st_mtime
        except FileNotFoundError:
            raise NotFound(f"no object {path!r}") from None

    def _delete_object(self, path: str) -> None:
        try:
            self._path(path).unlink()
        except FileNotFoundError:
            pass

    def _list_objects(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix)
        folder = base if prefix.endswith("/") or base.is_dir() else base.parent
        if not folder.is_dir():
            return
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                rel = Path(dirpath, name).relative_to(self.root).as_posix()
                if rel.startswith(prefix):
                    yield rel

    def describe(self) -> dict:
        return {"backend": self.backend, "root": str(self.root)}

    @contextmanager
    def _verified_blob_file(
        self, path: str, info: ArtifactInfo, dir: str | os.PathLike | None
    ) -> Iterator[str]:
        """The blob itself (immutable, content-addressed), after hashing it."""
        _check_content(info, *self._copy_hashed(path, None))
        yield str(self._path(path))

    def local_path(self, key: str) -> Path:
        """Filesystem path of a key's blob (read-only use: e.g. memory-mapping a parquet file)."""
        from .base import blob_path

        return self._path(blob_path(self.stat(key).sha256))
