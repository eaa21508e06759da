"""How museval's framewise SIR reads a stem with no leakage at all: each true stem of one
validation preview plus white noise (std 0.05), scored as `stemdeck eval separator` scores.

If SIR measured leakage alone it would be high here; it is strongly negative, so a negative
SIR on the short previews is not by itself evidence that the stems hold other instruments.

    .venv/bin/python bench/museval_sir_check.py --data ../shared/audio/musdb18-7
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from stemdeck.training.evaluate import RATE, bsseval, find_references


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--track", type=int, default=1, help="index among the valid previews")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    stems = find_references(args.data, "valid")[args.track].load()
    stems = {name: audio[:, : round(args.seconds * RATE)] for name, audio in stems.items()}
    noise = np.random.default_rng(0)
    noisy = {name: s + 0.05 * noise.standard_normal(s.shape) for name, s in stems.items()}
    for name, scores in bsseval(stems, noisy).items():
        print(name, {metric: round(value, 2) for metric, value in scores.items()})


if __name__ == "__main__":
    main()
