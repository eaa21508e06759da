"""Reading multipart uploads as they stream in, into temporary files, within the size limit.

FastAPI's own form parsing reads the whole body before the route runs; a 2 GB body would be
spooled to disk before anyone could say "too large". Here the body is fed chunk by chunk from
`request.stream()` to python-multipart's streaming parser: file parts go straight to a temporary
file, and the request is refused with 413 the moment a file (or the body) passes its limit — or
before reading anything when Content-Length already says so. Memory stays at one chunk.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from fastapi import HTTPException, Request
from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect

from stemdeck.api.names import BadFileName, safe_filename

if TYPE_CHECKING:  # python-multipart defines its callback table's type for checkers only
    from python_multipart.multipart import MultipartCallbacks

#: Bytes a form may spend on everything but its files (boundaries, part headers, options).
FORM_OVERHEAD = 256 * 1024
#: Longest value of a plain form field (a callback URL fits; a smuggled file does not).
MAX_FIELD_BYTES = 4096
#: Largest header line of one part; a longer one is refused as malformed.
MAX_PART_HEADER_BYTES = 8192


@dataclass
class UploadedFile:
    """One file part, saved to `path`; `name` is the cleaned name used in keys and messages."""

    field: str
    name: str
    path: Path
    size: int = 0
    content_type: str | None = None


@dataclass
class UploadedForm:
    """The parsed form: files (in the order sent), plain fields, and the folder holding them."""

    folder: Path
    files: list[UploadedFile] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def refuse(status: int, message: str, headers: dict[str, str] | None = None) -> HTTPException:
    """An HTTP error; a 413 also closes the connection, since the rest of the body is unread."""
    if status == 413:
        headers = {**(headers or {}), "Connection": "close"}
    return HTTPException(status_code=status, detail=message, headers=headers)


def _megabytes(count: int) -> str:
    return f"{count / (1024 * 1024):g} MB"


class _Collector:
    """python-multipart callbacks: route part bytes to temp files or small field buffers."""

    def __init__(
        self,
        form: UploadedForm,
        file_fields: set[str],
        text_fields: set[str],
        max_files: int,
        max_file_bytes: int,
    ) -> None:
        self.form, self.file_fields, self.text_fields = form, file_fields, text_fields
        self.max_files, self.max_file_bytes = max_files, max_file_bytes
        self.headers: dict[str, str] = {}
        self.header_name, self.header_value = bytearray(), bytearray()
        self.file: UploadedFile | None = None
        self.handle: IO[bytes] | None = None
        self.text_name: str | None = None
        self.text = bytearray()
        self.finished = False

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": lambda d, s, e: self.header_name.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self.header_value.extend(d[s:e]),
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
            "on_end": self.end,
        }

    def part_begin(self) -> None:
        self.headers.clear()
        self.file, self.text_name = None, None
        self.text.clear()

    def header_end(self) -> None:
        name = self.header_name.decode("latin-1").strip().lower()
        self.headers[name] = self.header_value.decode("latin-1").strip()
        self.header_name.clear()
        self.header_value.clear()

    def headers_finished(self) -> None:
        kind, params = parse_options_header(self.headers.get("content-disposition", ""))
        if kind != b"form-data" or b"name" not in params:
            raise refuse(400, "every part of the form needs a Content-Disposition with a name")
        name = params[b"name"].decode("utf-8", errors="replace")
        if b"filename" in params:
            self._start_file(name, params[b"filename"].decode("utf-8", errors="replace"))
            return
        if name in self.file_fields:
            raise refuse(400, f"the form field {name!r} must be a file, not text")
        if name not in self.text_fields:
            allowed = ", ".join(sorted(self.file_fields | self.text_fields))
            raise refuse(400, f"unknown form field {name!r}; the fields are: {allowed}")
        if name in self.form.fields:
            raise refuse(400, f"the form field {name!r} was sent twice")
        self.text_name = name

    def _start_file(self, field_name: str, raw_name: str) -> None:
        if field_name not in self.file_fields:
            expected = " or ".join(repr(f) for f in sorted(self.file_fields))
            raise refuse(400, f"unexpected file field {field_name!r}; send audio as {expected}")
        if not raw_name.strip():
            return  # a browser's empty file input: no file chosen; its bytes are ignored
        if len(self.form.files) >= self.max_files:
            raise refuse(400, f"too many files: at most {self.max_files} in one request")
        try:
            name = safe_filename(raw_name)
        except BadFileName as exc:
            raise refuse(400, f"cannot use the upload: {exc}") from None
        suffix = Path(name).suffix.lower()
        suffix = suffix if suffix[1:].isalnum() and len(suffix) <= 8 else ""
        path = self.form.folder / f"{len(self.form.files)}{suffix}"
        upload = UploadedFile(field_name, name, path, 0, self.headers.get("content-type"))
        self.form.files.append(upload)
        self.file, self.handle = upload, path.open("wb")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.file is not None and self.handle is not None:
            self.file.size += end - start
            if self.file.size > self.max_file_bytes:
                raise refuse(
                    413,
                    f"{self.file.name!r} is larger than the upload limit of "
                    f"{_megabytes(self.max_file_bytes)}",
                )
            self.handle.write(data[start:end])
        elif self.text_name is not None:
            self.text.extend(data[start:end])
            if len(self.text) > MAX_FIELD_BYTES:
                raise refuse(400, f"the form field {self.text_name!r} is too long")

    def part_end(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        if self.text_name is not None:
            try:
                self.form.fields[self.text_name] = self.text.decode("utf-8")
            except UnicodeDecodeError:
                raise refuse(400, f"the form field {self.text_name!r} is not UTF-8 text") from None
        self.file, self.text_name = None, None

    def end(self) -> None:
        self.finished = True

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


async def read_form(
    request: Request,
    scratch: Path,
    *,
    file_fields: set[str],
    text_fields: set[str],
    max_files: int,
    max_file_bytes: int,
) -> UploadedForm:
    """Stream a multipart/form-data body into `scratch/<new folder>`; HTTPException for any
    problem, with nothing left on disk. The caller must `cleanup()` the returned form."""
    kind, params = parse_options_header(request.headers.get("content-type"))
    example = "curl -F file=@song.mp3 ..."
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise refuse(
            415, f"send the audio as multipart/form-data with a {'/'.join(file_fields)!r} "
            f"field (e.g. {example})",
        )  # fmt: skip
    limit = max_files * max_file_bytes + FORM_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        what = "the file" if max_files == 1 else "the files"
        raise refuse(
            413,
            f"the upload ({_megabytes(int(declared))}) is larger than the limit of "
            f"{_megabytes(max_file_bytes)} per file; {what} cannot be accepted",
        )
    scratch.mkdir(parents=True, exist_ok=True)
    form = UploadedForm(Path(tempfile.mkdtemp(prefix="upload-", dir=scratch)))
    collector = _Collector(form, file_fields, text_fields, max_files, max_file_bytes)
    try:
        parser = MultipartParser(
            params[b"boundary"],
            collector.callbacks(),
            max_header_size=MAX_PART_HEADER_BYTES,
        )
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise refuse(413, f"the upload is larger than {_megabytes(limit)}")
            parser.write(chunk)
        parser.finalize()
        if not collector.finished:
            raise refuse(400, "the form ended early (the upload was cut off or malformed)")
    except MultipartParseError as exc:
        form.cleanup()
        raise refuse(400, f"the multipart form is malformed: {exc}") from None
    except ClientDisconnect:
        form.cleanup()
        raise refuse(400, "the upload was interrupted") from None
    except BaseException:
        form.cleanup()
        raise
    finally:
        with contextlib.suppress(OSError):
            collector.close()
    return form
