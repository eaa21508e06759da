"""The `stemdeck` command. Each command imports its heavy dependencies only when it runs."""

from __future__ import annotations

import typer

from stemdeck.cli import models, train
from stemdeck.cli.separate import separate

app = typer.Typer(
    help="StemDeck: split songs into stems, and more.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(separate)
app.add_typer(models.app, name="models")
app.add_typer(train.app, name="train")

if __name__ == "__main__":
    app()
