"""Training the Auto-EQ CNN: MSE on the inverse gains and Adam, as in the seed; resumable.

Clean windows come once from the stems of the `train` split of each dataset (see `eq_data`);
every step damages a fresh batch with random gains while the previous batch trains (a helper
thread). Validation uses the union of the datasets' `valid` splits, each window damaged once
with seeded gains, so its figures compare across steps and runs. The run folder holds
`state.pt` (continue exactly), `best.pt` (lowest validation MAE, StemDeck format, with the
history in its metadata), `history.csv` and `loss.png`.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stemdeck.eq.checkpoints import load_model, save_checkpoint
from stemdeck.eq.filters import BAND_NAMES
from stemdeck.eq.model import EqConfig, EqNet, parameter_count
from stemdeck.training.datasets import DatasetError
from stemdeck.training.eq_data import ExampleSampler, collect_windows, fixed_examples

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
        lr: peak Adam learning rate; 50-step warm-up, then cosine decay to 10 %.
        seed: seed of the window choice, the damage and the initialisation.
        valid_every: steps between validations and checkpoints.
        windows_per_stem: clean 3 s windows kept per stem of each training track.
        valid_windows_per_stem: the same for validation tracks.
        bf16: run the CNN under bfloat16 autocast (about 1.5x faster on these CPUs); the mel
            front end always runs in float32.
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


def learning_rate(settings: EqTrainSettings, step: int) -> float:
    warm = min(1.0, (step + 1) / 50)
    progress = min(1.0, step / max(1, settings.steps))
    return settings.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def band_errors(
    model: EqNet, windows: torch.Tensor, stems: torch.Tensor, targets: torch.Tensor
) -> np.ndarray:
    """Absolute error (n, 3) in dB of the model's per-window predictions."""
    model.eval()
    outputs = []
    with torch.inference_mode():
        for chunk, ids in zip(torch.split(windows, 64), torch.split(stems, 64), strict=True):
            outputs.append(model(chunk, ids).float())
    model.train()
    return (torch.cat(outputs) - targets).abs().numpy()


def _resume_path(out: Path, resume: bool | Path) -> Path | None:
    if resume is False:
        return None
    if resume is True:
        own = out / "state.pt"
        return own if own.is_file() else None
    path = Path(resume)
    path = path / "state.pt" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"no training state to resume at {path}")
    return path


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
    state_path = _resume_path(out, resume)
    began = time.perf_counter()
    bank = collect_windows(roots, "train", settings.windows_per_stem, settings.seed, log)
    sampler = ExampleSampler(bank, weights, settings.undamaged_share)
    valid_bank = collect_windows(
        roots, "valid", settings.valid_windows_per_stem, settings.seed + 1, log
    )
    if not len(valid_bank):
        shown = ", ".join(str(r / "tracks.csv") for r in roots)
        raise DatasetError(f"no validation windows: mark some tracks 'valid' in {shown}")
    valid = fixed_examples(valid_bank, VALID_SEED)
    log(
        f"{len(bank)} training windows {bank.counts()}, {len(valid_bank)} validation windows; "
        f"data ready in {time.perf_counter() - began:.0f} s"
    )
    torch.manual_seed(settings.seed)
    model = EqNet(config)
    if settings.init:
        model.load_state_dict(load_model(settings.init).model.state_dict())
    log(f"{settings.variant} model, {parameter_count(model):,} parameters; {settings.steps} steps")
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    gen = torch.Generator().manual_seed(settings.seed)
    step, best = 0, math.inf
    if state_path is not None:
        state = torch.load(state_path, weights_only=True, map_location="cpu")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        step, best = state["step"], state["best"]
        log(f"resumed at step {step} from {state_path} (best validation MAE {best:.3f} dB)")
        _drop_rows_after(out / "history.csv", step)
    out.mkdir(parents=True, exist_ok=True)
    losses: list[float] = []
    started = time.perf_counter()
    model.train()
    with ThreadPoolExecutor(max_workers=1) as helper:
        pending = helper.submit(sampler.build, *sampler.draw(settings.batch, gen))
        while step < settings.steps:
            windows, stems, targets = pending.result()
            before_draw = gen.get_state()  # what a resumed run must start drawing from
            if step + 1 < settings.steps:
                pending = helper.submit(sampler.build, *sampler.draw(settings.batch, gen))
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(settings, step)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
                estimate = model(windows, stems)
            loss = F.mse_loss(estimate.float(), targets)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            step += 1
            if progress:
                progress(step, settings.steps, losses[-1])
            if step % settings.valid_every and step != settings.steps:
                continue
            errors = band_errors(model, *valid)
            row = {
                "step": step,
                "loss": round(float(np.mean(losses)), 4),
                "lr": learning_rate(settings, step),
                "seconds": round(time.perf_counter() - started, 1),
                "valid_mae": round(float(errors.mean()), 4),
                **{
                    f"mae_{b}": round(float(errors[:, i].mean()), 4)
                    for i, b in enumerate(BAND_NAMES)
                },
            }
            _append_csv(out / "history.csv", row)
            plot_history(out / "history.csv", out / "loss.png")
            log(" ".join(f"{k}={v}" for k, v in row.items()))
            losses.clear()
            if row["valid_mae"] < best:
                best = row["valid_mae"]
                save_checkpoint(
                    out / "best.pt",
                    model,
                    {
                        "training": {
                            **asdict(settings),
                            "step": step,
                            "data": [str(r) for r in roots],
                            "data_weights": sampler.weights.tolist(),
                            "train_windows": len(bank),
                            "valid_windows": len(valid_bank),
                            "valid_mae": {b: row[f"mae_{b}"] for b in BAND_NAMES},
                        },
                        "history": _read_rows(out / "history.csv"),
                    },
                )
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimiser": optimiser.state_dict(),
                    "generator": before_draw,
                    "torch_rng": torch.get_rng_state(),
                    "step": step,
                    "best": best,
                },
                out / "state.pt.part",
            )
            (out / "state.pt.part").replace(out / "state.pt")
    return out / "best.pt"


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def _drop_rows_after(path: Path, step: int) -> None:
    """Forget history written after the state a run resumes from."""
    if not path.is_file():
        return
    rows = _read_rows(path)
    kept = [row for row in rows if int(row["step"]) <= step]
    if len(kept) == len(rows):
        return
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)


def plot_history(history: Path | Sequence[dict], png: Path) -> None:
    """Training loss and validation MAE per band (the seed's loss-curve figure) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _read_rows(history) if isinstance(history, Path) else list(history)
    steps = [int(r["step"]) for r in rows]
    figure, (loss_axis, mae_axis) = plt.subplots(1, 2, figsize=(11, 4))
    loss_axis.plot(steps, [float(r["loss"]) for r in rows], marker=".")
    loss_axis.set(xlabel="step", ylabel="MSE (dB²)", title="training loss")
    for key, label in [("valid_mae", "overall"), *((f"mae_{b}", b) for b in BAND_NAMES)]:
        mae_axis.plot(steps, [float(r[key]) for r in rows], marker=".", label=label)
    mae_axis.set(xlabel="step", ylabel="MAE (dB)", title="validation MAE per 3 s window")
    mae_axis.legend()
    figure.tight_layout()
    partial = png.with_name(png.name + ".part.png")
    figure.savefig(partial, dpi=80)
    plt.close(figure)
    partial.replace(png)
