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


@app.command("list")
def list_models() -> None:
    """Show bundled, pulled and imported models with their size and stems."""
    from stemdeck.separator.checkpoints import CheckpointError, describe, load_model
    from stemdeck.separator.model import parameter_count
    from stemdeck.separator.repository import REMOTE_MODELS, cache_dir, list_models

    table = Table("name", "origin", "parameters", "configuration", "path")
    entries = list_models()
    for entry in entries:
        try:
            loaded = load_model(entry.path)
            size = f"{parameter_count(loaded.model) / 1e6:.2f} M"
            shape = describe(loaded.config)
        except CheckpointError as exc:
            size, shape = "-", f"[red]unusable: {escape(str(exc))}[/red]"
        table.add_row(escape(entry.name), entry.origin, size, shape, escape(str(entry.path)))
    have = {e.name for e in entries}
    for name, url in REMOTE_MODELS.items():
        if name not in have:
            table.add_row(name, "available to pull", "", "", url)
    out.print(table)
    out.print(f"model cache: {escape(str(cache_dir()))}")


@app.command()
def pull(
    name: Annotated[str, typer.Argument(help="tasnet or tasnet_extra.")],
    url: Annotated[str | None, typer.Option(help="Download from this URL instead.")] = None,
) -> None:
    """Download Demucs' pretrained Conv-TasNet weights, verify them, store them in the cache."""
    from stemdeck.separator.checkpoints import CheckpointError
    from stemdeck.separator.repository import ModelNotFoundError
    from stemdeck.separator.repository import pull as pull_model

    with Progress(
        *Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(), console=err
    ) as bars:
        task = bars.add_task(f"pull {name}", total=None)
        try:
            path = pull_model(
                name, url, lambda done, total: bars.update(task, completed=done, total=total)
            )
        except (ModelNotFoundError, CheckpointError, ConnectionError, ValueError) as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from None
    out.print(f"{escape(name)} → {escape(str(path))}")


@app.command("import")
def import_model(
    path: Annotated[Path, typer.Argument(help="A StemDeck or Demucs v2 tasnet checkpoint.")],
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
