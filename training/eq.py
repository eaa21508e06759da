"""Training the Auto-EQ CNN: MSE on the inverse gains and Adam, as in the seed, on the shared
loop of `training.trainer` (schedule, autocast, checkpoints, exact resume).

Clean windows come once from the stems of the `train` split of each dataset (see `eq_data`);
every step damages a fresh batch with random gains while the previous batch trains (the loop's
helper thread). Validation uses the first dataset's `valid` split alone (as the separator's, so a
mixed-in corpus trains but never chooses a checkpoint), each window damaged once with seeded
gains, so its figures compare across steps and runs. The run folder holds
`state.pt` (continue exactly), `best.pt` (lowest validation MAE, StemDeck format, with the
history in its metadata), `history.csv` and `loss.png`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from stemdeck.eq.checkpoints import load_model, save_checkpoint
from stemdeck.eq.filters import BAND_NAMES
from stemdeck.eq.model import EqConfig, EqNet, parameter_count
from stemdeck.training import trainer
from stemdeck.training.datasets import DatasetError
from stemdeck.training.eq_data import ExampleSampler, collect_windows, fixed_examples
from stemdeck.training.sampling import validation_roots
from stemdeck.training.trainer import LoopSettings, plot_curves, read_rows

#: Seed of the validation damage: fixed, so every run is scored on the same examples.
VALID_SEED = 20251124


@dataclass(frozen=True)
class EqTrainSettings:
    """Knobs of one Auto-EQ training run (defaults fit a 2-core CPU in about half an hour).

    Attributes:
        variant: "seed", "stem-aware" or "full-band" (see `stemdeck.eq.model`).
        level_norm: scale each window to -20 dBFS before the mel.
        steps: optimiser steps in total (a resumed run continues to this count).
        batch: windows per step.
        lr: peak Adam learning rate; 50-step warm-up, then cosine decay to 10 % (the loop's).
        seed: seed of the window choice, the damage and the initialisation.
        valid_every: steps between validations and checkpoints.
        windows_per_stem: clean 3 s windows kept per stem of each training track.
        valid_windows_per_stem: the same for validation tracks.
        bf16: bfloat16 autocast for the CNN where the hardware computes in it
            (`trainer.native_bf16`); the mel front end always runs in float32.
        undamaged_share: share of training examples left undamaged (target 0 dB): teaches the
            model that a stem needing nothing is the common case (see `eq_data`).
        init: start from this Auto-EQ checkpoint's weights (a fine-tune) instead of at random.
    """

    variant: str = "full-band"
    level_norm: bool = True
    steps: int = 800
    batch: int = 64
    lr: float = 1e-3
    seed: int = 0
    valid_every: int = 100
    windows_per_stem: int = 4
    valid_windows_per_stem: int = 2
    bf16: bool = True
    undamaged_share: float = 0.0
    init: str | None = None


def band_errors(
    model: nn.Module, windows: torch.Tensor, stems: torch.Tensor, targets: torch.Tensor
) -> np.ndarray:
    """Absolute error (n, 3) in dB of the model's per-window predictions (the caller sets
    eval mode)."""
    with torch.inference_mode():
        outputs = [
            model(chunk, ids).float()
            for chunk, ids in zip(torch.split(windows, 64), torch.split(stems, 64), strict=True)
        ]
    return (torch.cat(outputs) - targets).abs().numpy()


class EqTask:
    """The Auto-EQ as a `TrainingTask` of the shared loop: MSE on the inverse gains of a
    freshly damaged batch, validated by the MAE per band on fixed damaged windows."""

    score_key = "valid_mae"
    higher_is_better = False

    def __init__(
        self,
        settings: EqTrainSettings,
        sampler: ExampleSampler,
        valid: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        facts: dict[str, Any],
    ) -> None:
        self.settings, self.sampler, self.valid, self.facts = settings, sampler, valid, facts

    def draw(self, gen: torch.Generator) -> tuple:
        return self.sampler.draw(self.settings.batch, gen)

    def build(self, drawn: tuple) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.sampler.build(*drawn)

    def loss(self, model: nn.Module, batch: tuple) -> torch.Tensor:
        windows, stems, targets = batch
        return F.mse_loss(model(windows, stems).float(), targets)

    def validate(self, model: nn.Module) -> dict[str, float]:
        errors = band_errors(model, *self.valid)
        return {
            "valid_mae": round(float(errors.mean()), 4),
            **{f"mae_{b}": round(float(errors[:, i].mean()), 4) for i, b in enumerate(BAND_NAMES)},
        }

    def save_best(self, path: Path, model: nn.Module, row: dict[str, Any]) -> None:
        training = {
            **asdict(self.settings),
            **self.facts,
            "step": row["step"],
            "valid_mae": {b: row[f"mae_{b}"] for b in BAND_NAMES},
        }
        assert isinstance(model, EqNet)
        history = read_rows(path.parent / "history.csv")
        save_checkpoint(path, model, {"training": training, "history": history})

    def plot(self, history: Path, png: Path) -> None:
        plot_history(history, png)


def train_eq(
    data: Path | Sequence[Path],
    out: Path,
    settings: EqTrainSettings,
    resume: bool | Path = True,
    log: Callable[[str], None] = print,
    progress: Callable[[int, int, float], None] | None = None,
    weights: Sequence[float] | None = None,
) -> Path:
    """Train an Auto-EQ model on the stems of one or more MUSDB-layout datasets; returns the
    path of the best model. `weights` sets each dataset's share of the training examples
    (equal when None). DatasetError for a wrong layout or when there is nothing to validate on.
    """
    roots = [Path(data)] if isinstance(data, str | Path) else [Path(d) for d in data]
    config = EqConfig(variant=settings.variant, level_norm=settings.level_norm)  # type: ignore
    began = time.perf_counter()
    bank = collect_windows(roots, "train", settings.windows_per_stem, settings.seed, log)
    sampler = ExampleSampler(bank, weights, settings.undamaged_share)
    valid_bank = collect_windows(
        validation_roots(roots), "valid", settings.valid_windows_per_stem, settings.seed + 1, log
    )
    if not len(valid_bank):
        raise DatasetError(
            f"no validation windows: mark some tracks 'valid' in {roots[0] / 'tracks.csv'} "
            "(the first --data validates)"
        )
    log(
        f"{len(bank)} training windows {bank.counts()}, {len(valid_bank)} validation windows; "
        f"data ready in {time.perf_counter() - began:.0f} s"
    )
    torch.manual_seed(settings.seed)
    model = EqNet(config)
    if settings.init:
        model.load_state_dict(load_model(settings.init).model.state_dict())
    log(f"{settings.variant} model, {parameter_count(model):,} parameters; {settings.steps} steps")
    facts = {
        "data": [str(r) for r in roots],
        "data_weights": sampler.weights.tolist(),
        "train_windows": len(bank),
        "valid_windows": len(valid_bank),
    }
    task = EqTask(settings, sampler, fixed_examples(valid_bank, VALID_SEED), facts)
    loop = LoopSettings(
        steps=settings.steps,
        lr=settings.lr,
        warmup=50,
        valid_every=settings.valid_every,
        bf16=settings.bf16,
        seed=settings.seed,
    )
    return trainer.run(task, model, loop, out, resume, log, progress)


def plot_history(history: Path | Sequence[dict], png: Path) -> None:
    """Training loss and validation MAE per band (the seed's loss-curve figure) as a PNG."""
    columns = [("valid_mae", "overall"), *((f"mae_{b}", b) for b in BAND_NAMES)]
    plot_curves(history, png, "MSE (dB²)", columns, "MAE (dB)", "validation MAE per 3 s window")
