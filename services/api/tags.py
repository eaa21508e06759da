"""Title, artist, album and track number from an upload's own tags (ID3, Vorbis comments, MP4).

Albums arrive as files whose names may be "track1.wav"; their tags usually know better, so a
batch takes titles and track numbers from here first and falls back to the file names.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Tag keys per tagging system: ID3 frames, Vorbis comments (FLAC, OGG), MP4 atoms.
_KEYS = {
    "title": ("TIT2", "title", "\xa9nam"),
    "artist": ("TPE1", "artist", "\xa9ART"),
    "album": ("TALB", "album", "\xa9alb"),
    "track": ("TRCK", "tracknumber", "trkn"),
}


@dataclass(frozen=True)
class Tags:
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    track_number: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


def read_tags(path: Path) -> Tags:
    """The file's tags; empty Tags when it has none or mutagen cannot parse them (tags are a
    nicety: a song with broken tags is still a song)."""
    import mutagen

    try:
        audio = mutagen.File(path)
    except Exception as exc:  # mutagen raises many kinds on damaged headers
        log.info("tags of %s unreadable: %s", path.name, exc)
        return Tags()
    if audio is None or not audio.tags:
        return Tags()
    tags = audio.tags
    values = {field: _first(tags, keys) for field, keys in _KEYS.items()}
    return Tags(
        title=_text(values["title"]),
        artist=_text(values["artist"]),
        album=_text(values["album"]),
        track_number=_track(values["track"]),
    )


def _first(tags: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        try:
            value = tags.get(key)
        except (KeyError, ValueError, TypeError):
            value = None
        if value:
            return value
    return None


def _unwrap(value: Any) -> Any:
    """ID3 frames hold `.text` lists, Vorbis and MP4 plain lists: the first item either way."""
    value = getattr(value, "text", value)
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def _text(value: Any) -> str | None:
    item = _unwrap(value)
    if item is None:
        return None
    text = " ".join(str(item).split())
    return text[:200] or None


def _track(value: Any) -> int | None:
    """ "3", "3/12" or MP4's (3, 12) as 3; anything else None."""
    item = _unwrap(value)
    if isinstance(item, tuple):  # MP4 trkn: [(track, total)]
        item = item[0] if item else None
    if item is None:
        return None
    head = str(item).split("/")[0].strip()
    return int(head) if head.isdigit() and 0 < int(head) < 1000 else None
