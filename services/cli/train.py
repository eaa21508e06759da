"""`stemdeck train`: train StemDeck's models (needs the training data, not the serving path)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)


class StepMeter:
    """Feeds the progress bar with loss and throughput; where stderr is a log file rather than
    a terminal (background runs), it prints a plain line every 25 steps instead."""

    def __init__(self, bars: Progress, task: TaskID, plain_lines: bool, every: int = 25) -> None:
        self.bars, self.task, self.plain_lines, self.every = bars, task, plain_lines, every
        self.last_step: int | None = None
        self.last_time = time.perf_counter()
        self.seconds_per_step = math.nan

    def log(self, message: str) -> None:
        self.bars.console.print(escape(message))
        self.last_step = None  # validation and set-up time is not training throughput

    def update(self, step: int, total: int, loss: float) -> None:
        now = time.perf_counter()
        if self.last_step is not None and step > self.last_step:
            spent = (now - self.last_time) / (step - self.last_step)
            smooth = 0.9 if math.isfinite(self.seconds_per_step) else 0.0
            self.seconds_per_step = smooth * self.seconds_per_step + (1 - smooth) * spent
        self.last_step, self.last_time = step, now
        rate = f"{self.seconds_per_step:.2f} s/step" if math.isfinite(self.seconds_per_step) else ""
        self.bars.update(self.task, completed=step, total=total, loss=loss, rate=rate)
        if self.plain_lines and step % self.every == 0:
            self.bars.console.print(f"step {step}/{total} loss {loss:.4f} {rate}")


app = typer.Typer(help="Train StemDeck's models.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)


@app.command()
def separator(
    data: Annotated[
        list[Path],
        typer.Option(
            help="Dataset root in MUSDB18 / MUSDB18-HQ layout (split from its tracks.csv); "
            "repeat to mix datasets, e.g. real previews and a synthetic corpus. Checkpoints "
            "are chosen on the first one's validation tracks alone."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Run folder: state.pt, best.pt, history.csv.")] = Path(
        "runs/separator"
    ),
    config: Annotated[
        str,
        typer.Option(
            help="Preset (compact, spectral, seed, demucs_tasnet) or a .json file of settings."
        ),
    ] = "compact",
    steps: Annotated[int, typer.Option(min=1, help="Total optimiser steps.")] = 2000,
    epochs: Annotated[
        float | None,
        typer.Option(
            min=0.01,
            help="Instead of --steps: passes over the training audio (one pass = as many "
            "segment-seconds as the training songs hold).",
        ),
    ] = None,
    batch: Annotated[int, typer.Option(min=1)] = 4,
    segment: Annotated[float, typer.Option(min=0.1, help="Seconds per training segment.")] = 2.0,
    lr: Annotated[float, typer.Option(help="Peak Adam learning rate.")] = 1e-3,
    valid_every: Annotated[int, typer.Option(min=1)] = 100,
    seed: Annotated[int, typer.Option()] = 0,
    bf16: Annotated[
        bool, typer.Option(help="bfloat16 autocast where the hardware has it (else float32).")
    ] = True,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue from this state.pt (or run folder); default: OUT/state.pt if present."
        ),
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto (CUDA when available).")] = "auto",
    init: Annotated[
        Path | None,
        typer.Option(help="Start from this model's weights (fine-tuning); same configuration."),
    ] = None,
    data_weight: Annotated[
        list[float] | None,
        typer.Option(
            min=0.0,
            help="Share of training examples drawn from each --data, in order "
            "(default: equal shares).",
        ),
    ] = None,
    stft_loss: Annotated[
        float,
        typer.Option(
            min=0.0, help="Weight of the multi-resolution STFT L1 added to the waveform L1."
        ),
    ] = 0.0,
    ema: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=0.99999,
            help="Decay of the weights' moving average, which is validated and saved "
            "(e.g. 0.999); default: none.",
        ),
    ] = None,
    warmup: Annotated[int, typer.Option(min=1, help="Steps of learning-rate warm-up.")] = 100,
    max_minutes: Annotated[
        float | None,
        typer.Option(min=0.0, help="Stop this session at a checkpoint after this many minutes."),
    ] = None,
) -> None:
    """Train Conv-TasNet; resumable, validated every VALID_EVERY steps."""
    from stemdeck.common.audio import AudioError
    from stemdeck.separator.checkpoints import CheckpointError
    from stemdeck.separator.config import load_config
    from stemdeck.training.datasets import DatasetError
    from stemdeck.training.separator import TrainSettings, train

    try:
        cfg = load_config(config)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from None
    if data_weight and len(data_weight) != len(data):
        raise typer.BadParameter(
            f"give one weight per --data ({len(data)}), not {len(data_weight)}",
            param_hint="--data-weight",
        )
    if data_weight and sum(data_weight) <= 0:
        raise typer.BadParameter("the weights must not all be 0", param_hint="--data-weight")
    settings = TrainSettings(
        steps=steps,
        batch=batch,
        segment=segment,
        lr=lr,
        seed=seed,
        valid_every=valid_every,
        bf16=bf16,
        epochs=epochs,
        device=device,
        stft_loss=stft_loss,
        ema=ema or None,
        warmup=warmup,
        time_limit=None if max_minutes is None else 60 * max_minutes,
    )
    columns = (
        TextColumn("step"),
        MofNCompleteColumn(),
        BarColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err) as bars:
        task = bars.add_task("train", total=None, loss=float("nan"), rate="")
        meter = StepMeter(bars, task, plain_lines=not err.is_terminal)
        try:
            best = train(
                data,
                out,
                cfg,
                settings,
                resume if resume is not None else True,
                meter.log,
                meter.update,
                data_weight or None,
                init,
            )
        except (DatasetError, AudioError, FileNotFoundError, CheckpointError, ValueError) as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from None
    err.print(f"best model: {best}")


@app.command("export-carry")
def export_carry(
    carry: Annotated[Path, typer.Argument(help="A run's carry.pt (e.g. training/carry/spectral).")],
    out: Annotated[Path, typer.Argument(help="Checkpoint to write, usable with --model.")],
    config: Annotated[
        str, typer.Option(help="The run's --config (preset name or .json file).")
    ] = "spectral",
) -> None:
    """Write a carry's moving-average weights (its last step) as a separator checkpoint."""
    from stemdeck.separator.checkpoints import CheckpointError
    from stemdeck.separator.config import load_config
    from stemdeck.training.separator import export_carry as export

    try:
        step = export(carry, load_config(config), out)
    except (FileNotFoundError, CheckpointError, ValueError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    err.print(f"step {step} written to {out}")


@app.command("shifted-copies")
def shifted_copies(
    data: Annotated[
        Path, typer.Option(help="Dataset root whose training songs are copied (MUSDB layout).")
    ],
    out: Annotated[Path, typer.Option(help="Folder for the copies (MUSDB18-HQ layout).")],
    copies: Annotated[int, typer.Option(min=1, help="Shifted copies per song.")] = 2,
    semitones: Annotated[int, typer.Option(min=0, max=12, help="Largest pitch shift.")] = 2,
    tempo: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Largest tempo change (0.08 = ±8 %).")
    ] = 0.08,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Render pitch- and tempo-shifted copies of the training songs once, for --data."""
    from stemdeck.common.audio import AudioError
    from stemdeck.training.datasets import DatasetError
    from stemdeck.training.shifted import make_shifted_copies

    try:
        made = make_shifted_copies(data, out, copies, semitones, tempo, seed, log=err.print)
    except (DatasetError, AudioError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    err.print(f"{made} copies rendered into {out} (tracks.csv lists every copy)")


@app.command("eq")
def eq(
    data: Annotated[
        list[Path],
        typer.Option(
            help="Dataset root in MUSDB18 / MUSDB18-HQ layout (split from its tracks.csv); "
            "repeat to mix datasets. Stems of the train split are trained on; the first "
            "one's valid tracks alone choose the checkpoint."
        ),
    ],
    out: Annotated[
        Path, typer.Option(help="Run folder: state.pt, best.pt, history.csv, loss.png.")
    ] = Path("runs/eq"),
    variant: Annotated[
        str,
        typer.Option(
            help="seed (the seed's exact network), stem-aware (told the stem), full-band "
            "(the seed's network on a 20 Hz-16 kHz front end; the bundled one) or "
            "full-band-stems (both changes)."
        ),
    ] = "full-band",
    level_norm: Annotated[
        bool, typer.Option(help="Scale each window to -20 dBFS before the mel.")
    ] = True,
    steps: Annotated[int, typer.Option(min=1, help="Total optimiser steps.")] = 800,
    batch: Annotated[int, typer.Option(min=1)] = 64,
    lr: Annotated[float, typer.Option(help="Peak Adam learning rate.")] = 1e-3,
    valid_every: Annotated[int, typer.Option(min=1)] = 100,
    windows_per_stem: Annotated[
        int, typer.Option(min=1, help="Clean 3 s windows kept per stem of each training track.")
    ] = 4,
    seed: Annotated[int, typer.Option()] = 0,
    bf16: Annotated[
        bool, typer.Option(help="bfloat16 autocast for the CNN where the hardware has it.")
    ] = True,
    resume: Annotated[
        Path | None,
        typer.Option(help="Continue from this state.pt (or run folder); default OUT/state.pt."),
    ] = None,
    data_weight: Annotated[
        list[float] | None,
        typer.Option(
            min=0.0,
            help="Share of training examples drawn from each --data, in order (default equal).",
        ),
    ] = None,
    undamaged_share: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.95, help="Share of training examples left undamaged (target 0 dB)."
        ),
    ] = 0.0,
    init: Annotated[
        Path | None,
        typer.Option(help="Start from this Auto-EQ checkpoint's weights (fine-tune)."),
    ] = None,
) -> None:
    """Train the Auto-EQ CNN on randomly damaged stem windows; resumable."""
    from stemdeck.common.audio import AudioError
    from stemdeck.eq.model import VARIANTS
    from stemdeck.training.datasets import DatasetError
    from stemdeck.training.eq import EqTrainSettings, train_eq

    if variant not in VARIANTS:
        raise typer.BadParameter(f"use one of {', '.join(VARIANTS)}", param_hint="--variant")
    if data_weight and len(data_weight) != len(data):
        raise typer.BadParameter(
            f"give one weight per --data ({len(data)}), not {len(data_weight)}",
            param_hint="--data-weight",
        )
    settings = EqTrainSettings(
        variant=variant,
        level_norm=level_norm,
        steps=steps,
        batch=batch,
        lr=lr,
        seed=seed,
        valid_every=valid_every,
        windows_per_stem=windows_per_stem,
        bf16=bf16,
        undamaged_share=undamaged_share,
        init=str(init) if init else None,
    )
    columns = (
        TextColumn("step"),
        MofNCompleteColumn(),
        BarColumn(),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err) as bars:
        task = bars.add_task("train", total=None, loss=float("nan"), rate="")
        meter = StepMeter(bars, task, plain_lines=not err.is_terminal)
        try:
            best = train_eq(
                data,
                out,
                settings,
                resume if resume is not None else True,
                meter.log,
                meter.update,
                data_weight or None,
            )
        except (DatasetError, AudioError, FileNotFoundError, ValueError) as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from None
    err.print(f"best model: {best}")


@app.command("genre")
def genre(
    data: Annotated[
        Path | None,
        typer.Option(
            help="GTZAN layout: ROOT/genres_original/<genre>/*.wav (or ROOT/<genre>/*.wav); "
            "split per genre 80/10/10 in file-name order."
        ),
    ] = None,
    features: Annotated[
        Path | None,
        typer.Option(
            help="GTZAN's feature table folder (features_30_sec.csv + train/valid/test_filtered"
            ".txt, e.g. ../shared/data/gtzan-features): the fault-filtered split."
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(
            help="Artefact folder: genrenet.keras, scaler.json, labels.json, metadata.json, "
            "history.csv, loss.png, features.csv (cache)."
        ),
    ] = Path("runs/genre"),
    epochs: Annotated[int, typer.Option(min=1)] = 50,
    batch: Annotated[int, typer.Option(min=1)] = 128,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    seed: Annotated[int, typer.Option()] = 0,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Feature processes.")] = 1,
    keep: Annotated[
        str, typer.Option(help="Keep the epoch with the best validation 'loss' or 'accuracy'.")
    ] = "loss",
    ensemble: Annotated[
        int,
        typer.Option(min=1, help="Average this many networks (seeds seed, seed+1, ...)."),
    ] = 1,
    dropout: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Dropout after each hidden layer (seed: 0.2).")
    ] = 0.2,
    l2: Annotated[
        float, typer.Option(min=0.0, help="L2 penalty on the Dense kernels (seed: none).")
    ] = 0.0,
    noise: Annotated[
        float,
        typer.Option(
            min=0.0, help="Gaussian noise (std) on the standardised features while training."
        ),
    ] = 0.0,
    smoothing: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Label smoothing (seed: none).")
    ] = 0.0,
) -> None:
    """Train GenreNet (Keras) on the seed's 26 features; the scaler sees training rows only."""
    from stemdeck.training.datasets import DatasetError
    from stemdeck.training.genre import GenreTrainSettings, train_genre, train_genre_table

    if (data is None) == (features is None):
        raise typer.BadParameter("give either --data (GTZAN audio) or --features (its table)")
    if keep not in ("loss", "accuracy"):
        raise typer.BadParameter("use loss or accuracy", param_hint="--keep")
    settings = GenreTrainSettings(
        epochs=epochs,
        batch=batch,
        lr=lr,
        seed=seed,
        jobs=jobs,
        keep=keep,
        ensemble=ensemble,
        dropout=dropout,
        l2=l2,
        noise=noise,
        smoothing=smoothing,
    )
    try:
        if features is not None:
            train_genre_table(features, out, settings, log=lambda m: err.print(escape(m)))
        else:
            assert data is not None
            train_genre(data, out, settings, log=lambda m: err.print(escape(m)))
    except DatasetError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    err.print(f"GenreNet artefact: {escape(str(out))}")


@app.command("genre-tags")
def genre_tags(
    data: Annotated[
        Path,
        typer.Option(
            help="Real tracks with genre labels (MUSDB18 layout + tracks.csv with a genre column, "
            "e.g. ../shared/audio/musdb18-7)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Model folder (tagger.json).")] = Path(
        "runs/genre-musicnn"
    ),
    split: Annotated[str, typer.Option(help="Tracks the temperature is fitted on.")] = "train",
) -> None:
    """Build the tagger genre model: musicnn's tags mapped onto the ten genres by hand, the
    temperature of its confidence fitted on labelled real tracks (needs the musicnn wheel)."""
    from stemdeck.genre.tagger import TaggerUnavailable
    from stemdeck.training.datasets import DatasetError
    from stemdeck.training.genre_tags import build_tagger_model

    try:
        build_tagger_model(data, out, split=split, log=lambda m: err.print(escape(m)))
    except (DatasetError, TaggerUnavailable) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    err.print(f"tagger genre model: {escape(str(out))}")
