"""Serving stored files: single byte ranges (RFC 9110) and zips built while they are sent.

Browsers' audio elements seek with `Range: bytes=START-`; download managers resume with it.
Only single ranges are served (a multi-range request is refused with 416, as is a range that
cannot be parsed or lies outside the file).

The zip is written by the standard library's `zipfile` into a pipe that hands each written
piece to the response, so a 400 MB album of stems passes through a buffer of one storage chunk
(1 MiB). Entries are stored, not deflated: stems are WAV (barely compressible) or already
compressed FLAC/MP3, and deflating would cost CPU for a few percent.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from fastapi import HTTPException
from typing_extensions import Buffer

_ZIP64_LIMIT = (1 << 31) - 1


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte, inclusive, of a single-range header; None when there is no header;
    416 for anything not servable."""
    if header is None:
        return None
    unsatisfiable = HTTPException(
        416,
        f"cannot serve the range {header.strip()[:100]!r} of a {size}-byte file",
        headers={"Content-Range": f"bytes */{size}"},
    )
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec or "-" not in spec:
        raise unsatisfiable
    start_text, _, end_text = (part.strip() for part in spec.partition("-"))
    if not (start_text or end_text) or not (start_text + end_text).isdigit():
        raise unsatisfiable
    if not start_text:  # a suffix: the last N bytes
        if not end_text or int(end_text) == 0 or size == 0:
            raise unsatisfiable
        return max(0, size - int(end_text)), size - 1
    start = int(start_text)
    end = min(int(end_text), size - 1) if end_text else size - 1
    if start >= size or end < start:
        raise unsatisfiable
    return start, end


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback and the UTF-8 name (RFC 6266 / RFC 8187)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "'")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


class _Pipe(io.RawIOBase):
    """A write-only, unseekable stream that keeps what was written until `take()`; zipfile
    then writes data descriptors after each entry instead of seeking back."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Buffer, /) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def zip_stream(entries: Iterable[tuple[str, int, Iterator[bytes]]]) -> Iterator[bytes]:
    """Zip bytes for entries of (name, size, chunks), produced as the chunks arrive."""
    pipe = _Pipe()
    stamp = time.localtime()[:6]
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, size, chunks in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = size
            with archive.open(info, "w", force_zip64=size > _ZIP64_LIMIT) as entry:
                for chunk in chunks:
                    entry.write(chunk)
                    if data := pipe.take():
                        yield data
            if data := pipe.take():
                yield data
    if data := pipe.take():
        yield data
