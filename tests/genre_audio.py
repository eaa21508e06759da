"""Generated audio for the genre and analysis tests: clicks at a known tempo, chords in a known
key, and per-genre tone clips in the GTZAN layout. Deterministic, a few seconds each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from stemdeck.training.gtzan import GENRES


def click_track(bpm: float, seconds: float, sr: int = 22050, seed: int = 0) -> np.ndarray:
    """Mono float32 with a decaying noise burst on every beat (accent on each fourth)."""
    rng = np.random.default_rng(seed)
    y = np.zeros(round(seconds * sr), dtype=np.float32)
    burst = int(0.04 * sr)
    envelope = np.exp(-np.arange(burst) / (0.006 * sr))
    period = 60.0 / bpm
    for k in range(int(seconds / period)):
        start = round(k * period * sr)
        gain = 0.9 if k % 4 == 0 else 0.5
        chunk = gain * envelope * rng.uniform(-1, 1, burst)
        y[start : start + burst] += chunk[: len(y) - start].astype(np.float32)
    return y


def tone(freqs: list[float], seconds: float, sr: int, harmonics: int = 4) -> np.ndarray:
    """A sum of harmonic tones (1/h amplitudes) with a short fade in and out."""
    t = np.arange(round(seconds * sr)) / sr
    y = sum(
        np.sin(2 * np.pi * f * h * t) / h
        for f in freqs
        for h in range(1, harmonics + 1)
        if f * h < sr / 2
    )
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)
    return (y * fade).astype(np.float32)


def midi_hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def chord_sequence(chords: list[list[int]], seconds_each: float, sr: int = 22050) -> np.ndarray:
    """Chords given as MIDI note lists, one after the other, normalised to peak 0.5."""
    y = np.concatenate([tone([midi_hz(n) for n in c], seconds_each, sr) for c in chords])
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def genre_clip(genre: str, number: int, seconds: float = 3.5, sr: int = 22050) -> np.ndarray:
    """A clip whose timbre depends on the genre (base pitch, brightness, noise) so a tiny
    GenreNet can learn the ten classes; `number` varies it slightly."""
    g = GENRES.index(genre)
    rng = np.random.default_rng(100 * g + number)
    base = 180.0 * 2 ** (g / 4) * (1 + 0.01 * number)
    y = tone([base, base * 1.5], seconds, sr, harmonics=1 + g)
    y = y / np.abs(y).max() * 0.3 + (0.02 * g) * rng.standard_normal(len(y)).astype(np.float32)
    return y.astype(np.float32)


def write_gtzan(root: Path, per_genre: int = 5, seconds: float = 3.5) -> Path:
    """ROOT/genres_original/<genre>/<genre>.000NN.wav for every GTZAN genre, plus one file that
    is not audio (like GTZAN's jazz.00054.wav)."""
    for genre in GENRES:
        folder = root / "genres_original" / genre
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(per_genre):
            sf.write(folder / f"{genre}.{n:05d}.wav", genre_clip(genre, n, seconds), 22050)
    (root / "genres_original" / "jazz" / "jazz.00054.wav").write_bytes(b"RIFF\x00\x00not audio")
    return root
