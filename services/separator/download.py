"""Resumable model downloads: a stopped download continues where it stopped.

Model files are hundreds of MB (Hybrid Demucs: 320 MB), so a dropped connection must not cost
the whole download. The bytes go to a partial file outside the model listing; a second attempt
asks the server for the rest (HTTP Range, with If-Range so that a file changed on the server
starts over instead of being spliced). The caller verifies and converts the finished file and
deletes the partial; only a download that stopped early is kept, for the next attempt.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Progress = Callable[[int, int | None], None]
CHUNK = 1 << 20


class DownloadIncomplete(ConnectionError):
    """The connection ended before the whole file came; the partial file is kept."""

    def __init__(self, url: str, done: int, total: int | None, reason: str) -> None:
        self.url, self.done, self.total = url, done, total
        of = f" of {total / 1e6:.1f} MB" if total else ""
        super().__init__(f"download of {url} stopped after {done / 1e6:.1f} MB{of} ({reason})")


@dataclass(frozen=True)
class Fetched:
    path: Path
    sha256: str
    size: int
    resumed_from: int


def _meta_path(partial: Path) -> Path:
    return partial.with_name(partial.name + ".json")


def discard(partial: Path) -> None:
    """Remove a partial download and its notes."""
    for path in (partial, _meta_path(partial)):
        path.unlink(missing_ok=True)


def _resume_point(url: str, partial: Path) -> tuple[int, str | None]:
    """Bytes already here for this URL, and the server's validator (ETag or Last-Modified)."""
    try:
        meta = json.loads(_meta_path(partial).read_text())
        size = partial.stat().st_size
    except (OSError, ValueError):
        discard(partial)
        return 0, None
    if meta.get("url") != url:
        discard(partial)
        return 0, None
    return size, meta.get("validator")


def _open(url: str, have: int, validator: str | None, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": "stemdeck"}
    if have:
        headers["Range"] = f"bytes={have}-"
        if validator:
            headers["If-Range"] = validator
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def fetch(
    url: str, partial: Path, progress: Progress | None = None, timeout: float = 60
) -> Fetched:
    """Download `url` into `partial`, resuming what an earlier attempt left there.

    Raises ConnectionError when the server cannot be reached or refuses (nothing is written),
    and DownloadIncomplete when the transfer stops early (the partial file is kept).
    """
    have, validator = _resume_point(url, partial)
    try:
        response = _open(url, have, validator, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing after what we have: the partial is stale
            discard(partial)
            return fetch(url, partial, progress, timeout)
        raise ConnectionError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConnectionError(f"could not download {url}: {reason}") from None
    with response:
        total: int | None
        if response.status == 206 and have:
            found = re.match(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
            if not found or int(found.group(1)) != have:
                discard(partial)
                raise ConnectionError(f"could not resume {url}: the server sent another range")
            total = int(found.group(2)) if found.group(2) != "*" else None
        else:  # a full answer: the server ignored the range or the file changed
            have = 0
            total = response.length
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        partial.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        if have:
            with open(partial, "rb") as existing:
                while chunk := existing.read(CHUNK):
                    digest.update(chunk)
        _meta_path(partial).write_text(json.dumps({"url": url, "validator": validator}))
        done = have
        try:
            with open(partial, "ab" if have else "wb") as out:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadIncomplete(
                url, partial.stat().st_size, total, type(exc).__name__
            ) from None
    if total is not None and done != total:
        raise DownloadIncomplete(url, done, total, "the connection closed early")
    return Fetched(partial, digest.hexdigest(), done, have)
