"""Sung vocal parts (training/synth/vocals.py): length, silence, timing, pitch, determinism.

These call the real Festival and espeak-ng, so they are skipped where those are not installed
(scripts/install-synth-deps installs them).
"""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from stemdeck.training.synth import vocals
from stemdeck.training.synth.score import Note, Part, Section, Song

pytestmark = pytest.mark.unit

RATE = 44100
TEMPO = 120.0  # 0.5 s per beat
needs_festival = pytest.mark.skipif(
    shutil.which("text2wave") is None, reason="festival is not installed (install-synth-deps)"
)
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (install-synth-deps)"
)

# Two short notes (one phrase), a two-beat rest (a new phrase), a held note, then silence.
NOTES = [
    Note(0.0, 0.8, 57, 100, "la"),  # a short breath before the next note
    Note(1.0, 1.0, 60, 100, "ma"),
    Note(4.0, 2.0, 55, 100, "no"),
]
HELD = NOTES[2]


def tiny_song() -> Song:
    return Song(
        title="test", genre="pop", tempo=TEMPO, key="C major", time_signature=(4, 4),
        beats_per_bar=4.0, swing=0.0, sections=[Section("verse", 0, 2, 0.8, True)],
        chords=[], parts=[], seed=0,
    )  # fmt: skip


def vocal_part(voice: str, notes: list[Note] = NOTES) -> Part:
    return Part("lead vocal", "vocals", "vocal_lead", 0, list(notes), voice)


def seconds(beats: float) -> int:
    return round(beats * 60 / TEMPO * RATE)


def onset(audio: np.ndarray, near: int) -> int:
    """First sample from 50 ms before `near` whose 5 ms RMS is within 30 dB of the peak's."""
    power = np.convolve(audio.astype(np.float64) ** 2, np.ones(220) / 220, mode="same")
    loud = np.flatnonzero(power[max(near - 2205, 0) :] > power.max() * 1e-3)
    return max(near - 2205, 0) + int(loud[0])


def pitch_cents(audio: np.ndarray, start: int, stop: int, midi: int) -> float:
    """Median error in cents of 40 ms autocorrelation pitch estimates against `midi`,
    searching within a fifth either side of it."""
    target = 440.0 * 2 ** ((midi - 69) / 12)
    lo, hi = int(RATE / (target * 1.5)), int(RATE / (target / 1.5)) + 1
    errors = []
    for at in range(start, stop - 1764, 441):
        frame = audio[at : at + 1764].astype(np.float64) * np.hanning(1764)
        spectrum = np.fft.rfft(frame, 4096)
        ac = np.fft.irfft(np.abs(spectrum) ** 2)[: hi + 2]
        lag = lo + int(np.argmax(ac[lo:hi]))
        a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
        lag += 0.5 * (a - c) / (a - 2 * b + c)
        errors.append(1200 * math.log2(RATE / lag / target))
    return float(np.median(errors))


@pytest.fixture(scope="module")
def kal() -> np.ndarray:
    return vocals.render_vocal_part(vocal_part("festival:kal"), tiny_song(), RATE)


@pytest.fixture(scope="module")
def espeak_male() -> np.ndarray:
    return vocals.render_vocal_part(vocal_part("espeak:en-us+m3"), tiny_song(), RATE)


@needs_festival
def test_festival_part_fills_the_song_and_is_silent_in_rests(kal: np.ndarray) -> None:
    assert kal.dtype == np.float32 and kal.ndim == 1
    assert len(kal) == math.ceil(tiny_song().beats * 0.5 * RATE)
    assert abs(float(np.abs(kal).max()) - 0.5) < 1e-3
    assert np.all(kal[seconds(2.0) : seconds(4.0)] == 0)  # the rest between the phrases
    assert np.all(kal[seconds(6.0) :] == 0)  # after the last note
    for note in NOTES:  # something is sung through every note
        a, b = seconds(note.start + 0.1), seconds(note.start + note.length - 0.2)
        assert np.sqrt(np.mean(kal[a:b] ** 2)) > 0.02


