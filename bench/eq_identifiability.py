"""How well can *any* model judge the Auto-EQ damage from the damaged stem alone?

The Auto-EQ sees a stem after random gains (uniform +-10 dB) on the shared low shelf, 1 kHz peak
and high shelf, and must name the inverse gains without the clean stem. Whatever the network,
it can only tell the EQ apart from the stem's own tone by knowing how stems of that kind usually
sound. This bench measures that limit with estimators given a better view of the spectrum than
the CNN's:

- the whole stem's long-term average spectrum (Welch, 1/6-octave bands 25 Hz-19 kHz, 44.1 kHz,
  level removed) instead of 3 s of a 64-band mel spectrogram;
- the stem kind, and a regression fitted per stem kind on many damaged copies of the training
  stems (gradient-boosted trees, one per band).

Damage is applied exactly in the power-spectrum domain (|H(f)|^2 of the shared EQ times the
clean spectrum), which is what a filter does to a long-term spectrum. The figure to set beside the
issue's targets is the test MAE. These estimators see the spectrum better than the CNN (the whole
stem, finer bands) but lose its time structure, so they bound nothing strictly; they show how
far the stems' own tonal spread leaves any estimator from the truth.

    .venv/bin/python bench/eq_identifiability.py --train data/synth \
        --train ../shared/audio/musdb18-7 --test data/synth:test \
        --test ../shared/audio/musdb18-7:valid
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.signal import welch
from sklearn.ensemble import HistGradientBoostingRegressor

from stemdeck.common.audio import TARGET_RATE
from stemdeck.eq.features import FULL_TOP_DB
from stemdeck.eq.filters import DAMAGE_RANGE_DB, frequency_response
from stemdeck.training.musdb import find_tracks

STEMS = ("drums", "bass", "other", "vocals")
EDGES = 25.0 * 2.0 ** (np.arange(0, 60) / 6.0)  # 1/6-octave band edges, 25 Hz .. ~19 kHz
SILENCE_DB = -60.0


def stem_spectra(root: str, split: str) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(track, stem, freqs, power spectrum) of every non-silent stem of `split` in `root`."""
    out = []
    for track in find_tracks(root, split):
        for stem in STEMS:
            mono = track.read(stem).mean(axis=0).astype(np.float64)
            if 10 * np.log10(np.mean(mono**2) + 1e-20) < SILENCE_DB:
                continue
            freqs, power = welch(mono, TARGET_RATE, nperseg=8192)
            out.append((track.name, stem, freqs, power))
    return out


def band_db(freqs: np.ndarray, power: np.ndarray, floor_db: float | None = None) -> np.ndarray:
    """Power summed into the 1/6-octave bands, in dB, with the mean over bands removed; with
    `floor_db`, no band reads lower than that far under the loudest band (as the CNN's front end
    ends `FULL_TOP_DB` under its loudest bin, so a real file's hiss or codec edge looks alike)."""
    index = np.digitize(freqs, EDGES)
    bands = np.array([power[..., index == b].sum(-1) for b in range(1, len(EDGES))]).T
    levels = 10 * np.log10(bands + 1e-20)
    if floor_db is not None:
        levels = np.maximum(levels, levels.max(-1, keepdims=True) - floor_db)
    return levels - levels.mean(-1, keepdims=True)


def damaged_examples(
    spectra: list, stem: str, copies: int, rng: np.random.Generator, floor_db: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Features (n, bands) and inverse gains (n, 3) for `copies` random damages of each stem."""
    features, targets = [], []
    for _, kind, freqs, power in spectra:
        if kind != stem:
            continue
        gains = rng.uniform(-DAMAGE_RANGE_DB, DAMAGE_RANGE_DB, (copies, 3))
        response = np.abs(frequency_response(gains, np.maximum(freqs, 1.0), TARGET_RATE)) ** 2
        features.append(band_db(freqs, power[None, :] * response, floor_db))
        targets.append(-gains)
    return np.concatenate(features), np.concatenate(targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", action="append", required=True, help="ROOT[:SPLIT]")
    parser.add_argument("--test", action="append", required=True, help="ROOT[:SPLIT]")
    parser.add_argument("--copies", type=int, default=40, help="damages per training stem")
    parser.add_argument("--draws", type=int, default=10, help="damages per test stem")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--floor",
        type=float,
        help="dB under the loudest band below which levels are not read (the CNN: "
        f"{FULL_TOP_DB:g}); default: read every level, however faint",
    )
    args = parser.parse_args()
    started = time.perf_counter()

    def load(specs: list[str], default: str) -> list:
        found = []
        for spec in specs:
            root, _, split = spec.partition(":")
            found += stem_spectra(root, split or default)
        return found

    train = load(args.train, "train")
    tests = {spec: load([spec], "test") for spec in args.test}
    print(f"{len(train)} training stems; spectra in {time.perf_counter() - started:.0f} s")
    rng = np.random.default_rng(args.seed)
    rows = []
    for stem in STEMS:
        x, y = damaged_examples(train, stem, args.copies, rng, args.floor)
        trees = [HistGradientBoostingRegressor(max_iter=300, random_state=0).fit(x, y[:, b])
                 for b in range(3)]  # fmt: skip
        for spec, spectra in tests.items():
            tx, ty = damaged_examples(spectra, stem, args.draws, rng, args.floor)
            if not len(tx):
                continue
            errors = np.abs(np.stack([t.predict(tx) for t in trees], 1) - ty).mean(0)
            rows.append((spec, stem, len(tx) // args.draws, errors))
    print("| test set | stem | stems | MAE low / mid / high (dB) | overall |")
    print("|---|---|---:|---|---:|")
    for spec, stem, n, e in rows:
        print(f"| {spec} | {stem} | {n} | {e[0]:.2f} / {e[1]:.2f} / {e[2]:.2f} | {e.mean():.2f} |")
    for spec in tests:
        overall = np.mean([e for s, _, _, e in rows if s == spec], 0)
        print(f"{spec}: overall MAE {overall.mean():.2f} dB (low {overall[0]:.2f}, mid "
              f"{overall[1]:.2f}, high {overall[2]:.2f}); mean over stem kinds")  # fmt: skip
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
