"""Does the Auto-EQ recommendation depend on how the stem reached it?

A stem arrives as a float file, a 16-bit WAV, an MP3 or an AAC file, or with a recording's hiss;
none of these changes its tonal balance below 16 kHz, so none should change the recommended EQ.
The bench damages every non-silent held-out stem with the seeded gains `stemdeck eval eq` uses,
delivers each damaged stem every way (real encodes with ffmpeg: libmp3lame 128 kbit/s, AAC
128 kbit/s), and prints per delivery the MAE of the recommendation against the inverse gains and
how far it moved from the float file's.

`--stems DIR` adds a check without ground truth: the recommendations for the separated stems
of released recordings (DIR/<song>/<stem>.wav, as `stemdeck separate` writes them). A mastered
release needs little correction, so large gains there are a warning sign, not a measured error.

    .venv/bin/python bench/eq_delivery.py --data ../shared/audio/musdb18-7:valid \
        --data data/synth:test [--stems DIR] [--model default] [--draws 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from stemdeck.common.audio import TARGET_RATE, read_audio, write_audio
from stemdeck.eq.checkpoints import open_model
from stemdeck.eq.features import SILENCE_DB, rms_db
from stemdeck.eq.filters import BAND_NAMES, apply_eq
from stemdeck.eq.model import STEMS
from stemdeck.eq.predict import predict_eq
from stemdeck.training.eq_eval import damage_draws
from stemdeck.training.musdb import find_tracks


def _through_file(mono: np.ndarray, suffix: str, codec: list[str], scratch: Path) -> np.ndarray:
    """The mono signal after a round trip through a real file written by ffmpeg."""
    source, encoded = scratch / "in.wav", scratch / f"out{suffix}"
    write_audio(source, mono[None], TARGET_RATE, bit_depth=32)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source), *codec, str(encoded)], check=True
    )
    return read_audio(encoded, TARGET_RATE, 1)[0]


def _wav16(mono: np.ndarray, scratch: Path) -> np.ndarray:
    write_audio(scratch / "16.wav", mono[None], TARGET_RATE, bit_depth=16)
    return read_audio(scratch / "16.wav", TARGET_RATE, 1)[0]


def _hiss(mono: np.ndarray, below_db: float, seed: int) -> np.ndarray:
    level = np.sqrt(np.mean(mono.astype(np.float64) ** 2)) * 10 ** (-below_db / 20)
    return mono + np.random.default_rng(seed).normal(0, level, mono.shape).astype(np.float32)


def deliveries(scratch: Path) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    return {
        "float (as read)": lambda x: x,
        "16-bit WAV": lambda x: _wav16(x, scratch),
        "MP3 128 kbit/s": lambda x: _through_file(
            x, ".mp3", ["-c:a", "libmp3lame", "-b:a", "128k"], scratch
        ),
        "AAC 128 kbit/s": lambda x: _through_file(
            x, ".m4a", ["-c:a", "aac", "-b:a", "128k"], scratch
        ),
        "hiss 70 dB under": lambda x: _hiss(x, 70.0, 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", action="append", default=[], help="DIR:split, repeatable")
    parser.add_argument("--stems", type=Path, help="folders of separated stems, one per song")
    parser.add_argument("--model", default="default")
    parser.add_argument("--draws", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=9.0)
    args = parser.parse_args()
    model = open_model(args.model).model
    began = time.perf_counter()
    for spec in args.data:
        root, _, split = spec.rpartition(":")
        predicted: dict[str, list[np.ndarray]] = {}
        targets: list[np.ndarray] = []
        with tempfile.TemporaryDirectory() as folder:
            ways = deliveries(Path(folder))
            for index, track in enumerate(find_tracks(root, split)):
                stop = round(args.max_seconds * TARGET_RATE)
                for stem_index, stem in enumerate(STEMS):
                    clean = track.read(stem, 0, stop).mean(axis=0, dtype=np.float32)
                    if float(rms_db(torch.from_numpy(clean))) <= SILENCE_DB:
                        continue
                    for gains in damage_draws(args.seed, index, stem_index, args.draws):
                        damaged = apply_eq(clean, TARGET_RATE, gains).astype(np.float32)
                        targets.append(-gains)
                        for name, deliver in ways.items():
                            gains_db = predict_eq(
                                deliver(damaged), TARGET_RATE, stem, model
                            ).gains_db
                            predicted.setdefault(name, []).append(
                                np.array([gains_db[b] for b in BAND_NAMES])
                            )
        truth = np.stack(targets)
        reference = np.stack(predicted["float (as read)"])
        print(f"\n{root} ({split}): {len(truth)} damaged stems, model {args.model}")
        print("| delivery | MAE low | mid | high | overall | mean shift vs float | max shift |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, rows in predicted.items():
            guess = np.stack(rows)
            error = np.abs(guess - truth).mean(axis=0)
            shift = np.abs(guess - reference)
            print(
                f"| {name} | {error[0]:.2f} | {error[1]:.2f} | {error[2]:.2f} | "
                f"{error.mean():.2f} | {shift.mean():.2f} | {shift.max():.2f} |"
            )
    if args.stems:
        released(args.stems, model)
    print(f"\n{time.perf_counter() - began:.0f} s")


def released(folder: Path, model: object) -> None:
    """Recommendations for separated stems of released songs: per stem, and mean |gain|."""
    rows = []
    print(f"\n{folder}: recommendations (dB, low / mid / high)")
    for song in sorted(p for p in folder.iterdir() if p.is_dir()):
        cells = []
        for stem in STEMS:
            audio = read_audio(song / f"{stem}.wav", TARGET_RATE, 1)[0]
            try:
                gains = predict_eq(audio, TARGET_RATE, stem, model).gains_db  # type: ignore[arg-type]
            except ValueError:  # silent stem
                cells.append(f"{stem} silent")
                continue
            rows.append([gains[b] for b in BAND_NAMES])
            cells.append(f"{stem} " + " / ".join(f"{gains[b]:+.1f}" for b in BAND_NAMES))
        print(f"- {song.name[:40]}: " + "; ".join(cells))
    table = np.abs(np.array(rows))
    print(
        "mean |gain| low / mid / high: "
        + " / ".join(f"{v:.2f}" for v in table.mean(axis=0))
        + f"; largest {table.max():.1f} dB over {len(rows)} stems"
    )


if __name__ == "__main__":
    main()
