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
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

from stemdeck.genre.features import FEATURE_NAMES
from stemdeck.training.genre import GenreTrainSettings, fit_genrenet
from stemdeck.training.gtzan import filtered_split, read_feature_table

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
    """Train every setting with every seed on the training rows; score on validation. With
    `jobs` > 1 the settings train in that many processes (spawned: TensorFlow is not forked)."""
    if jobs > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=context) as pool:
            results = list(pool.map(_score, [folder] * len(grid()), grid()))
    else:
        results = [_score(folder, settings) for settings in grid()]
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


def _score(folder: Path, settings: GenreTrainSettings) -> dict:
    """One setting, every seed: validation accuracies, kept epochs, the ensemble's accuracy."""
    table = read_feature_table(folder, FEATURE_NAMES)
    split = filtered_split(folder, table)
    train, valid = table.rows(split["train"]), table.rows(split["valid"])
    no_test = (np.empty((0, len(FEATURE_NAMES))), np.empty(0, dtype=np.int64))
    singles, probabilities, epochs = [], [], []
    started = time.process_time()
    for seed in SEEDS:
        member = GenreTrainSettings(**{**asdict(settings), "seed": seed})
        model, scaler, keeper, scores, _ = fit_genrenet(
            train, valid, no_test, member, log=lambda _m: None
        )
        singles.append(scores["valid"])
        print(f"  seed {seed}: valid {scores['valid']:.4f}, epoch {keeper.best_epoch}", flush=True)
        epochs.append(keeper.best_epoch)
        probabilities.append(np.asarray(model.predict_on_batch(scaler.transform(valid[0]))))
    average = np.mean(probabilities, axis=0).argmax(axis=1)
    row = {
        "lr": settings.lr,
        "dropout": settings.dropout,
        "l2": settings.l2,
        "valid_per_seed": [round(v, 4) for v in singles],
        "kept_epochs": epochs,
        "valid_mean": round(float(np.mean(singles)), 4),
        "valid_ensemble": round(float(np.mean(average == valid[1])), 4),
        "cpu_seconds": round(time.process_time() - started, 1),
    }
    print(json.dumps(row), flush=True)
    return row


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1)
