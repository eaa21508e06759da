"""The `stemdeck` command. Each command imports its heavy dependencies only when it runs."""

from __future__ import annotations

import typer

from stemdeck.cli import evaluate, models, train
from stemdeck.cli.client import status, submit
from stemdeck.cli.eq import eq
from stemdeck.cli.genre import analyze, genre, profile
from stemdeck.cli.separate import separate
from stemdeck.cli.serve import serve
from stemdeck.cli.synth import synth, synth_check, synth_genres
from stemdeck.cli.worker import worker

app = typer.Typer(
    help="StemDeck: split songs into stems, and more.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(separate)
app.command()(eq)
app.command()(genre)
app.command()(analyze)
app.command()(profile)
app.add_typer(models.app, name="models")
app.add_typer(train.app, name="train")
app.add_typer(evaluate.app, name="eval")
app.command()(synth)
app.command("synth-genres")(synth_genres)
app.command("synth-check")(synth_check)
app.command()(worker)
app.command()(serve)
app.command()(submit)
app.command()(status)

if __name__ == "__main__":
    app()
