"""The API's small parts, without servers: names, ranges, zips, keys, limits, the mix's EQ,
tags, and the documented settings."""

from __future__ import annotations

import io
import re
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fastapi import HTTPException

from stemdeck.api.auth import RateLimiter, owner_id
from stemdeck.api.downloads import content_disposition, parse_range, zip_stream
from stemdeck.api.mixer import _StemEq, eq_gains
from stemdeck.api.names import BadFileName, safe_filename, title_from_filename
from stemdeck.api.tags import read_tags
from stemdeck.common.settings import Settings
from tests.api_env import tagged_song

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("song.mp3", "song.mp3"),
        ("../../etc/passwd.wav", "passwd.wav"),
        ("C:\\Users\\me\\Music\\track.flac", "track.flac"),
        ("...", "audio"),
        (".hidden.wav", "hidden.wav"),
        ("bad\x00na\x1bme\r\n.wav", "badname.wav"),
        ("노래 제목 — café.mp3", "노래 제목 _ café.mp3"),
        ('what?<>:"|*.wav', "what_______.wav"),
        ("   ", "audio"),
    ],
)
def test_file_names_are_made_safe(raw: str, safe: str) -> None:
    assert safe_filename(raw) == safe


def test_long_names_keep_their_extension_and_folders_are_refused() -> None:
    name = safe_filename("é" * 300 + ".flac")
    assert name.endswith(".flac") and len(name.encode()) <= 120
    for folder in ("album/", "album\\", "music/..", ".."):
        with pytest.raises(BadFileName, match="folder"):
            safe_filename(folder)


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("03 - Song Title.flac", (3, "Song Title")),
        ("7. Waltz.wav", (7, "Waltz")),
        ("12_Closing_Time.mp3", (12, "Closing Time")),
        ("Track 4 Intro.wav", (4, "Intro")),
        ("Just a Song.ogg", (None, "Just a Song")),
        ("1999.wav", (None, "1999")),
    ],
)
def test_titles_and_track_numbers_from_file_names(name: str, parsed: tuple) -> None:
    assert title_from_filename(name) == parsed


def test_ranges() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == (0, 9)
    assert parse_range("bytes=90-", 100) == (90, 99)
    assert parse_range("bytes=-10", 100) == (90, 99)
    assert parse_range("bytes=50-500", 100) == (50, 99)
    for bad in ("bytes=100-", "bytes=5-2", "bytes=0-1,5-6", "items=0-1", "bytes=a-b", "bytes=-0"):
        with pytest.raises(HTTPException) as caught:
            parse_range(bad, 100)
        assert caught.value.status_code == 416
        assert caught.value.headers == {"Content-Range": "bytes */100"}


def test_content_disposition_keeps_non_ascii_names() -> None:
    header = content_disposition("노래 - vocals.wav")
    assert 'filename="__ - vocals.wav"' in header
    assert "filename*=UTF-8''%EB%85%B8%EB%9E%98%20-%20vocals.wav" in header


def test_zip_streams_in_bounded_memory() -> None:
    """Two 8 MiB entries pass through while the zip code holds far less than one entry."""
    size = 8 << 20

    def chunks(seed: int):
        block = bytes([seed]) * (1 << 20)
        for _ in range(size >> 20):
            yield block

    tracemalloc.start()
    total, sink = 0, io.BytesIO()
    for piece in zip_stream([("vocals.wav", size, chunks(1)), ("drums.wav", size, chunks(2))]):
        total += len(piece)
        sink.write(piece)
        _, peak = tracemalloc.get_traced_memory()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # the BytesIO sink holds the whole zip; the zip code itself must add only chunks
    assert peak < total + 6 * (1 << 20), peak
    archive = zipfile.ZipFile(sink)
    assert archive.namelist() == ["vocals.wav", "drums.wav"]
    assert archive.testzip() is None
    assert archive.read("drums.wav") == b"\x02" * size


def test_owner_ids_hide_keys_and_the_rate_limit_counts_per_key() -> None:
    assert owner_id("alpha") == owner_id("alpha") != owner_id("beta")
    assert "alpha" not in owner_id("alpha")
    limiter = RateLimiter(3)
    for second in range(3):
        limiter.hit("a", now=100.0 + second)
    limiter.hit("b", now=102.5)
    with pytest.raises(HTTPException) as caught:
        limiter.hit("a", now=103.0)
    assert caught.value.status_code == 429
    assert caught.value.headers == {"Retry-After": "57"}
    limiter.hit("a", now=160.5)  # the first hit left the window


def test_streaming_eq_equals_the_shared_whole_signal_filter() -> None:
    """The mix filters block by block with carried state; the result must be what the shared
    `apply_eq` gives for the whole stem at once."""
    from stemdeck.eq.filters import apply_eq

    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.2, (2, 100_000))
    gains = {"low": 6.0, "mid": -4.0, "high": 3.0}
    whole = apply_eq(audio, 44100, gains)
    stream = _StemEq(gains, 44100)
    blocks = [stream(audio[:, i : i + 8192]) for i in range(0, audio.shape[1], 8192)]
    np.testing.assert_allclose(np.concatenate(blocks, axis=1), whole, atol=1e-9)


def test_eq_gains_come_from_the_job_results() -> None:
    results = {"eq": {"vocals": {"gains_db": {"low": -2, "mid": 1, "high": 3}}}}
    assert eq_gains(results, ["vocals"]) == {"vocals": {"low": -2.0, "mid": 1.0, "high": 3.0}}
    with pytest.raises(LookupError):
        eq_gains(results, ["vocals", "drums"])


def test_tags_from_wav_and_flac(tmp_path: Path) -> None:
    wav = read_tags(tagged_song(tmp_path / "a.wav", "First Light", 1, "Dawn"))
    assert (wav.title, wav.track_number, wav.album, wav.artist) == (
        "First Light",
        1,
        "Dawn",
        "The Testers",
    )
    flac = read_tags(tagged_song(tmp_path / "b.flac", "Second Wind", 2, "Dawn"))
    assert (flac.title, flac.track_number, flac.album) == ("Second Wind", 2, "Dawn")
    plain = tmp_path / "c.txt"
    plain.write_text("no tags")
    assert read_tags(plain).as_dict() == {}


def test_env_example_documents_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*STEMDECK_([A-Z0-9_]+)=", text, re.MULTILINE))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - listed == set(), "settings missing from .env.example"
    assert listed - fields == set(), ".env.example lists settings that do not exist"
