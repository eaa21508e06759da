"""Pitch- and tempo-shifted copies of a dataset's training songs, rendered once and cached.

The 80 real training previews are the only real multitrack audio here; shifting each song by up
to ±2 semitones and ±8 % tempo gives the separator new keys and grooves of the same real
instruments and voices. Shifting on the fly would cost seconds per excerpt (Rubber Band, via
pedalboard, takes about 1-2 s for a 7 s stereo stem on these CPUs), so the copies are rendered
once into a MUSDB18-HQ-layout folder with its own `tracks.csv` (every copy a training track),
which `stemdeck train separator` mixes in as another `--data` with its `--data-weight`.
Validation and test songs are never copied. A copy already on disk is kept, so an interrupted
render continues where it stopped.
"""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stemdeck.common.audio import write_audio
from stemdeck.training.musdb import RATE, SOURCES
from stemdeck.training.sampling import open_split


@dataclass(frozen=True)
class Shift:
    """One copy's change: semitones of pitch and a tempo factor (1.08 = 8 % faster)."""

    semitones: int
    tempo: float

    @property
    def label(self) -> str:
        return f"{self.semitones:+d}st x{self.tempo:.3f}"


def draw_shifts(
    count: int, max_semitones: int, max_tempo_change: float, rng: np.random.Generator
) -> list[Shift]:
    """`count` distinct shifts, none of them (almost) the original song."""
    shifts: list[Shift] = []
    while len(shifts) < count:
        semitones = int(rng.integers(-max_semitones, max_semitones + 1))
        tempo = round(float(rng.uniform(1 - max_tempo_change, 1 + max_tempo_change)), 3)
        if (semitones == 0 and abs(tempo - 1) < 0.02) or any(
            s.semitones == semitones and abs(s.tempo - tempo) < 0.02 for s in shifts
        ):
            continue
        shifts.append(Shift(semitones, tempo))
    return shifts


def shift_stems(stems: np.ndarray, shift: Shift) -> np.ndarray:
    """(sources, 2, n) float32 stems with the same pitch and tempo change, trimmed to one
    length so they still add up to one song."""
    import pedalboard

    changed = [
        pedalboard.time_stretch(
            np.ascontiguousarray(stem, dtype=np.float32),
            RATE,
            stretch_factor=shift.tempo,
            pitch_shift_in_semitones=float(shift.semitones),
        )
        for stem in stems
    ]
    frames = min(c.shape[-1] for c in changed)
    return np.stack([c[:, :frames] for c in changed]).astype(np.float32)


def _folder_name(track: str, shift: Shift) -> str:
    return re.sub(r"[^\w .,&()'+-]", "_", f"{track} ({shift.label})")


def make_shifted_copies(
    source: Path,
    out: Path,
    copies: int = 2,
    max_semitones: int = 2,
    max_tempo_change: float = 0.08,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> int:
    """Render `copies` shifted versions of every training song of `source` into `out`
    (MUSDB18-HQ layout, float WAVs so that nothing clips) and write `out/tracks.csv`; returns
    the number of copies rendered now (those already present are kept)."""
    tracks = open_split(source, "train")
    rng = np.random.default_rng(seed)
    rows, rendered = [], 0
    for index, ref in enumerate(tracks):
        shifts = draw_shifts(copies, max_semitones, max_tempo_change, rng)
        stems: np.ndarray | None = None
        for shift in shifts:
            name = _folder_name(ref.name, shift)
            folder = out / "train" / name
            rows.append({"track": name, "split": "train", "source_track": ref.name,
                         "semitones": shift.semitones, "tempo": shift.tempo})  # fmt: skip
            if folder.is_dir():
                continue
            stems = ref.load() if stems is None else stems
            changed = shift_stems(stems, shift)
            partial = folder.with_name(folder.name + ".part")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            for name_, audio in zip(SOURCES, changed, strict=True):
                write_audio(partial / f"{name_}.wav", audio, bit_depth=32)
            write_audio(partial / "mixture.wav", changed.sum(0), bit_depth=32)
            partial.replace(folder)
            rendered += 1
        log(f"{index + 1}/{len(tracks)} {ref.name}: " + ", ".join(s.label for s in shifts))
    out.mkdir(parents=True, exist_ok=True)
    with (out / "tracks.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rendered
