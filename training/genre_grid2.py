"""The second pre-declared GenreNet grid (issue 21): a staged search scored on the validation
split of GTZAN's fault-filtered split alone (the test rows are never read).

    python -m stemdeck.training.genre_grid2 ../shared/data/gtzan-features runs/genre-grid2 [jobs]

Declared before any run (weights/gtzan.md repeats it). A full product of the knobs would cost
hours of one core, so the search is staged:

- stage 1: learning rate x batch at the seed's dropout 0.2, no input noise, no label smoothing;
  lower rates get more epochs (EPOCHS_FOR_LR) because they need more steps to reach their best;
- stage 2: dropout x Gaussian input noise x label smoothing at stage 1's winning rate, batch
  and epoch count;
- final: the winner's seed-0 network, or the average of its seed networks when that average
  scores at least their mean on validation (the rule of the first grid).

Every network keeps its epoch of best validation accuracy (ties to the lower loss), as
`stemdeck train genre --keep accuracy` does; a setting's score is the mean validation accuracy
over SEEDS, because one network's figure on 196 clips moves by about 2 points with the seed
alone; ties go to the setting listed first (each tuple starts with the incumbent value). Kept
epochs within the last tenth of the run are flagged ("late") but change nothing.

Results are written to OUT/grid2.json after every setting; a rerun with the same declared grid
skips the settings already there, so an interrupted run resumes.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from stemdeck.genre.features import FEATURE_NAMES
from stemdeck.training.genre import GenreTrainSettings, fit_genrenet
from stemdeck.training.gtzan import filtered_split, read_feature_table


@dataclass(frozen=True)
class Grid:
    """A staged grid; the first value of each tuple is the incumbent (first grid's choice)."""

    lrs: tuple[float, ...]
    epochs_for_lr: tuple[int, ...]  # one per lr
    batches: tuple[int, ...]
    dropouts: tuple[float, ...]
    noises: tuple[float, ...]
    smoothings: tuple[float, ...]
    seeds: tuple[int, ...]


#: Declared 2026-12-07, before any run. Measured at nice 19 beside two training runs: one
#: network costs about 1.4 + epochs x (0.087 + 0.004 x steps per epoch) CPU seconds (5 % more
#: with noise and smoothing), so stage 1 (27 networks) is about 6 CPU-min and stage 2 (51 new
#: networks) between 5 (1e-3, batch 64) and 23 (1e-4, batch 16) CPU-min: 11 to 29 in all.
DECLARED = Grid(
    lrs=(3e-4, 1e-4, 1e-3),
    epochs_for_lr=(60, 120, 40),
    batches=(32, 16, 64),
    dropouts=(0.2, 0.1, 0.3),
    noises=(0.0, 0.1, 0.2),
    smoothings=(0.0, 0.1),
    seeds=(0, 1, 2),
)


def stage1(grid: Grid) -> list[GenreTrainSettings]:
    """Learning rate x batch, each rate with its declared epoch count, at the first (incumbent)
    dropout, noise and smoothing: the seed's 0.2, none, none."""
    epochs = dict(zip(grid.lrs, grid.epochs_for_lr, strict=True))
    return [
        GenreTrainSettings(
            epochs=epochs[lr],
            batch=batch,
            lr=lr,
            keep="accuracy",
            dropout=grid.dropouts[0],
            noise=grid.noises[0],
            smoothing=grid.smoothings[0],
        )
        for lr, batch in itertools.product(grid.lrs, grid.batches)
    ]


def stage2(grid: Grid, winner: GenreTrainSettings) -> list[GenreTrainSettings]:
    """Dropout x input noise x label smoothing at stage 1's winner (the first listed, so its
    stage-1 networks are reused, not trained again)."""
    return [
        replace(winner, dropout=dropout, noise=noise, smoothing=smoothing)
        for dropout, noise, smoothing in itertools.product(
            grid.dropouts, grid.noises, grid.smoothings
        )
    ]


def run(folder: Path, out: Path, jobs: int = 1, grid: Grid = DECLARED) -> dict:
    """Run both stages and the final choice on the validation rows; return OUT/grid2.json."""
    path = out / "grid2.json"
    declared = json.loads(json.dumps(asdict(grid)))
    saved = json.loads(path.read_text()) if path.is_file() else {}
    done = {r["key"]: r for r in saved.get("rows", [])} if saved.get("grid") == declared else {}
    summary: dict = {"grid": declared, "rows": list(done.values())}

    def score_all(stage: str, settings: list[GenreTrainSettings]) -> list[dict]:
        todo = [s for s in settings if _key(s) not in done]
        for row in score_settings(folder, todo, grid.seeds, jobs):
            done[row["key"]] = {**row, "stage": stage}
            summary["rows"] = list(done.values())
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(summary, indent=1) + "\n")
        return [done[_key(s)] for s in settings]

    first = _best(stage1(grid), score_all("stage 1", stage1(grid)))
    print(f"stage 1 winner: {_key(first)}", flush=True)
    chosen = _best(stage2(grid, first), score_all("stage 2", stage2(grid, first)))
    row = done[_key(chosen)]
    average = len(grid.seeds) > 1 and row["valid_ensemble"] >= row["valid_mean"]
    summary["chosen"] = {
        "settings": asdict(chosen),
        "row": row,
        "bundle": f"average of {len(grid.seeds)} networks" if average else "one network",
        "command": train_command(chosen, len(grid.seeds) if average else 1),
    }
    summary["cpu_seconds"] = round(sum(r["cpu_seconds"] for r in summary["rows"]), 1)
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"chosen: {json.dumps(summary['chosen'])}", flush=True)
    return summary


