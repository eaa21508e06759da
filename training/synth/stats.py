"""Statistics that tell whether a synthetic corpus is fit for training, without listening to
all of it: genre balance, how often each stem plays, silence where the score says so, peaks
and the mixture-minus-stems residual."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from stemdeck.training.synth.score import STEMS

ACTIVE_DB = -40.0  # a 1 s frame whose RMS is above this counts as active
RELEASE_SECONDS = 2.0  # reverb and release after a sung section ends are not "vocals present"


@dataclass
class TrackStats:
    folder: Path
    name: str
    genre: str
    active_share: dict[str, float]
    mixture_peak: float
    residual_db: float
    leaked_vocals_db: float  # loudest 1 s vocal frame where the score has no singing
    problems: list[str] = field(default_factory=list)


def frame_rms_db(audio: np.ndarray, rate: int, seconds: float = 1.0) -> np.ndarray:
    """RMS in dBFS of consecutive `seconds`-long frames of a (frames, channels) signal."""
    size = int(rate * seconds)
    count = len(audio) // size
    frames = audio[: count * size].reshape(count, size, -1)
    power = np.mean(frames.astype(np.float64) ** 2, axis=(1, 2))
    return 10 * np.log10(np.maximum(power, 1e-20))


def _silent_spans(meta: dict) -> list[tuple[float, float]]:
    """Seconds where the score has no singing (whole song for an instrumental)."""
    if not meta.get("has_vocals", True):
        return [(0.0, math.inf)]
    seconds_per_bar = 60.0 / meta["tempo"] * meta["beats_per_bar"]
    spans, sung_before = [], False
    for section in meta["sections"]:
        start = section["start_bar"] * seconds_per_bar
        end = start + section["bars"] * seconds_per_bar
        if not section["vocals"]:
            spans.append((start + (RELEASE_SECONDS if sung_before else 0.0), end))
        sung_before = section["vocals"]
    return [(a, b) for a, b in spans if b > a]


def track_stats(folder: Path) -> TrackStats:
    """Measure one track folder of the corpus."""
    meta = json.loads((folder / "metadata.json").read_text())
    stems = {}
    for stem in STEMS:
        stems[stem], rate = sf.read(folder / f"{stem}.wav", dtype="float32")
    mixture, rate = sf.read(folder / "mixture.wav", dtype="float32")
    total = np.sum([stems[s].astype(np.float64) for s in STEMS], axis=0)
    error = np.sqrt(np.mean((mixture - total) ** 2))
    residual_db = 20 * math.log10(max(float(error), 1e-20) / max(np.sqrt(np.mean(total**2)), 1e-20))
    share = {s: float(np.mean(frame_rms_db(stems[s], rate) > ACTIVE_DB)) for s in STEMS}
    vocal_db = frame_rms_db(stems["vocals"], rate)
    leaked = -200.0
    for start, end in _silent_spans(meta):
        first, last = math.ceil(start), min(len(vocal_db), math.floor(min(end, 1e9)))
        if last > first:
            leaked = max(leaked, float(vocal_db[first:last].max()))
    stats = TrackStats(folder, folder.name, meta["genre"], share, float(np.abs(mixture).max()),
                       residual_db, leaked)  # fmt: skip
    if stats.mixture_peak >= 1.0:
        stats.problems.append(f"mixture peaks at {stats.mixture_peak:.3f}")
    if any(np.abs(stems[s]).max() >= 1.0 for s in STEMS):
        stats.problems.append("a stem clips")
    if residual_db > -60:
        stats.problems.append(f"mixture - sum of stems is {residual_db:.1f} dB")
    if leaked > ACTIVE_DB:
        stats.problems.append(f"vocals at {leaked:.1f} dBFS where the score has none")
    return stats


def corpus_stats(root: Path) -> list[TrackStats]:
    """Stats of every track listed in ROOT/tracks.csv."""
    index = root / "tracks.csv"
    if not index.is_file():
        raise FileNotFoundError(f"no tracks.csv under {root}: is this a synthetic corpus?")
    with index.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        track_stats(root / ("test" if row["split"] == "test" else "train") / row["track"])
        for row in rows
    ]


def genre_counts(stats: list[TrackStats]) -> Counter:
    return Counter(s.genre for s in stats)
