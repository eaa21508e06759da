"""`stemdeck models`: list, pull and import separation models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

app = typer.Typer(help="List, download and import separation models.", no_args_is_help=True)
out = Console()
err = Console(stderr=True, soft_wrap=True)  # never break paths in messages


def _quality(card) -> str:
    if card is None:
        return ""
    if card.quality is None:
        return escape(card.note or "no published figure")
    return escape(f"{card.quality.sdr_db:g} dB SDR, {card.quality.measured_on}")


@app.command("list")
def list_models() -> None:
    """Show bundled, pulled and imported models: size, stems, soft-mask default, quality."""
    from stemdeck.separator.cards import REMOTE, read_card
    from stemdeck.separator.checkpoints import CheckpointError, describe, load_model
    from stemdeck.separator.model import parameter_count
    from stemdeck.separator.repository import cache_dir, list_models

    table = Table("name", "origin", "parameters", "configuration", "soft mask", "quality", "path")
    entries = list_models()
    for entry in entries:
        card = read_card(entry.path)
        try:
            loaded = load_model(entry.path)
            size = f"{parameter_count(loaded.model) / 1e6:.2f} M"
            shape = describe(loaded.config)
            mask = "on" if loaded.soft_mask else "off"
        except CheckpointError as exc:
            size, shape, mask = "-", f"[red]unusable: {escape(str(exc))}[/red]", ""
        table.add_row(
            escape(entry.name), entry.origin, size, shape, mask, _quality(card),
            escape(str(entry.path)),
        )  # fmt: skip
    have = {e.name for e in entries}
    for name, remote in REMOTE.items():
        if name not in have:
            params = f"{remote.card.parameters / 1e6:.2f} M" if remote.card.parameters else ""
            table.add_row(
                name, "available to pull", params, escape(remote.card.description), "off",
                _quality(remote.card), remote.url,
            )  # fmt: skip
    out.print(table)
    out.print(f"model cache: {escape(str(cache_dir()))}")


@app.command()
def pull(
    name: Annotated[str, typer.Argument(help="hdemucs, hdemucs_extra, tasnet or tasnet_extra.")],
    url: Annotated[str | None, typer.Option(help="Download from this URL instead.")] = None,
    sha256: Annotated[
        str | None,
        typer.Option(help="Refuse the file unless its sha256 starts with these hex digits."),
    ] = None,
) -> None:
    """Download pretrained weights (Hybrid Demucs from torchaudio, Demucs v2's Conv-TasNet),
    verify them and store them in the cache; an interrupted download resumes."""
    from stemdeck.separator.checkpoints import CheckpointError
    from stemdeck.separator.repository import ModelNotFoundError
    from stemdeck.separator.repository import pull as pull_model

    with Progress(
        *Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(), console=err
    ) as bars:
        task = bars.add_task(f"pull {name}", total=None)
        try:
            path = pull_model(
                name,
                url,
                lambda done, total: bars.update(task, completed=done, total=total),
                sha256,
            )
        except (ModelNotFoundError, CheckpointError, ConnectionError, ValueError) as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from None
    out.print(f"{escape(name)} → {escape(str(path))}")
    from stemdeck.separator.cards import read_card

    card = read_card(path)
    if card is not None and card.licence:
        out.print(f"licence: {escape(card.licence)}")


@app.command("import")
def import_model(
    path: Annotated[
        Path,
        typer.Argument(
            help="A StemDeck checkpoint, Demucs v2 tasnet weights or torchaudio's Hybrid Demucs "
            "(hdemucs_high) state_dict."
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Name to use with --model.")] = None,
) -> None:
    """Check a checkpoint and store it in the cache under a name."""
    from stemdeck.separator.checkpoints import CheckpointError
    from stemdeck.separator.repository import import_model as store

    try:
        stored = store(path, name)
    except (CheckpointError, ValueError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    out.print(f"imported {escape(str(path))} → {escape(str(stored))}")
