"""A multipart/form-data request body parsed as it arrives (``python-multipart``'s streaming
parser): the central service receives large model uploads without holding them in memory.

Fields without a file name (a JSON manifest) are kept in memory, up to a limit; each file is
written into a private folder and hashed (SHA-256) as its bytes arrive, so the service knows
the digest of what it received without reading it again. The folder is removed by the caller
(``cleanup``) when the request ends, answered or interrupted: an upload that never finished
leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..core.errors import InvalidInput, quote
from ..core.models.pipeline import ReceivedFile


class StreamedForm:
    """``write(chunk)`` as the body arrives, then ``finish()``; ``fields`` (name -> list of
    bytes) and ``files`` (name -> list of :class:`ReceivedFile`) hold what was sent."""

    def __init__(self, content_type: str, parent: str, *, field_limit: int) -> None:
        kind, options = parse_options_header(content_type or "")
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise InvalidInput("send the upload as multipart/form-data")
        os.makedirs(parent, exist_ok=True)
        self.folder = tempfile.mkdtemp(prefix="upload-", dir=parent)
        self.field_limit = field_limit
        self.fields: dict[str, list[bytes]] = {}
        self.files: dict[str, list[ReceivedFile]] = {}
        self._field_bytes = 0
        self._headers: dict[bytes, bytes] = {}
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._name = ""
        self._value: bytearray | None = None  # the field being received
        self._file: Any = None  # the file being received: (handle, path, hash, size)
        self._ended = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value_data,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    # -- feeding -------------------------------------------------------------------------
    def write(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise InvalidInput(f"the multipart body is malformed: {str(exc)[:200]}") from None

    def finish(self) -> None:
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            raise InvalidInput(f"the multipart body is malformed: {str(exc)[:200]}") from None
        if not self._ended:
            raise InvalidInput("the multipart body ended before its closing boundary")

    def cleanup(self) -> None:
        """Remove every received file (idempotent)."""
        if self._file is not None:
            self._file[0].close()
            self._file = None
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- parser callbacks ----------------------------------------------------------------
    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition"))
        if disposition != b"form-data" or b"name" not in options:
            raise InvalidInput("each part needs Content-Disposition: form-data; name=...")
        self._name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            fd, path = tempfile.mkstemp(dir=self.folder, prefix="part-")
            self._file = (os.fdopen(fd, "wb"), path, hashlib.sha256(), 0)
        else:
            self._value = bytearray()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        piece = memoryview(data)[start:end]
        if self._file is not None:
            handle, path, digest, size = self._file
            handle.write(piece)
            digest.update(piece)
            self._file = (handle, path, digest, size + len(piece))
        elif self._value is not None:
            self._field_bytes += len(piece)
            if self._field_bytes > self.field_limit:
                raise InvalidInput(
                    f"the form fields of the upload exceed {self.field_limit} bytes "
                    f"(field {quote(self._name)})"
                )
            self._value += piece

    def _part_end(self) -> None:
        if self._file is not None:
            handle, path, digest, size = self._file
            handle.close()
            self._file = None
            self.files.setdefault(self._name, []).append(
                ReceivedFile(path=path, sha256=digest.hexdigest(), size=size)
            )
        elif self._value is not None:
            self.fields.setdefault(self._name, []).append(bytes(self._value))
            self._value = None

    def _end(self) -> None:
        self._ended = True
