"""Write synthetic songs as a MUSDB18-HQ-layout corpus, in parallel, reproducibly.

OUT/<split folder>/<track>/{mixture,drums,bass,other,vocals}.wav (44.1 kHz stereo float)
plus metadata.json, and OUT/tracks.csv listing every track with its split. As in MUSDB18,
validation tracks live in train/; here every tenth song of each genre is one.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.io import wavfile

from stemdeck.common.audio import TARGET_RATE
from stemdeck.training.synth.score import GENRES, STEMS
from stemdeck.training.synth.workers import make_song, run_jobs

INDEX = "tracks.csv"
INDEX_COLUMNS = ("track", "split", "genre", "tempo", "key", "sound_set", "seed", "seconds")
VALID_EVERY = 10  # the 10th, 20th, ... song of each genre in a train run is a validation song


@dataclass(frozen=True)
class TrackJob:
    """Everything a worker needs to make one song, so that any worker makes the same bytes."""

    name: str
    split: str  # train, valid or test
    genre: str
    seed: int
    seconds: float
    sound_set: str


@dataclass(frozen=True)
class TrackDone:
    job: TrackJob
    row: dict
    seconds_taken: float


def plan(
    split: str, tracks: int, seconds: float, seed: int, sound_set: str, genres: Sequence[str]
) -> list[TrackJob]:
    """The songs of one run: genres in turn (equal shares), seeds derived from `seed`."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be train or test, not {split!r}")
    unknown = sorted(set(genres) - set(GENRES))
    if unknown:
        raise ValueError(f"unknown genre {', '.join(unknown)}; choose from {', '.join(GENRES)}")
    if tracks < 1 or seconds < 1:
        raise ValueError("need at least one track of at least 1 s")
    states = np.random.SeedSequence([seed, 0 if split == "train" else 1]).generate_state(tracks)
    jobs = []
    for k in range(tracks):
        genre = genres[k % len(genres)]
        is_valid = split == "train" and (k // len(genres)) % VALID_EVERY == VALID_EVERY - 1
        jobs.append(
            TrackJob(
                name=f"{split}-{seed}-{k:04d}-{genre}",
                split="valid" if is_valid else split,
                genre=genre,
                seed=int(states[k]),
                seconds=seconds,
                sound_set=sound_set,
            )
        )
    return jobs


def make_track(job: TrackJob, out: Path) -> TrackDone:
    """Compose, render and write one song (runs in a worker process)."""
    started = time.perf_counter()
    song, rendered = make_song(job.genre, job.seconds, job.seed, job.name, job.sound_set)
    folder = out / ("test" if job.split == "test" else "train") / job.name
    folder.mkdir(parents=True, exist_ok=True)
    for stem in STEMS:
        _write(folder / f"{stem}.wav", rendered.stems[stem])
    _write(folder / "mixture.wav", rendered.mixture)
    vocal_notes = sum(len(p.notes) for p in song.parts_of("vocals"))
    metadata = {
        **song.summary(),
        "split": job.split,
        "seconds": job.seconds,
        "sample_rate": TARGET_RATE,
        "sound_set": job.sound_set,
        "track_seed": job.seed,
        "has_vocals": vocal_notes > 0,
        **rendered.metadata(),
    }
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=1) + "\n")
    row = {
        "track": job.name, "split": job.split, "genre": job.genre,
        "tempo": metadata["tempo"], "key": song.key, "sound_set": job.sound_set,
        "seed": job.seed, "seconds": job.seconds,
    }  # fmt: skip
    return TrackDone(job, row, time.perf_counter() - started)


def _write(path: Path, audio: np.ndarray) -> None:
    """32-bit float WAV, written beside and renamed, so an interrupted run leaves no half
    file. scipy's writer, because libsndfile stamps float WAVs with the time of writing (PEAK
    chunk), and the same seed must give the same bytes."""
    part = path.with_name(path.name + ".part")
    wavfile.write(part, TARGET_RATE, np.ascontiguousarray(audio.T, dtype=np.float32))
    part.replace(path)


def run(jobs: Sequence[TrackJob], out: Path, workers: int = 1) -> Iterator[TrackDone]:
    """Make the songs, yielding each as it finishes; the index is updated at the end."""
    out.mkdir(parents=True, exist_ok=True)
    done: list[TrackDone] = []
    try:
        for result in run_jobs(make_track, jobs, out, workers=workers):
            done.append(result)
            yield result
    finally:
        update_index(out, [d.row for d in done])


def update_index(out: Path, rows: Sequence[dict]) -> None:
    """Merge rows into OUT/tracks.csv by track name, sorted, so reruns replace, not repeat."""
    index = out / INDEX
    merged: dict[str, dict] = {}
    if index.is_file():
        with index.open(newline="") as handle:
            merged = {row["track"]: row for row in csv.DictReader(handle)}
    merged.update({row["track"]: {k: str(v) for k, v in row.items()} for row in rows})
    part = index.with_name(INDEX + ".part")
    with part.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, INDEX_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(merged[name] for name in sorted(merged))
    part.replace(index)