@needs_festival
def test_festival_syllables_start_on_their_notes(kal: np.ndarray) -> None:
    for note in NOTES:
        assert abs(onset(kal, seconds(note.start)) - seconds(note.start)) < 0.03 * RATE


@needs_festival
def test_festival_sings_the_note_pitch(kal: np.ndarray) -> None:
    start, stop = seconds(HELD.start + 0.3), seconds(HELD.start + HELD.length - 0.1)
    assert abs(pitch_cents(kal, start, stop, HELD.pitch)) < 50


@needs_festival
def test_festival_hts_voice_is_retuned_and_retimed() -> None:
    """The HTS voice ignores singing-mode pitch and duration; the resynthesis must not."""
    if "festival:slt" not in vocals.available_voices():
        pytest.skip("festvox-us-slt-hts is not installed")
    notes = [Note(n.start, n.length, n.pitch + 12, n.velocity, n.syllable) for n in NOTES]
    audio = vocals.render_vocal_part(vocal_part("festival:slt", notes), tiny_song(), RATE)
    start, stop = seconds(HELD.start + 0.3), seconds(HELD.start + HELD.length - 0.1)
    assert abs(pitch_cents(audio, start, stop, HELD.pitch + 12)) < 50
    assert abs(onset(audio, seconds(HELD.start)) - seconds(HELD.start)) < 0.03 * RATE
    assert np.all(audio[seconds(6.0) :] == 0)


@needs_espeak
def test_espeak_sings_the_note_pitch_on_time(espeak_male: np.ndarray) -> None:
    assert len(espeak_male) == math.ceil(tiny_song().beats * 0.5 * RATE)
    assert np.all(espeak_male[seconds(2.0) : seconds(4.0)] == 0)
    start, stop = seconds(HELD.start + 0.3), seconds(HELD.start + HELD.length - 0.1)
    assert abs(pitch_cents(espeak_male, start, stop, HELD.pitch)) < 50
    for note in NOTES:
        assert abs(onset(espeak_male, seconds(note.start)) - seconds(note.start)) < 0.03 * RATE


@needs_espeak
def test_espeak_is_deterministic(espeak_male: np.ndarray) -> None:
    """libespeak-ng keeps state between calls; a part must still render bit for bit the same."""
    vocals.render_vocal_part(vocal_part("espeak:en+f3"), tiny_song(), RATE)  # disturb it
    again = vocals.render_vocal_part(vocal_part("espeak:en-us+m3"), tiny_song(), RATE)
    assert np.array_equal(again, espeak_male)


@needs_festival
def test_festival_is_deterministic(kal: np.ndarray) -> None:
    again = vocals.render_vocal_part(vocal_part("festival:kal"), tiny_song(), RATE)
    assert np.array_equal(again, kal)


@needs_festival
def test_available_voices_are_renderable_names() -> None:
    voices = vocals.available_voices()
    assert "festival:kal" in voices
    for voice in voices:
        assert voice.split(":")[0] in ("festival", "espeak")
        assert vocals.voice_gender(voice) in ("male", "female")


def test_an_empty_part_is_silence() -> None:
    audio = vocals.render_vocal_part(vocal_part("festival:kal", []), tiny_song(), 22050)
    assert audio.shape == (math.ceil(8 * 0.5 * 22050),) and not audio.any()


def test_missing_festival_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vocals.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="festival is not installed: run scripts/install"):
        vocals.render_vocal_part(vocal_part("festival:kal"), tiny_song(), RATE)
    with pytest.raises(RuntimeError, match="espeak-ng is not installed"):
        vocals._espeak_library.cache_clear()
        try:
            vocals.render_vocal_part(vocal_part("espeak:en-us+m3"), tiny_song(), RATE)
        finally:
            vocals._espeak_library.cache_clear()


@needs_festival
def test_missing_festival_voice_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vocals, "_festival_voice_list", lambda: ("kal_diphone",))
    with pytest.raises(RuntimeError, match="festvox-us-slt-hts"):
        vocals.render_vocal_part(vocal_part("festival:slt"), tiny_song(), RATE)


def test_unknown_voice_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown voice"):
        vocals.render_vocal_part(vocal_part("festival:nobody"), tiny_song(), RATE)
