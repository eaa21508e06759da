"""Track analysis: loudness against pyloudnorm and EBU Tech 3341, true peak, the energy curve,
tempo of click tracks, key of chord sequences, stem shares and the `analyze` command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from typer.testing import CliRunner

from stemdeck.cli.main import app
from stemdeck.genre.analysis import (
    MAJOR_PROFILE,
    MINOR_PROFILE,
    analyze,
    analyze_file,
    beats,
    energy_curve,
    estimate_key,
    key_from_chroma,
    loudness_shares,
    stem_loudness,
    true_peak,
)
from stemdeck.genre.inputs import InputError
from tests.genre_audio import chord_sequence, click_track

from .conftest import make_song

pytestmark = pytest.mark.unit

runner = CliRunner()


@pytest.mark.slow
def test_loudness_agrees_with_pyloudnorm_on_the_file(tmp_path: Path) -> None:
    path = tmp_path / "song.wav"
    sf.write(path, make_song(10.0, seed=4).T, 44100, subtype="PCM_24")
    data, rate = sf.read(path)
    reference = pyloudnorm.Meter(rate).integrated_loudness(data)
    result = analyze_file(path)
    assert abs(result["loudness_lufs"] - reference) <= 0.1
    assert result["channels"] == 2 and result["sample_rate"] == 44100


def test_ebu_3341_sine_reads_minus_23_lufs(tmp_path: Path) -> None:
    """EBU Tech 3341 case 1: a stereo 1 kHz sine at -23 dBFS is -23.0 LUFS (±0.1)."""
    t = np.arange(20 * 48000) / 48000
    sine = 10 ** (-23 / 20) * np.sin(2 * np.pi * 1000 * t)
    path = tmp_path / "ebu.wav"
    sf.write(path, np.stack([sine, sine], axis=1), 48000, subtype="PCM_24")
    assert analyze_file(path)["loudness_lufs"] == pytest.approx(-23.0, abs=0.1)


def test_mono_files_are_measured_as_mono(tmp_path: Path) -> None:
    t = np.arange(10 * 44100) / 44100
    sine = 10 ** (-23 / 20) * np.sin(2 * np.pi * 1000 * t)
    path = tmp_path / "mono.wav"
    sf.write(path, sine, 44100, subtype="PCM_24")
    # One channel carries half the power of the stereo case: 3 LU quieter, not duplicated.
    assert analyze_file(path)["loudness_lufs"] == pytest.approx(-26.0, abs=0.1)


def test_true_peak_finds_the_peak_between_samples() -> None:
    """A sine at a quarter of the rate, sampled 45° off its crest: the samples reach 0.707 of
    the amplitude, the waveform the full amplitude (the BS.1770 Annex 2 case)."""
    n = np.arange(44100)
    fade = np.minimum(1.0, np.minimum(n, n[-1] - n) / 441)  # no step at the ends to ring
    x = 0.5 * np.sin(2 * np.pi * n / 4 + np.pi / 4) * fade
    assert 20 * np.log10(np.abs(x).max()) == pytest.approx(20 * np.log10(0.5) - 3.01, abs=0.05)
    assert true_peak(x[None]) == pytest.approx(20 * np.log10(0.5), abs=0.1)


def test_energy_curve_has_one_value_per_second() -> None:
    sr = 44100
    t = np.arange(7 * sr) / sr
    sine = 0.5 * np.sin(2 * np.pi * 440 * t)
    curve = energy_curve(np.stack([sine, sine]), sr)
    assert len(curve) == 7
    np.testing.assert_allclose(curve, 20 * np.log10(0.5 / math.sqrt(2)), atol=0.05)
    assert len(energy_curve(sine[None, : int(6.5 * sr)], sr)) == 7  # last second is partial


@pytest.mark.parametrize("bpm", [92.0, 128.0, 150.0])
def test_tempo_of_a_click_track(bpm: float) -> None:
    tempo, times = beats(click_track(bpm, 20.0), 22050)
    assert tempo == pytest.approx(bpm, rel=0.02)
    assert np.median(np.diff(times)) == pytest.approx(60 / bpm, rel=0.03)


def test_drums_stem_drives_the_beat_tracker() -> None:
    sr = 22050
    clicks = click_track(120.0, 12.0, sr)
    pad = chord_sequence([[60, 64, 67]] * 12, 1.0, sr)  # sustained chords, no onsets of note
    mix = (clicks + pad)[None]
    result = analyze(mix, sr, drums=clicks[None])
    assert result["tempo_source"] == "drums"
    assert result["tempo_bpm"] == pytest.approx(120.0, rel=0.02)
    assert analyze(mix, sr)["tempo_source"] == "mix"


@pytest.mark.parametrize(
    ("chords", "expected"),
    [
        # D major: I IV V I (D, G, A, D)
        ([[62, 66, 69], [67, 71, 74], [69, 73, 76], [62, 66, 69]], "D major"),
        # A minor: i iv V i (Am, Dm, E, Am), the harmonic-minor dominant
        ([[57, 60, 64], [62, 65, 69], [64, 68, 71], [57, 60, 64]], "A minor"),
        # Eb major: I vi IV V
        ([[63, 67, 70], [60, 63, 67], [68, 72, 75], [70, 74, 77]], "Eb major"),
    ],
)
def test_key_of_a_chord_sequence(chords: list[list[int]], expected: str) -> None:
    y = chord_sequence(chords * 2, 1.0)
    assert estimate_key(y).name == expected


def test_key_profiles_find_themselves() -> None:
    assert key_from_chroma(np.roll(MAJOR_PROFILE, 7)).name == "G major"
    assert key_from_chroma(np.roll(MINOR_PROFILE, 4)).name == "E minor"


def test_stem_shares_follow_their_loudness() -> None:
    sr = 44100
    t = np.arange(5 * sr) / sr
    loud = 0.4 * np.sin(2 * np.pi * 500 * t)[None]
    quiet = loud / 2  # 6.02 dB down: a quarter of the power
    shares = stem_loudness({"vocals": loud, "bass": quiet, "other": 0 * loud}, sr)
    assert shares["vocals"]["share"] == pytest.approx(0.8, abs=0.005)
    assert shares["bass"]["share"] == pytest.approx(0.2, abs=0.005)
    assert shares["other"]["share"] == 0.0
    diff = shares["vocals"]["loudness_lufs"] - shares["bass"]["loudness_lufs"]
    assert diff == pytest.approx(6.02, abs=0.05)


def test_shares_from_measured_levels_treat_a_silent_stem_as_zero() -> None:
    """The service passes the separator's levels, where a silent stem is None."""
    shares = loudness_shares({"vocals": -14.0, "bass": -20.02, "drums": None})
    assert shares["vocals"]["share"] == pytest.approx(0.8, abs=0.005)
    assert shares["drums"] == {"loudness_lufs": -120.0, "share": 0.0}


