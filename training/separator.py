"""Training Conv-TasNet on multitrack songs: L1 loss and Adam as in the seed, resumable.

Each step draws random segments with Demucs' augmentations (each source from a different
song, random gain, channel swap, sign flip; see `sampling`), so 80 short songs give many
distinct mixtures. Several datasets (real MUSDB previews, a synthetic corpus) can feed one run,
each with a weight; validation runs on the union of their `valid` splits.
Mixtures are normalised by their standard deviation, as the inference engine does, so the
model sees the same scale in training and in use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stemdeck.common.audio import TARGET_RATE
from stemdeck.separator.checkpoints import CheckpointError, load_model, save_checkpoint
from stemdeck.separator.config import TasNetConfig
from stemdeck.separator.model import ConvTasNet
from stemdeck.training.datasets import DatasetError
from stemdeck.training.musdb import SOURCES, TrackRef
from stemdeck.training.sampling import ExcerptSampler, open_split, validation_tracks
from stemdeck.training.trainer import LoopSettings, plot_curves, read_rows, run

RATE = TARGET_RATE


@dataclass(frozen=True)
class TrainSettings:
    """Knobs of one training run (defaults fit a 2-core CPU).

    Attributes:
        steps: optimiser steps in total (a resumed run continues to this count).
        batch: segments per step. segment: seconds per segment.
        lr: Adam learning rate, cosine-decayed to 10 % over the run after a 100-step warm-up.
        clip: gradient-norm clip. seed: seed of the data sampling and initialisation.
        valid_every: steps between validations and checkpoints.
        bf16: bfloat16 autocast where the hardware computes in it (`trainer.native_bf16`).
        epochs: when set, replaces `steps`: this many passes over the training audio, one pass
            being as many segment-seconds as the training songs hold.
        device: "cpu", "cuda" or "auto" (CUDA when available).
        stft_loss: weight of the multi-resolution STFT magnitude L1 added to the waveform L1
            (0 = waveform L1 alone, the seed's loss).
        ema: decay of the moving average of the weights that is validated and shipped, or None.
        warmup: steps of linear learning-rate warm-up.
        time_limit: seconds after which this session stops at a checkpoint, or None.
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
    stft_loss: float = 0.0
    ema: float | None = None
    warmup: int = 100
    time_limit: float | None = None


#: Resolutions of the multi-resolution STFT loss (window, hop): 93, 46 and 23 ms windows, so
#: bass notes and drum onsets are both resolved (as in Parallel WaveGAN's loss, Yamamoto 2020).
STFT_LOSS_RESOLUTIONS = ((4096, 1024), (2048, 512), (1024, 256))


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


def stft_magnitude_loss(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean L1 distance of the magnitude spectrograms at `STFT_LOSS_RESOLUTIONS` (STFTs
    scaled by 1/sqrt(window), so the term is on the waveform loss's scale)."""
    flat_estimate = estimate.reshape(-1, estimate.shape[-1]).float()
    flat_target = target.reshape(-1, target.shape[-1]).float()
    total = estimate.new_zeros((), dtype=torch.float32)
    for n_fft, hop in STFT_LOSS_RESOLUTIONS:
        window = torch.hann_window(n_fft, device=estimate.device)
        est, ref = (
            torch.stft(x, n_fft, hop, window=window, normalized=True, return_complex=True).abs()
            for x in (flat_estimate, flat_target)
        )
        total = total + F.l1_loss(est, ref)
    return total / len(STFT_LOSS_RESOLUTIONS)


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


class SeparatorTask:
    """Conv-TasNet's part of the shared training loop: remixed excerpts, waveform L1 (plus the
    multi-resolution STFT term when weighted), whole-track validation SDR."""

    score_key = "valid_sdr"
    higher_is_better = True

    def __init__(
        self,
        sampler: ExcerptSampler,
        valid_tracks: Tracks,
        settings: TrainSettings,
        device: torch.device,
        checkpoint_metadata: dict,
    ) -> None:
        self.sampler = sampler
        self.valid_tracks = valid_tracks
        self.settings = settings
        self.device = device
        self.frames = round(settings.segment * RATE)
        self.metadata = checkpoint_metadata

    def draw(self, gen: torch.Generator) -> torch.Tensor:
        stems, _ = self.sampler.sample(self.settings.batch, self.frames, gen)
        return stems

    def build(self, stems: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mix, target, _ = normalise(stems)
        return mix, target

    def loss(self, model: ConvTasNet, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        mix, target = (t.to(self.device) for t in batch)
        estimate = model(mix).float()
        loss = F.l1_loss(estimate, target)
        if self.settings.stft_loss:
            loss = loss + self.settings.stft_loss * stft_magnitude_loss(estimate, target)
        return loss

    def validate(self, model: ConvTasNet) -> dict[str, float]:
        scores = validate(model, self.valid_tracks, self.device)
        return {
            "valid_sdr": round(float(np.mean(list(scores.values()))), 3),
            **{f"sdr_{k}": round(v, 3) for k, v in scores.items()},
        }

    def save_best(self, path: Path, model: ConvTasNet, row: dict) -> None:
        valid = {k[4:]: v for k, v in row.items() if k.startswith("sdr_")}
        training = {**self.metadata, "step": row["step"], "valid_sdr": valid}
        save_checkpoint(path, model, {"training": training})

    def plot(self, history: Path, png: Path) -> None:
        plot_history(history, png)


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

    `data` is one dataset root or several, drawn from by `weights` (equal when None); the
    first one's validation tracks alone choose the checkpoint (put the real songs first).
    DatasetError for a wrong layout or when the first dataset has no validation tracks.
    `out/state.pt` holds everything needed to continue exactly (weights, EMA, optimiser, step,
    sampler state); `out/best.pt` is the best model so far in StemDeck's format (the EMA
    weights when `settings.ema` is set); `out/history.csv` has loss and validation SDR per
    checkpoint. `resume` is True (continue from out/state.pt when present), False, or the path
    of a state.pt (or its run folder) to continue from. `init` starts a new run from another
    model's weights (fine-tuning), which must have the same configuration.
    """
    roots = [Path(data)] if isinstance(data, str | Path) else [Path(d) for d in data]
    device = pick_device(settings.device)
    datasets = [open_split(root, "train") for root in roots]
    settings = replace(settings, steps=steps_for_epochs(settings, datasets), epochs=None)
    sampler = ExcerptSampler(datasets, weights)
    valid_tracks = validation_tracks(roots)
    if not valid_tracks:
        raise DatasetError(
            f"no validation tracks: mark some tracks 'valid' in {roots[0] / 'tracks.csv'} "
            "(checkpoints are chosen on the first --data)"
        )
    for root, tracks, share in zip(roots, datasets, sampler.weights.tolist(), strict=True):
        log(f"{root}: {len(tracks)} training tracks, drawn {share:.0%} of the time")
    log(f"{len(valid_tracks)} validation tracks; {settings.steps} steps on {device}")
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
    metadata = {
        **asdict(settings),
        "data": [str(r) for r in roots],
        "data_weights": sampler.weights.tolist(),
        "baseline_sdr": reference,
        "train_tracks": sum(len(t) for t in datasets),
        "init": str(init) if init else None,
    }
    task = SeparatorTask(sampler, valid_tracks, settings, device, metadata)
    loop = LoopSettings(
        steps=settings.steps,
        lr=settings.lr,
        warmup=settings.warmup,
        clip=settings.clip,
        valid_every=settings.valid_every,
        bf16=settings.bf16,
        ema=settings.ema,
        seed=settings.seed,
        device=device,
        time_limit=settings.time_limit,
    )
    return run(task, model, loop, out, resume, log, progress)


def export_carry(carry_path: Path, config: TasNetConfig, out: Path) -> int:
    """Save a carry.pt's EMA weights (what the trainer validates and ships) as a StemDeck
    checkpoint of `config`, so a committed run's last step can be scored or bundled on a new
    machine; returns that step. CheckpointError when the carry has no EMA or another shape."""
    carry = torch.load(carry_path, weights_only=True, map_location="cpu")
    if "ema" not in carry:
        raise CheckpointError(f"{carry_path} holds no moving average (trained without --ema)")
    model = ConvTasNet(config)
    try:
        model.load_state_dict({k: v.float() for k, v in carry["ema"]["model"].items()})
    except RuntimeError:  # torch lists every mismatched tensor: too much for a person
        raise CheckpointError(
            f"{carry_path} does not fit the {config.encoder}-encoder configuration given "
            f"(B={config.B}, H={config.H}); pass the run's own --config"
        ) from None
    training = {"step": carry["step"], "carry": str(carry_path)}
    save_checkpoint(out, model, {"training": training})
    return int(carry["step"])


def plot_history(history: Path, png: Path) -> None:
    """Training loss and validation SDR per checkpoint, as a PNG beside history.csv."""
    columns = [(k, k[4:]) for k in read_rows(history)[0] if k.startswith("sdr_")]
    plot_curves(
        history, png, "loss (normalised)", columns, "SDR (dB)", "validation SDR (whole track)"
    )
