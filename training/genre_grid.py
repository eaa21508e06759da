"""A pre-declared grid of GenreNet settings on GTZAN's feature table, scored on the validation
split of the fault-filtered split alone (the test rows are never passed in).

    python -m stemdeck.training.genre_grid ../shared/data/gtzan-features runs/genre-grid [jobs]

Every setting trains one network per seed (each keeping its epoch of best validation accuracy,
as `stemdeck train genre --keep accuracy` does); a setting's score is the mean validation
accuracy over the seeds, because one network's figure on 196 clips moves by ±2 points with the
seed alone. The probability average of the seeds' networks is scored on validation too, to
choose between bundling one network and an ensemble. Results go to OUT/grid.json.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from stemdeck.training.genre import GenreTrainSettings
from stemdeck.training.genre_grid2 import score_settings

#: The grid, declared before any run (weights/gtzan.md repeats it).
#: Adam 3e-4, batch 32 were chosen on validation before (weights/gtzan.md); the 2-core machine
#: shared with a training run leaves room for four settings x three seeds, not more.
LRS = (3e-4,)
DROPOUTS = (0.2, 0.5)
L2S = (0.0, 1e-3)
SEEDS = (0, 1, 2)
EPOCHS = 40
BATCH = 32


def grid() -> list[GenreTrainSettings]:
    """The settings compared, in the order ties are broken (the first listed wins)."""
    return [
        GenreTrainSettings(
            epochs=EPOCHS, batch=BATCH, lr=lr, keep="accuracy", dropout=dropout, l2=l2
        )
        for lr, dropout, l2 in itertools.product(LRS, DROPOUTS, L2S)
    ]


def run(folder: Path, out: Path, jobs: int = 1) -> list[dict]:
    """Train every setting with every seed on the training rows; score on validation (the
    seed loop is genre_grid2's; `jobs` > 1 spawns processes, TensorFlow is not forked)."""
    settings = grid()
    results = [
        {"lr": s.lr, "dropout": s.dropout, "l2": s.l2, **row}
        for s, row in zip(settings, score_settings(folder, settings, SEEDS, jobs), strict=True)
    ]
    best = max(results, key=lambda r: r["valid_mean"])  # max keeps the first of equals
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "grid": {"lr": LRS, "dropout": DROPOUTS, "l2": L2S, "seeds": SEEDS},
        "fixed": {"epochs": EPOCHS, "batch": BATCH, "keep": "accuracy"},
        "results": results,
        "chosen": best,
    }
    (out / "grid.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"chosen (highest mean validation accuracy): {json.dumps(best)}")
    return results


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1)