def test_too_short_or_silent_input_is_refused() -> None:
    with pytest.raises(InputError, match="too short"):
        analyze(np.ones((2, 2 * 44100), np.float32) * 0.1, 44100)
    with pytest.raises(InputError, match="silent"):
        analyze(np.zeros((2, 5 * 44100), np.float32), 44100)


def test_analyze_command_writes_json(tmp_path: Path) -> None:
    folder = tmp_path / "stems"
    folder.mkdir()
    sr = 44100
    drums = np.repeat(click_track(120.0, 8.0, sr)[None], 2, axis=0)
    bass = np.repeat(chord_sequence([[40], [45]] * 4, 1.0, sr)[None], 2, axis=0)
    for name, audio in (("drums", drums), ("bass", bass)):
        sf.write(folder / f"{name}.wav", audio.T, sr)
    sf.write(tmp_path / "mix.wav", (drums + bass).T, sr)
    result = runner.invoke(app, ["analyze", str(tmp_path / "mix.wav"), "--stems", str(folder)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tempo_source"] == "drums"
    assert data["tempo_bpm"] == pytest.approx(120.0, rel=0.02)
    assert len(data["energy"]["values"]) == 8
    assert set(data["stems"]) == {"drums", "bass"}
    assert sum(s["share"] for s in data["stems"].values()) == pytest.approx(1.0, abs=1e-3)
    for key in ("key", "loudness_lufs", "true_peak_dbtp", "spectral_centroid_hz"):
        assert key in data


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: sf.write(p, np.zeros(5 * 22050), 22050), "silent"),
        (lambda p: sf.write(p, 0.3 * np.ones(2 * 22050), 22050), "too short"),
        (lambda p: p.write_bytes(b"RIFF....WAVEnot really"), "not an audio file"),
    ],
)
def test_analyze_command_refuses_bad_input(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "input.wav"
    make(path)
    result = runner.invoke(app, ["analyze", str(path)])
    assert result.exit_code == 1
    assert "error:" in result.stderr and message in result.stderr
