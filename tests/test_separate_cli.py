"""`stemdeck separate` as a person runs it: real files in, stem files out, clear failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from stemdeck.cli.main import app
from stemdeck.common.audio import read_audio, write_audio
from stemdeck.separator import installed
from tests.conftest import SHARED_AUDIO, make_song

pytestmark = pytest.mark.unit

STEMS = ["bass", "drums", "other", "vocals"]
FORMATS = [
    ("wav", 16, "PCM_16"),
    ("wav", 24, "PCM_24"),
    ("wav", 32, "FLOAT"),
    ("flac", 16, "PCM_16"),
    ("flac", 24, "PCM_24"),
    ("mp3", 16, None),
]


def stemdeck(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the real command line, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "stemdeck.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )


def separate_in_format(song: Path, out: Path, model: Path, fmt: str, bits: int) -> Path:
    """Run `stemdeck separate` with one format and bit depth; the track's stem folder."""
    result = stemdeck(
        "separate", song, "-o", out, "--model", model, "--format", fmt, "--bit-depth", bits
    )
    assert result.returncode == 0, result.stderr
    return out / song.name.split(".")[0]


def frames_of(path: Path) -> int:
    return read_audio(path).shape[1]


@pytest.mark.parametrize(("fmt", "bits", "subtype"), FORMATS)
@pytest.mark.slow
def test_every_format_and_bit_depth(
    tmp_path: Path, song_wav: Path, tiny_model_path: Path, fmt: str, bits: int, subtype: str | None
) -> None:
    folder = separate_in_format(song_wav, tmp_path / "out", tiny_model_path, fmt, bits)
    assert sorted(p.stem for p in folder.iterdir()) == STEMS
    for stem in STEMS:
        info = sf.info(folder / f"{stem}.{fmt}")
        assert (info.samplerate, info.channels) == (44100, 2)
        assert info.frames == sf.info(song_wav).frames
        if subtype:
            assert info.subtype == subtype


@pytest.mark.slow
def test_two_stems_splits_vocals_from_the_rest(
    tmp_path: Path, song_wav: Path, tiny_model_path: Path
) -> None:
    four = stemdeck(
        "separate", song_wav, "-o", tmp_path / "four", "--model", tiny_model_path, "--bit-depth", 32
    )
    two = stemdeck(
        "separate",
        song_wav,
        "-o",
        tmp_path / "two",
        "--model",
        tiny_model_path,
        "--bit-depth",
        32,
        "--two-stems",
        "vocals",
    )
    assert four.returncode == two.returncode == 0, four.stderr + two.stderr
    assert sorted(p.name for p in (tmp_path / "two" / "song").iterdir()) == [
        "no_vocals.wav",
        "vocals.wav",
    ]
    stems = {s: sf.read(tmp_path / "four" / "song" / f"{s}.wav")[0] for s in STEMS}
    no_vocals = sf.read(tmp_path / "two" / "song" / "no_vocals.wav")[0]
    np.testing.assert_allclose(
        no_vocals, stems["drums"] + stems["bass"] + stems["other"], atol=1e-5
    )
    bad = stemdeck(
        "separate",
        song_wav,
        "-o",
        tmp_path / "x",
        "--model",
        tiny_model_path,
        "--two-stems",
        "kazoo",
    )
    assert bad.returncode == 1
    assert "this model's stems are" in bad.stderr


@pytest.mark.slow
def test_soft_mask_stems_add_up_to_the_song(
    tmp_path: Path, song_wav: Path, tiny_model_path: Path
) -> None:
    """`--soft-mask` makes the stems split the input exactly; `--no-soft-mask` writes the raw
    model output, which does not add up. Without either flag the model's own default holds:
    off for this test model, whose checkpoint does not state one."""
    song = sf.read(song_wav)[0]
    sums = {}
    for flag in ("--soft-mask", "--no-soft-mask", ""):
        out = tmp_path / (flag or "default")
        args = ["separate", song_wav, "-o", out, "--model", tiny_model_path, "--bit-depth", 32]
        result = stemdeck(*args, *([flag] if flag else []))
        assert result.returncode == 0, result.stderr
        sums[flag] = sum(sf.read(out / "song" / f"{s}.wav")[0] for s in STEMS)
    np.testing.assert_allclose(sums["--soft-mask"], song, atol=1e-4)
    assert np.abs(sums["--no-soft-mask"] - song).max() > 0.01
    np.testing.assert_array_equal(sums[""], sums["--no-soft-mask"])


