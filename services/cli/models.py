"""`stemdeck models`: list every kind of model (separation, Auto-EQ, genre), pull separation
models, import any kind into the user cache."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

if TYPE_CHECKING:
    from stemdeck.separator.cards import Card

app = typer.Typer(
    help="List models of every kind, download separation models, import models.",
    no_args_is_help=True,
)
out = Console(soft_wrap=True)  # lines with paths are never broken
err = Console(stderr=True, soft_wrap=True)  # never break paths in messages


def _quality(card: Card | None) -> str:
    if card is None:
        return ""
    if card.quality is None:
        return escape(card.note or "no published figure")
    return escape(f"{card.quality.sdr_db:g} dB SDR, {card.quality.measured_on}")


KINDS = ("separator", "eq", "genre")


def _check_kind(kind: str) -> str:
    if kind not in (*KINDS, "all"):
        raise typer.BadParameter(f"choose one of {', '.join((*KINDS, 'all'))}")
    return kind


def _origin(origin: str, shadowed: bool) -> str:
    return f"{origin}, hidden by the cached one" if shadowed else origin


@app.command("list")
def list_models(
    kind: Annotated[
        str,
        typer.Option(help="separator, eq, genre or all.", callback=_check_kind),
    ] = "all",
) -> None:
    """Show the bundled, pulled and imported models of every kind: separation (size, stems,
    soft-mask default, quality), Auto-EQ and genre; a name resolves to a cached model before a
    bundled one."""
    from stemdeck.common.artefacts import cache_root

    if kind in ("separator", "all"):
        _separator_table()
    if kind in ("eq", "all"):
        _eq_table()
    if kind in ("genre", "all"):
        _genre_table()
    out.print(f"model cache: {escape(str(cache_root()))}")


def _separator_table() -> None:
    from stemdeck.separator.cards import REMOTE, read_card
    from stemdeck.separator.checkpoints import CheckpointError, describe, load_model
    from stemdeck.separator.model import parameter_count
    from stemdeck.separator.repository import list_models

    table = Table(
        "name", "origin", "parameters", "configuration", "soft mask", "quality", "path",
        title="Separation models (stemdeck separate --model NAME)",
    )  # fmt: skip
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
            escape(entry.name), _origin(entry.origin, entry.shadowed), size, shape, mask,
            _quality(card), escape(str(entry.path)),
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


def _eq_table() -> None:
    from stemdeck.common.artefacts import default_of, list_artefacts
    from stemdeck.eq.checkpoints import EqCheckpointError, kind, load_model

    table = Table(
        "name", "origin", "parameters", "configuration", "restraint", "default", "path",
        title="Auto-EQ models (stemdeck eq --model NAME)",
    )  # fmt: skip
    entries = list_artefacts(kind())
    chosen = default_of(kind(), entries)
    for entry in entries:
        try:
            loaded = load_model(entry.path)
            size = f"{sum(p.numel() for p in loaded.model.parameters()) / 1e6:.2f} M"
            config = loaded.config
            shape = f"{config.variant}, stems {'/'.join(config.stems)}"
            restraint = "on" if loaded.model.restraint.active else "off"
        except EqCheckpointError as exc:
            size, shape, restraint = "-", f"[red]unusable: {escape(str(exc))}[/red]", ""
        table.add_row(
            escape(entry.name), _origin(entry.origin, entry.shadowed), size, shape, restraint,
            "yes" if entry == chosen else "", escape(str(entry.path)),
        )  # fmt: skip
    out.print(table)


def _genre_table() -> None:
    """Read from each folder's JSON files only: listing never starts TensorFlow."""
    from stemdeck.common.artefacts import default_of, list_artefacts
    from stemdeck.genre.classifier import TAGGER_FILE, read_tagger_config
    from stemdeck.genre.model import GenreModelError, kind, read_sidecars

    table = Table(
        "name", "origin", "type", "genres", "default", "path",
        title="Genre models (stemdeck genre --model NAME)",
    )  # fmt: skip
    entries = list_artefacts(kind())
    chosen = default_of(kind(), entries)
    for entry in entries:
        try:
            if (entry.path / TAGGER_FILE).is_file():
                config = read_tagger_config(entry.path)
                what = f"tagger ({', '.join(config['taggers'])}) mapped onto genres"
                labels = list(config["mapping"])
            else:
                _, labels_, _ = read_sidecars(entry.path)
                what, labels = "GenreNet on 26 features", list(labels_)
            genres = f"{len(labels)}"
        except GenreModelError as exc:
            what, genres = f"[red]unusable: {escape(str(exc))}[/red]", ""
        table.add_row(
            escape(entry.name), _origin(entry.origin, entry.shadowed), what, genres,
            "yes" if entry == chosen else "", escape(str(entry.path)),
        )  # fmt: skip
    out.print(table)


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
            help="Separator: a StemDeck checkpoint, Demucs v2 tasnet weights or torchaudio's "
            "Hybrid Demucs (hdemucs_high) state_dict. eq: a StemDeck Auto-EQ checkpoint or the "
            "seed's. genre: a GenreNet or tagger model folder."
        ),
    ],
    name: Annotated[str | None, typer.Option(help="Name to use with --model.")] = None,
    kind: Annotated[
        str, typer.Option(help="separator, eq or genre.", callback=_check_kind)
    ] = "separator",
) -> None:
    """Check a model and store it in the user cache under a name."""
    try:
        stored = _store(kind, path, name)
    except (LookupError, ValueError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    out.print(f"imported {escape(str(path))} → {escape(str(stored))}")


def _store(kind: str, path: Path, name: str | None) -> Path:
    """Import into the cache; every kind's errors are ValueErrors (or LookupErrors)."""
    if kind == "eq":
        from stemdeck.eq.checkpoints import import_model as store_eq

        return store_eq(path, name)
    if kind == "genre":
        from stemdeck.genre.model import import_artefact

        return import_artefact(path, name)
    if kind != "separator":
        raise ValueError("--kind all does not import; choose separator, eq or genre")
    from stemdeck.separator.repository import import_model as store

    return store(path, name)
