"""Does the Auto-EQ's recommendation bring a *separated* stem closer to the true stem?

The real use of the Auto-EQ is on the separator's stems, whose faults are leakage and lost
detail, not a shelf. For each held-out song (the sum of its true stems is the mixture) the
bundled separator makes four stems (`stemdeck.separator` API, soft mask on, as `separate`
runs); every model recommends an EQ per separated stem, which is applied with the shared
filters (`stemdeck.eq.filters.apply_eq`). Scored per stem with `spectral_distance` (long-term
third-octave band levels, 31.5 Hz-16 kHz, against the true stem): how often the corrected stem
is closer than the uncorrected one, how often farther, how often untouched (all gains 0), and
the mean change of the distance in dB.

The separations are cached under eval/eq-separated/ (gitignored), keyed by the data, split
and the separator checkpoint's contents, so a rerun costs only the recommendations.

    .venv/bin/python bench/eq_separated.py --data ../shared/audio/musdb18-7 --split valid \
        [--model default] [--compare ../shared/seed/model2_mastering.pth] [--separator default]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np

from stemdeck.common.audio import TARGET_RATE
from stemdeck.eq.checkpoints import open_model
from stemdeck.eq.filters import BAND_NAMES, apply_eq
from stemdeck.eq.model import EqNet
from stemdeck.eq.predict import EqInputError, predict_eq
from stemdeck.training.eq_eval import SEED_CHECKPOINT, spectral_distance
from stemdeck.training.musdb import SOURCES, find_tracks

CACHE = Path("eval/eq-separated")
#: A distance change smaller than this (dB) counts as untouched.
SAME_DB = 1e-3


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def separations(root: Path, split: str, separator_name: str) -> dict[str, tuple[np.ndarray, ...]]:
    """Per track: (true stems, separated stems), each (sources, channels, frames) float32,
    from the cache when the data, split and separator checkpoint are the same."""
    from stemdeck.separator.repository import open_model as open_separator
    from stemdeck.separator.repository import resolve
    from stemdeck.separator.separate import Separator

    checkpoint = resolve(separator_name)
    key = hashlib.sha256(
        f"{root.resolve()}|{split}|{_digest(checkpoint)}|soft-mask".encode()
    ).hexdigest()[:16]
    folder = CACHE / key
    separator = None
    out = {}
    for track in find_tracks(root, split):
        truth = track.load()
        cached = folder / f"{track.name}.npy"
        if cached.is_file():
            separated = np.load(cached)
        else:
            if separator is None:
                separator = Separator(open_separator(separator_name), "cpu")
                if tuple(separator.config.sources) != SOURCES:
                    raise SystemExit(f"separator stems {separator.config.sources} != {SOURCES}")
            began = time.perf_counter()
            separated = separator.separate_array(truth.sum(axis=0)).astype(np.float32)
            folder.mkdir(parents=True, exist_ok=True)
            np.save(cached, separated)
            print(f"separated {track.name} in {time.perf_counter() - began:.1f} s", flush=True)
        out[track.name] = (truth, separated)
    return out


def score(data: dict[str, tuple[np.ndarray, ...]], model: EqNet) -> list[dict]:
    """One row per non-silent separated stem: the gains and the distances before and after."""
    rows = []
    for name, (truth, separated) in data.items():
        for index, stem in enumerate(SOURCES):
            true_mono = truth[index].mean(axis=0)
            mono = separated[index].mean(axis=0)
            try:
                gains = predict_eq(mono, TARGET_RATE, stem, model).gains_db
            except EqInputError:  # a silent separated stem: nothing to recommend
                continue
            vector = np.array([gains[b] for b in BAND_NAMES])
            before = spectral_distance(true_mono, mono)
            after = (
                spectral_distance(true_mono, apply_eq(mono, TARGET_RATE, vector))
                if vector.any()
                else before
            )
            rows.append(
                {"track": name, "stem": stem, "gains": vector, "before": before, "after": after}
            )
    return rows


def report(name: str, rows: list[dict]) -> None:
    change = np.array([r["before"] - r["after"] for r in rows])
    closer, farther = int((change > SAME_DB).sum()), int((change < -SAME_DB).sum())
    gains = np.abs(np.stack([r["gains"] for r in rows]))
    moved = change[np.abs(change) > SAME_DB]
    print(
        f"| {name} | {len(rows)} | {closer} ({closer / len(rows):.0%}) | "
        f"{farther} ({farther / len(rows):.0%}) | {len(rows) - closer - farther} | "
        f"{np.mean([r['before'] for r in rows]):.2f} -> "
        f"{np.mean([r['after'] for r in rows]):.2f} | "
        f"{change.mean():+.3f} | {(moved.mean() if len(moved) else 0.0):+.3f} | "
        + " / ".join(f"{v:.2f}" for v in gains.mean(axis=0))
        + " |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="valid")
    parser.add_argument("--separator", default="default")
    parser.add_argument("--model", default="default")
    parser.add_argument("--compare", action="append", default=None, help="repeatable")
    args = parser.parse_args()
    compare = args.compare
    if compare is None:
        compare = [str(SEED_CHECKPOINT)] if SEED_CHECKPOINT.is_file() else []
    models = {args.model: open_model(args.model).model}
    for other in compare:
        label = "seed checkpoint" if Path(other).resolve() == SEED_CHECKPOINT else other
        models[label] = open_model(other).model
    began = time.perf_counter()
    data = separations(args.data, args.split, args.separator)
    print(
        f"\n{args.data} ({args.split}): {len(data)} songs separated by {args.separator}; "
        "distance = mean |third-octave level difference| to the true stem (dB)\n"
    )
    print(
        "| model | stems | closer | farther | untouched | mean distance before -> after | "
        "mean change (+ = closer) | mean change where moved | mean |gain| low / mid / high |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---:|---|")
    scored = {name: score(data, model) for name, model in models.items()}
    for name, rows in scored.items():
        report(name, rows)
    for name, rows in scored.items():
        print(f"\n{name}, by stem kind:")
        for stem in SOURCES:
            chosen = [r for r in rows if r["stem"] == stem]
            if chosen:
                report(stem, chosen)
    print(f"\n{time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
