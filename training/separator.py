"""Training Conv-TasNet on multitrack songs: L1 loss and Adam as in the seed, resumable.

Each step draws random segments with Demucs' augmentations (each source from a different
song, random gain, channel swap, sign flip; see `sampling`), so 80 short songs give many
distinct mixtures. Several datasets (real MUSDB previews, a synthetic corpus) can feed one run,
each with a weight; validation runs on the union of their `valid` splits.
Mixtures are normalised by their standard deviation, as the inference engine does, so the
model sees the same scale in training and in use.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stemdeck.separator.checkpoints import CheckpointError, load_model, save_checkpoint
from stemdeck.separator.config import TasNetConfig
from stemdeck.separator.model import ConvTasNet
from stemdeck.training.datasets import DatasetError
from stemdeck.training.musdb import SOURCES, TrackRef
from stemdeck.training.sampling import ExcerptSampler, open_split, validation_tracks

RATE = 44100


@dataclass(frozen=True)
class TrainSettings:
    """Knobs of one training run (defaults fit a 2-core CPU).

    Attributes:
        steps: optimiser steps in total (a resumed run continues to this count).
        batch: segments per step. segment: seconds per segment.
        lr: Adam learning rate, cosine-decayed to 10 % over the run after a 100-step warm-up.
        clip: gradient-norm clip. seed: seed of the data sampling and initialisation.
        valid_every: steps between validations and checkpoints.
        bf16: run the forward pass under bfloat16 autocast (about 4x faster on these CPUs,
            and the mixed precision of choice on recent GPUs).
        epochs: when set, replaces `steps`: this many passes over the training audio, one pass
            being as many segment-seconds as the training songs hold.
        device: "cpu", "cuda" or "auto" (CUDA when available).
    """

    steps: int = 2000
    batch: int = 4
    segment: float = 2.0
    lr: float = 1e-3
    clip: float = 5.0
    seed: int = 0
    valid_every: int = 100
    bf16: bool = True
    epochs: float | None = None
    device: str = "cpu"


def normalise(sources: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mixture and sources divided by the mixture's std (per example), as at inference, and
    that std (batch, 1, 1) to scale estimates back."""
    mix = sources.sum(1)
    std = mix.mean(1, keepdim=True).std(-1, keepdim=True).clamp_min(1e-5)
    return mix / std, sources / std.unsqueeze(1), std


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Whole-signal SDR in dB (not BSSEval's framewise median; a quick training signal)."""
    noise = np.sum((reference - estimate) ** 2) + 1e-9
    return float(10 * np.log10((np.sum(reference**2) + 1e-9) / noise))


Tracks = Sequence[np.ndarray | TrackRef]


def median_scores(tracks: Tracks, estimate: Callable[[np.ndarray], np.ndarray]) -> dict[str, float]:
    """Median whole-track SDR per source of `estimate(track) -> (sources, 2, frames)`.

    Tracks given as TrackRefs are loaded one at a time, so long validation songs never all sit
    in memory at once."""
    scores: dict[str, list[float]] = {name: [] for name in SOURCES}
    for item in tracks:
        track = item.load() if isinstance(item, TrackRef) else item
        guess = estimate(track)
        for i, name in enumerate(SOURCES):
            scores[name].append(sdr(track[i], guess[i]))
    return {name: float(np.median(v)) for name, v in scores.items()}


def validate(
    model: ConvTasNet, tracks: Tracks, device: torch.device | None = None
) -> dict[str, float]:
    """The model's scores on the validation songs, run on the normalised mix as at inference."""

    def separate(track: np.ndarray) -> np.ndarray:
        mix, _, std = normalise(torch.from_numpy(track)[None].to(device or "cpu"))
        return (model(mix)[0] * std[0]).float().cpu().numpy()

    model.eval()
    with torch.inference_mode():
        scores = median_scores(tracks, separate)
    model.train()
    return scores


def baseline(tracks: Tracks) -> dict[str, float]:
    """The same score for the trivial estimate mixture / 4: what a model must beat."""
    return median_scores(
        tracks, lambda track: np.broadcast_to(track.sum(0) / len(SOURCES), track.shape)
    )


def learning_rate(settings: TrainSettings, step: int) -> float:
    warm = min(1.0, (step + 1) / 100)
    progress = min(1.0, step / max(1, settings.steps))
    return settings.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def steps_for_epochs(settings: TrainSettings, datasets: Sequence[Sequence[TrackRef]]) -> int:
    """Optimiser steps that draw as much audio as the training songs hold, `epochs` times."""
    if settings.epochs is None:
        return settings.steps
    frames = sum(track.frames for tracks in datasets for track in tracks)
    per_step = settings.batch * round(settings.segment * RATE)
    return max(1, math.ceil(settings.epochs * frames / per_step))


def pick_device(name: str) -> torch.device:
    """`auto` is CUDA when present; asking for CUDA without it is an error, not a silent CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but PyTorch sees no CUDA GPU here")
    if name != "cpu" and not name.startswith("cuda"):
        raise ValueError(f"unknown device {name!r}: use cpu, cuda or auto")
    return torch.device(name)


def resume_path(out: Path, resume: bool | Path) -> Path | None:
    """The state to continue from: an explicit checkpoint (which must exist), else OUT/state.pt
    when present, unless resuming is off."""
    if resume is False:
        return None
    if resume is True:
        own = out / "state.pt"
        return own if own.is_file() else None
    path = Path(resume)
    if path.is_dir():
        path = path / "state.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no training state to resume at {path}")
    return path


def train(
    data: Path | Sequence[Path],
    out: Path,
    config: TasNetConfig,
    settings: TrainSettings,
    resume: bool | Path = True,
    log: Callable[[str], None] = print,
    progress: Callable[[int, int, float], None] | None = None,
    weights: Sequence[float] | None = None,
    init: Path | None = None,
) -> Path:
    """Train, validating and checkpointing every `valid_every` steps; returns the best model.

    `data` is one dataset root or several, drawn from by `weights` (equal when None);
    DatasetError for a wrong layout or when no dataset has validation tracks.
    `out/state.pt` holds everything needed to continue exactly (weights, optimiser, step,
    sampler state); `out/best.pt` is the best model so far in StemDeck's format;
    `out/history.csv` has loss and validation SDR per checkpoint. `resume` is True (continue
    from out/state.pt when present), False, or the path of a state.pt (or its run folder) to
    continue from. `init` starts a new run from another model's weights (fine-tuning), which
    must have the same configuration.
    """
    roots = [Path(data)] if isinstance(data, str | Path) else [Path(d) for d in data]
    device = pick_device(settings.device)
    state_path = resume_path(out, resume)
    datasets = [open_split(root, "train") for root in roots]
    settings = replace(settings, steps=steps_for_epochs(settings, datasets), epochs=None)
    sampler = ExcerptSampler(datasets, weights)
    valid_tracks = validation_tracks(roots)
    if not valid_tracks:
        shown = ", ".join(str(r / "tracks.csv") for r in roots)
        raise DatasetError(f"no validation tracks: mark some tracks 'valid' in {shown}")
    for root, tracks, share in zip(roots, datasets, sampler.weights.tolist(), strict=True):
        log(f"{root}: {len(tracks)} training tracks, drawn {share:.0%} of the time")
    log(f"{len(valid_tracks)} validation tracks; {settings.steps} steps on {device}")
    out.mkdir(parents=True, exist_ok=True)
    reference = baseline(valid_tracks)
    log("mixture/4 baseline SDR: " + " ".join(f"{k}={v:.2f}" for k, v in reference.items()))
    torch.manual_seed(settings.seed)
    model = ConvTasNet(config)
    if init is not None:
        loaded = load_model(init)
        if loaded.model.config != config:
            raise CheckpointError(f"{init} is {loaded.model.config}, not the requested {config}")
        model.load_state_dict(loaded.model.state_dict())
        log(f"starting from the weights of {init}")
    model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    gen = torch.Generator().manual_seed(settings.seed)
    step, best = 0, -math.inf
    if state_path is not None:
        state = torch.load(state_path, weights_only=True, map_location=device)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        gen.set_state(state["generator"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        step, best = state["step"], state["best"]
        log(f"resumed at step {step} from {state_path} (best validation SDR {best:.2f} dB)")
        _drop_rows_after(out / "history.csv", step)
    frames = round(settings.segment * RATE)
    losses: list[float] = []
    began = time.perf_counter()
    model.train()
    while step < settings.steps:
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(settings, step)
        stems, _ = sampler.sample(settings.batch, frames, gen)
        mix, target, _ = normalise(stems.to(device))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=settings.bf16):
            estimate = model(mix)
        loss = F.l1_loss(estimate.float(), target)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
        optimiser.step()
        losses.append(loss.item())
        step += 1
        if progress:
            progress(step, settings.steps, losses[-1])
        if step % settings.valid_every == 0 or step == settings.steps:
            scores = validate(model, valid_tracks, device)
            mean_sdr = float(np.mean(list(scores.values())))
            elapsed = time.perf_counter() - began
            row = {
                "step": step,
                "loss": float(np.mean(losses)),
                "lr": learning_rate(settings, step),
                "seconds": round(elapsed, 1),
                "valid_sdr": round(mean_sdr, 3),
                **{f"sdr_{k}": round(v, 3) for k, v in scores.items()},
            }
            _append_csv(out / "history.csv", row)
            plot_history(out / "history.csv", out / "loss.png")
            log(" ".join(f"{k}={v}" for k, v in row.items()))
            losses.clear()
            if mean_sdr > best:
                best = mean_sdr
                save_checkpoint(
                    out / "best.pt",
                    model,
                    {
                        "training": {
                            **asdict(settings),
                            "step": step,
                            "data": [str(r) for r in roots],
                            "data_weights": sampler.weights.tolist(),
                            "valid_sdr": scores,
                            "baseline_sdr": reference,
                            "train_tracks": sum(len(t) for t in datasets),
                            "init": str(init) if init else None,
                        }
                    },
                )
            torch.save(
                {
                    "model": model.state_dict(),  # on the training device; loads anywhere
                    "optimiser": optimiser.state_dict(),
                    "generator": gen.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "step": step,
                    "best": best,
                },
                out / "state.pt.part",
            )
            (out / "state.pt.part").replace(out / "state.pt")
    return out / "best.pt"


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def _drop_rows_after(path: Path, step: int) -> None:
    """Forget history written after the checkpoint a run resumes from (a run killed between
    logging and saving), so the curve continues without repeated or stale points."""
    if not path.is_file():
        return
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    kept = [row for row in rows if int(row["step"]) <= step]
    if len(kept) == len(rows):
        return
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)


def plot_history(history: Path, png: Path) -> None:
    """Training loss and validation SDR per checkpoint, as a PNG beside history.csv."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with history.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    steps = [int(r["step"]) for r in rows]
    figure, (loss_axis, sdr_axis) = plt.subplots(1, 2, figsize=(11, 4))
    loss_axis.plot(steps, [float(r["loss"]) for r in rows], marker=".")
    loss_axis.set(xlabel="step", ylabel="L1 loss (normalised)", title="training loss")
    for key in [k for k in rows[0] if k.startswith("sdr_")]:
        sdr_axis.plot(steps, [float(r[key]) for r in rows], marker=".", label=key[4:])
    sdr_axis.set(xlabel="step", ylabel="SDR (dB)", title="validation SDR (whole track)")
    sdr_axis.legend()
    figure.tight_layout()
    figure.savefig(png.with_name(png.name + ".part.png"), dpi=80)
    plt.close(figure)
    png.with_name(png.name + ".part.png").replace(png)
