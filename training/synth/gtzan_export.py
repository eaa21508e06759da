"""GTZAN-layout clips from synthetic songs: OUT/genres_original/<genre>/<genre>.000NN.wav,
30 s mono 22.05 kHz 16-bit, the same number per genre, for training the genre classifier."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from stemdeck.common.audio import TARGET_RATE
from stemdeck.training.synth.score import GENRES
from stemdeck.training.synth.workers import make_song, run_jobs

GTZAN_RATE = 22050
GTZAN_SECONDS = 30.0
#: Seeds tried for one clip before it is given up (the clips.csv row names the one used).
RENDER_TRIES = 3
_RETRY_SEED_STEP = 7919


@dataclass(frozen=True)
class ClipJob:
    genre: str
    number: int
    seed: int
    sound_set: str


def plan_clips(per_genre: int, seed: int, sound_set: str, genres: Sequence[str] = GENRES):
    """`per_genre` clips of each genre, numbered 00000 up as in GTZAN."""
    if per_genre < 1:
        raise ValueError("need at least one clip per genre")
    states = np.random.SeedSequence([seed, 2]).generate_state(per_genre * len(genres))
    return [
        ClipJob(genre, n, int(states[n * len(genres) + g]), sound_set)
        for n in range(per_genre)
        for g, genre in enumerate(genres)
    ]


def clip_path(out: Path, job: ClipJob) -> Path:
    return out / "genres_original" / job.genre / f"{job.genre}.{job.number:05d}.wav"


def make_clip(job: ClipJob, out: Path) -> tuple[ClipJob, dict | None, float, str | None]:
    """Compose and render one 30 s song and write its mixture as a GTZAN clip. A render that
    fails (a synthesiser voice choking on one arrangement, e.g. Festival's lp diphone voice)
    is retried with other seeds; after RENDER_TRIES the clip is reported, not the run ended.
    Returns (job, its clips.csv row or None, seconds, error or None)."""
    started = time.perf_counter()
    name = f"{job.genre}.{job.number:05d}"
    errors = []
    for attempt in range(RENDER_TRIES):
        seed = job.seed + _RETRY_SEED_STEP * attempt
        try:
            song, rendered = make_song(job.genre, GTZAN_SECONDS, seed, name, job.sound_set)
            break
        except RuntimeError as exc:
            errors.append(f"seed {seed}: {exc}")
    else:
        return job, None, time.perf_counter() - started, "; ".join(errors)
    mono = rendered.mixture.mean(0)
    clip = soxr.resample(mono, TARGET_RATE, GTZAN_RATE, quality="HQ")
    path = clip_path(out, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    sf.write(part, np.clip(clip, -1, 1), GTZAN_RATE, subtype="PCM_16", format="WAV")
    part.replace(path)
    row = {"file": str(path.relative_to(out)), "genre": job.genre, "tempo": song.tempo,
           "key": song.key, "sound_set": job.sound_set, "seed": seed}  # fmt: skip
    return job, row, time.perf_counter() - started, None


def run_clips(jobs: Sequence[ClipJob], out: Path, workers: int = 1) -> Iterator[tuple]:
    """Make the clips, yielding (job, row, seconds, error) as each finishes; then write
    OUT/genres_original/clips.csv with every made clip's tempo, key and seed."""
    rows: list[dict] = []
    try:
        for result in run_jobs(make_clip, jobs, out, workers=workers):
            if result[1] is not None:
                rows.append(result[1])
            yield result
    finally:
        if rows:
            index = out / "genres_original" / "clips.csv"
            with index.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, list(rows[0]), lineterminator="\n")
                writer.writeheader()
                writer.writerows(sorted(rows, key=lambda r: r["file"]))