@pytest.mark.slow
def test_bad_inputs_are_reported_and_good_ones_still_separated(
    tmp_path: Path, song_wav: Path, tiny_model_path: Path
) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp3"
    text.write_text("these are my lyrics, not a song\n" * 50)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(song_wav.read_bytes()[:30])
    tiny = tmp_path / "blip.wav"
    write_audio(tiny, make_song(0.05))
    surround = tmp_path / "surround.wav"
    sf.write(surround, make_song(1.5, rate=96_000, channels=8).T, 96_000)
    missing = tmp_path / "missing.flac"
    result = stemdeck(
        "separate",
        missing,
        empty,
        text,
        truncated,
        tiny,
        song_wav,
        surround,
        "-o",
        tmp_path / "out",
        "--model",
        tiny_model_path,
    )
    assert result.returncode == 1
    messages = result.stderr.replace("\n", " ")
    assert "does not exist" in messages
    assert "is empty" in messages
    assert "notes.mp3" in messages and "not an audio file" in messages
    assert "truncated.wav" in messages
    assert "0.05 s long" in messages and "at least 1 s" in messages
    assert "5 of 7 input(s) failed" in messages
    assert "Traceback" not in messages
    produced = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert produced == ["song", "surround"]
    # the 8-channel 96 kHz file is downmixed to stereo and resampled to 44.1 kHz
    assert sf.info(tmp_path / "out" / "surround" / "vocals.wav").frames == round(1.5 * 44100)


def test_no_model_says_how_to_get_one(
    tmp_path: Path, song_wav: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the bundled model (a trimmed install) and an empty cache, the user learns what
    to do; in-process so the bundled folder can be hidden."""
    monkeypatch.setattr(installed, "BUNDLED_DIR", tmp_path / "no-bundled-models")
    result = CliRunner().invoke(app, ["separate", str(song_wav), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "stemdeck models pull hdemucs" in result.output.replace("\n", " ")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_parallel_jobs_separate_every_track(tmp_path: Path, tiny_model_path: Path) -> None:
    songs = []
    for i, suffix in enumerate(["flac", "ogg", "mp3"]):
        path = tmp_path / f"track{i}.{suffix}"
        sf.write(path, make_song(2.0, seed=i).T, 44100)
        songs.append(path)
    result = stemdeck(
        "separate", *songs, "-o", tmp_path / "out", "--model", tiny_model_path, "-j", 2
    )
    assert result.returncode == 0, result.stderr
    for path in songs:
        assert frames_of(tmp_path / "out" / path.stem / "drums.wav") == frames_of(path)


@pytest.mark.skipif(not (SHARED_AUDIO / "real").is_dir(), reason="../shared/audio is absent")
@pytest.mark.slow
def test_real_song_in_every_format(tmp_path: Path, tiny_model_path: Path) -> None:
    """The acceptance check: a real 133 s OGG, four stems of exactly its length."""
    song = SHARED_AUDIO / "real" / "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"
    expected = sf.info(song).frames
    for fmt, bits, subtype in FORMATS:
        folder = separate_in_format(song, tmp_path / f"{fmt}{bits}", tiny_model_path, fmt, bits)
        for stem in STEMS:
            info = sf.info(folder / f"{stem}.{fmt}")
            assert (info.frames, info.samplerate, info.channels) == (expected, 44100, 2)
            assert subtype is None or info.subtype == subtype
