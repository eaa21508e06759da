"""A local file server that behaves like a real download host: byte ranges (206 with
Content-Range, If-Range against an ETag), 404s, and on request a connection that drops after N
bytes of a file, so that resuming can be tested without the internet."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class RangeServer:
    root: Path
    url: str
    #: path -> bytes to send before closing the connection (used once).
    cut: dict[str, int] = field(default_factory=dict)
    #: (path, Range header, If-Range header) of every request.
    seen: list[tuple[str, str | None, str | None]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        state: RangeServer = self.server.state
        path = state.root / self.path.lstrip("/")
        wanted, if_range = self.headers.get("Range"), self.headers.get("If-Range")
        state.seen.append((self.path, wanted, if_range))
        if not path.is_file():
            self.send_error(404, "Not Found")
            return
        size = path.stat().st_size
        etag = f'"{size:x}-{path.stat().st_mtime_ns:x}"'
        start = 0
        found = re.fullmatch(r"bytes=(\d+)-", wanted or "")
        if found and if_range in (None, etag):
            start = int(found.group(1))
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(size - start))
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        limit = state.cut.pop(self.path, None)
        left = size - start if limit is None else min(limit, size - start)
        with path.open("rb") as handle:
            handle.seek(start)
            while left > 0:
                chunk = handle.read(min(left, 1 << 20))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)
        self.close_connection = True


@contextmanager
def range_server(root: Path) -> Iterator[RangeServer]:
    """Serve `root` on 127.0.0.1 (a free port) for the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    state = RangeServer(root, f"http://127.0.0.1:{server.server_address[1]}")
    server.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
