"""`stemdeck train`: train StemDeck's models (needs the training data, not the serving path)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

app = typer.Typer(help="Train StemDeck's models.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)


@app.command()
def separator(
    data: Annotated[
        list[Path],
        typer.Option(
            help="Dataset root in MUSDB18 / MUSDB18-HQ layout (split from its tracks.csv); "
            "repeat to mix datasets, e.g. real previews and a synthetic corpus."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Run folder: state.pt, best.pt, history.csv.")] = Path(
        "runs/separator"
    ),
    config: Annotated[str, typer.Option(help="Preset name (compact, seed, demucs_tasnet).")] = (
        "compact"
    ),
    steps: Annotated[int, typer.Option(min=1, help="Total optimiser steps.")] = 2000,
    batch: Annotated[int, typer.Option(min=1)] = 4,
    segment: Annotated[float, typer.Option(min=0.1, help="Seconds per training segment.")] = 2.0,
    lr: Annotated[float, typer.Option(help="Peak Adam learning rate.")] = 1e-3,
    valid_every: Annotated[int, typer.Option(min=1)] = 100,
    seed: Annotated[int, typer.Option()] = 0,
    bf16: Annotated[bool, typer.Option(help="bfloat16 autocast for the forward pass.")] = True,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/state.pt if present.")] = True,
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
) -> None:
    """Train Conv-TasNet; resumable, validated every VALID_EVERY steps."""
    from stemdeck.common.audio import AudioError
    from stemdeck.separator.checkpoints import CheckpointError
    from stemdeck.separator.config import preset
    from stemdeck.training.datasets import DatasetError
    from stemdeck.training.separator import TrainSettings, train

    try:
        cfg = preset(config)
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
    )
    columns = (
        TextColumn("step"),
        MofNCompleteColumn(),
        BarColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err) as bars:
        task = bars.add_task("train", total=steps, loss=float("nan"))
        try:
            best = train(
                data,
                out,
                cfg,
                settings,
                resume,
                bars.console.print,
                lambda step, loss: bars.update(task, completed=step, loss=loss),
                data_weight or None,
                init,
            )
        except (DatasetError, AudioError, FileNotFoundError, CheckpointError) as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from None
    err.print(f"best model: {best}")
