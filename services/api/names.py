"""File names that come from users: made safe to store and to show, and read for track titles.

An upload's name is only ever a label: it may carry a path ("../../etc/passwd"), control
characters, reserved characters or a thousand bytes. `safe_filename` keeps what a person would
recognise (letters of any script, digits, ordinary punctuation) and drops the rest, so the name
can be part of a storage key and of a Content-Disposition header.
"""

from __future__ import annotations

import re
import unicodedata

#: Longest stored name, in UTF-8 bytes (S3 keys may hold 1024; file systems 255 per component).
MAX_NAME_BYTES = 120
#: Characters kept besides letters, digits and marks of any script.
_KEEP = set(" -_.,()[]{}'&+!#@=~")
_SPACES = re.compile(r"\s+")
_TRACK_PREFIX = re.compile(r"^\s*(?:track\s*)?(\d{1,3})(?:\s*[-._)]\s*|\s+)(.+)$", re.IGNORECASE)


class BadFileName(ValueError):
    """The name cannot be a file (a folder path, nothing left after cleaning)."""


def looks_like_folder(raw: str) -> bool:
    """True when the name ends in a separator or its last part is "." or ".."."""
    stripped = raw.strip()
    return stripped.endswith(("/", "\\")) or stripped.replace("\\", "/").split("/")[-1] in (
        ".",
        "..",
    )


def safe_filename(raw: str, fallback: str = "audio") -> str:
    """A name for storage keys and headers: the last path component, NFC-normalised, without
    control or reserved characters, no leading dots, at most MAX_NAME_BYTES bytes with the
    extension kept. Non-ASCII letters stay (a Korean or accented title is still readable)."""
    if looks_like_folder(raw):
        raise BadFileName(f"{_printable(raw)!r} names a folder, not a file")
    base = raw.replace("\\", "/").split("/")[-1]
    base = unicodedata.normalize("NFC", base)
    kept = []
    for char in base:
        category = unicodedata.category(char)
        if category[0] in "LNM" or char in _KEEP:
            kept.append(char)
        elif category[0] == "Z" or char == "\t":
            kept.append(" ")
        elif category[0] != "C":  # reserved punctuation and symbols: visible, but replaced
            kept.append("_")
    name = _SPACES.sub(" ", "".join(kept)).strip(" .")
    if not name:
        return fallback
    return _shorten(name)


def _shorten(name: str) -> str:
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix) > 10:
        stem, suffix = name, ""
    room = MAX_NAME_BYTES - len(suffix.encode()) - (1 if suffix else 0)
    short = stem.encode()[:room].decode(errors="ignore").rstrip(" .")
    return f"{short}.{suffix}" if suffix else short


def _printable(raw: str) -> str:
    """A raw name cut down for an error message (no control characters, not too long)."""
    text = "".join(c for c in raw if unicodedata.category(c)[0] != "C")
    return text if len(text) <= 80 else text[:77] + "..."


def title_from_filename(name: str) -> tuple[int | None, str]:
    """(track number, title) from names like "03 - Song.flac", "3. Song.wav", "Song.mp3"."""
    stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
    stem = stem.replace("_", " ").strip()
    match = _TRACK_PREFIX.match(stem)
    if match:
        title = match.group(2).strip(" -.")
        if title:
            return int(match.group(1)), title
    return None, stem or name