def train_command(settings: GenreTrainSettings, ensemble: int) -> str:
    """The `stemdeck train genre` call that trains the chosen setting's bundle (seeds 0...)."""
    parts = [
        "stemdeck train genre --features ../shared/data/gtzan-features --out runs/genre-gtzan2",
        f"--epochs {settings.epochs} --batch {settings.batch} --lr {settings.lr:g}",
        f"--keep accuracy --dropout {settings.dropout:g}",
        f"--noise {settings.noise:g} --smoothing {settings.smoothing:g}",
    ]
    return " ".join(parts) + (f" --ensemble {ensemble}" if ensemble > 1 else "")


def _key(s: GenreTrainSettings) -> str:
    return (
        f"lr {s.lr:g} batch {s.batch} epochs {s.epochs} dropout {s.dropout:g} "
        f"noise {s.noise:g} smoothing {s.smoothing:g}"
    )


def _best(settings: list[GenreTrainSettings], rows: list[dict]) -> GenreTrainSettings:
    """The highest mean validation accuracy; max keeps the first of equals."""
    return max(zip(settings, rows, strict=True), key=lambda pair: pair[1]["valid_mean"])[0]


def score_settings(
    folder: Path, todo: list[GenreTrainSettings], seeds: tuple[int, ...], jobs: int
) -> Iterator[dict]:
    """Scores of `todo`, in order; in `jobs` spawned processes (TensorFlow is not forked)."""
    if jobs <= 1:
        _one_thread()
        yield from (_score(folder, s, seeds) for s in todo)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_one_thread) as pool:
        yield from pool.map(_score, [folder] * len(todo), todo, [seeds] * len(todo))


def _one_thread() -> None:
    """One TensorFlow thread per process: this network is too small to gain from more, and the
    grid is sized for one core. Too late once TensorFlow has run something: then left as is."""
    from stemdeck.genre.model import keras_module

    keras_module()
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass


def _score(folder: Path, settings: GenreTrainSettings, seeds: tuple[int, ...]) -> dict:
    """One setting, every seed: validation accuracies, kept epochs, the average's accuracy."""
    table = read_feature_table(folder, FEATURE_NAMES)
    split = filtered_split(folder, table)
    train, valid = table.rows(split["train"]), table.rows(split["valid"])
    no_test = (np.empty((0, len(FEATURE_NAMES))), np.empty(0, dtype=np.int64))
    singles, probabilities, epochs = [], [], []
    started = time.process_time()
    for seed in seeds:
        model, scaler, keeper, scores, _ = fit_genrenet(
            train, valid, no_test, replace(settings, seed=seed), log=lambda _m: None
        )
        singles.append(scores["valid"])
        epochs.append(keeper.best_epoch)
        probabilities.append(np.asarray(model.predict_on_batch(scaler.transform(valid[0]))))
    average = np.mean(probabilities, axis=0).argmax(axis=1)
    row = {
        "key": _key(settings),
        "valid_per_seed": [round(v, 4) for v in singles],
        "kept_epochs": epochs,
        "late": any(e > 0.9 * settings.epochs for e in epochs),
        "valid_mean": round(float(np.mean(singles)), 4),
        "valid_ensemble": round(float(np.mean(average == valid[1])), 4),
        "cpu_seconds": round(time.process_time() - started, 1),
    }
    print(json.dumps(row), flush=True)
    return row


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1)
