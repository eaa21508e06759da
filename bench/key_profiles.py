"""Which published key profile names the synthetic songs' keys best, on StemDeck's pitch profile?

Why: `stemdeck analyze` finds the key by correlating the song's pitch-class profile with 24 key
templates (Krumhansl-Kessler). This scores other published major/minor templates on the same
profiles and songs, scored as `bench/analysis_accuracy.py` scores keys (tonic and mode family),
so a change of template is decided on numbers.

    .venv/bin/python bench/key_profiles.py data/synth [--split train]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from analysis_accuracy import key_class, songs  # beside this file

from stemdeck.common.audio import TARGET_RATE, read_audio
from stemdeck.genre.analysis import (
    MAJOR_PROFILE,
    MINOR_PROFILE,
    key_from_chroma,
    pitch_profile,
    to_analysis_rate,
)

#: (major, minor) templates, C first, as published.
TEMPLATES: dict[str, tuple[list[float], list[float]]] = {
    "Krumhansl-Kessler 1982 (shipped)": (list(MAJOR_PROFILE), list(MINOR_PROFILE)),
    "Temperley 1999": (
        [5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0],
        [5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0],
    ),
    "Temperley 2007 (Kostka-Payne)": (
        [0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400],
        [0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330],
    ),
    "Aarden-Essen 2003": (
        [17.77, 0.15, 14.93, 0.16, 19.80, 11.36, 0.29, 22.06, 0.15, 8.15, 0.23, 4.95],
        [18.26, 0.74, 14.05, 16.86, 0.70, 14.44, 0.70, 18.62, 4.57, 1.93, 7.38, 1.76],
    ),
    "Albrecht-Shanahan 2013": (
        [0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081],
        [0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052],
    ),
    "Bellman-Budge 2005": (
        [16.80, 0.86, 12.95, 1.41, 13.49, 11.93, 1.25, 20.28, 1.80, 8.04, 0.62, 10.57],
        [18.16, 0.69, 12.99, 13.34, 1.07, 11.15, 1.38, 21.07, 7.49, 1.53, 0.92, 10.21],
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path, help="synthetic corpus root (stemdeck synth)")
    parser.add_argument("--split", default="all", choices=("train", "test", "all"))
    args = parser.parse_args()
    rows = []
    for folder in songs(args.root, args.split):
        audio = read_audio(folder / "mixture.wav")
        written = json.loads((folder / "metadata.json").read_text())["key"]
        rows.append((pitch_profile(to_analysis_rate(audio, TARGET_RATE)), written))
    print(f"| template | keys correct of {len(rows)} ({args.split}) |")
    print("|---|---:|")
    for name, (major, minor) in TEMPLATES.items():
        templates = np.array(major), np.array(minor)
        keys = [(key_from_chroma(profile, *templates), written) for profile, written in rows]
        right = sum(key_class(key.tonic, key.mode, written) == "correct" for key, written in keys)
        print(f"| {name} | {right} ({100 * right / len(rows):.0f} %) |")


if __name__ == "__main__":
    main()
