"""`stemdeck eval`: score StemDeck's models on held-out data, as the field reports them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(help="Evaluate StemDeck's models.", no_args_is_help=True)
out_console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@app.command()
def separator(
    data: Annotated[
        Path,
        typer.Option(
            help="Dataset root: MUSDB18 / MUSDB18-HQ / synthetic layout, or two-stem folders "
            "<split>/<track>/{mixture,vocals,accompaniment}.wav."
        ),
    ],
    model: Annotated[
        str, typer.Option(help="Installed model's name (default, hdemucs, ...) or checkpoint path.")
    ] = "default",
    split: Annotated[str, typer.Option(help="test, valid or train.")] = "test",
    out: Annotated[Path, typer.Option(help="Per-track JSON, results.json and results.md.")] = (
        Path("eval/separator")
    ),
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N (default: best).")] = None,
    soft_mask: Annotated[
        bool | None,
        typer.Option(
            "--soft-mask/--no-soft-mask",
            help="The soft-mask post-filter on or off (default: the model's own, as "
            "`separate` runs it).",
            show_default=False,
        ),
    ] = None,
    shifts: Annotated[
        int,
        typer.Option(
            min=0, max=20, help="Random shifts averaged in, as `separate --shifts` (default 0)."
        ),
    ] = 0,
) -> None:
    """BSSEval v4 (museval) of a separator beside the mixture/4 baseline."""
    from stemdeck.common.audio import AudioError
    from stemdeck.separator.checkpoints import CheckpointError
    from stemdeck.separator.engine import ChunkSettings
    from stemdeck.separator.repository import ModelNotFoundError, open_model
    from stemdeck.separator.separate import Separator
    from stemdeck.training.datasets import DatasetError
    from stemdeck.training.evaluate import evaluate

    try:
        chunks = ChunkSettings(soft_mask=soft_mask, shifts=shifts)
        separator_ = Separator(open_model(model), device, chunks)
        summary = evaluate(data, separator_.separate_array, split, out, out_console.print)
    except (DatasetError, AudioError, CheckpointError, ModelNotFoundError, ValueError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    out_console.print((out / "results.md").read_text())
    out_console.print(f"{summary['tracks']} tracks; per-track scores in {escape(str(out))}")


@app.command("eq")
def eq(
    data: Annotated[
        Path, typer.Option(help="Dataset root in MUSDB18 / MUSDB18-HQ / synthetic layout.")
    ],
    model: Annotated[str, typer.Option(help="Bundled model name or checkpoint path.")] = "default",
    split: Annotated[str, typer.Option(help="test, valid or train.")] = "test",
    draws: Annotated[
        int, typer.Option(min=1, help="Random damages per stem (seeded, so figures reproduce).")
    ] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the damage.")] = 0,
    max_seconds: Annotated[
        float | None, typer.Option(min=3.0, help="Only the first this many seconds of a stem.")
    ] = None,
    compare: Annotated[
        list[str] | None,
        typer.Option(
            help="Also score this model (name or path) on the same cases; repeatable. "
            "Default: the seed's checkpoint ../shared/seed/model2_mastering.pth when present."
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(help="errors.csv, results.json, results.md, band_errors.png, loss.png."),
    ] = Path("eval/eq"),
) -> None:
    """Per band: MAE on damaged held-out stems, clean-stem error and differential error, and
    how often the correction undoes the damage; other models scored on the same cases."""
    from stemdeck.common.audio import AudioError
    from stemdeck.eq.checkpoints import EqCheckpointError, open_model
    from stemdeck.training.datasets import DatasetError
    from stemdeck.training.eq_eval import (
        SEED_CHECKPOINT,
        evaluate_models,
        summarise,
        write_report,
    )

    if compare is None:
        compare = [str(SEED_CHECKPOINT)] if SEED_CHECKPOINT.is_file() else []
    try:
        loaded = open_model(model)
        models = {model: loaded.model}
        for other in compare:
            name = "seed checkpoint" if Path(other).resolve() == SEED_CHECKPOINT else other
            models.setdefault(name, open_model(other).model)
        results = evaluate_models(data, split, models, draws, seed, max_seconds, log=err.print)
        summaries = {name: summarise(cases) for name, cases in results.items()}
        title = f"Auto-EQ on {data} ({split}), seed {seed}, {draws} damages per stem"
        history = loaded.metadata.get("history")
        write_report(results, summaries, out, title, history)
    except (DatasetError, AudioError, EqCheckpointError, ValueError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    out_console.print((out / "results.md").read_text())
    out_console.print(f"per-case errors and figures in {escape(str(out))}")


@app.command("genre")
def genre(
    data: Annotated[
        Path | None,
        typer.Option(help="GTZAN audio layout: ROOT/genres_original/<genre>/*.wav."),
    ] = None,
    features: Annotated[
        Path | None,
        typer.Option(
            help="GTZAN's feature table folder (features_30_sec.csv + *_filtered.txt): scores "
            "a GenreNet on the fault-filtered split."
        ),
    ] = None,
    real: Annotated[
        Path | None,
        typer.Option(
            help="Real tracks with genre labels (MUSDB18 layout + tracks.csv, e.g. "
            "../shared/audio/musdb18-7): top-1, top-3, balanced accuracy, calibration."
        ),
    ] = None,
    model: Annotated[
        str,
        typer.Option(help="Bundled genre model (default, musicnn, gtzan, synthetic) or folder."),
    ] = "default",
    split: Annotated[
        str | None,
        typer.Option(help="test, valid, train or all (default: test; all for --real)."),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(help="results.json, results.md, predictions.csv and figures."),
    ] = Path("eval/genre"),
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Feature processes.")] = 1,
) -> None:
    """Score a genre model: on GTZAN clips or features (accuracy, F1, confusion), or on real
    labelled tracks (top-1/top-3, balanced accuracy beside every constant answer, ECE)."""
    from stemdeck.genre.classifier import FeatureGenreModel, load_genre_model
    from stemdeck.genre.model import GenreModelError
    from stemdeck.genre.tagger import TaggerUnavailable
    from stemdeck.training.datasets import DatasetError
    from stemdeck.training.genre_eval import evaluate_genre, evaluate_table
    from stemdeck.training.genre_real import evaluate_real

    given = [
        name
        for name, value in (("--data", data), ("--features", features), ("--real", real))
        if value is not None
    ]
    if len(given) != 1:
        raise typer.BadParameter("give exactly one of --data, --features or --real")
    split = split or ("all" if real is not None else "test")
    if split not in ("train", "valid", "test", "all"):
        raise typer.BadParameter("use train, valid, test or all", param_hint="--split")

    def log(message: str) -> None:
        err.print(escape(message))

    try:
        loaded = load_genre_model(model)
        if real is not None:
            evaluate_real(loaded, real, out, split, f"{loaded.name} on {real.name} ({split})", log)
        else:
            if not isinstance(loaded, FeatureGenreModel):
                raise GenreModelError(
                    f"{model!r} is a tagger model: GTZAN clips and features score GenreNet models"
                )
            if features is not None:
                title = f"GenreNet ({loaded.name}) on GTZAN features ({split}, fault-filtered)"
                evaluate_table(loaded.artefact, features, split, out, title)
            else:
                assert data is not None
                title = f"GenreNet ({loaded.name}) on {data.name} ({split})"
                evaluate_genre(loaded.artefact, data, split, out, title, jobs, log=log)
    except (DatasetError, GenreModelError, TaggerUnavailable) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    out_console.print((out / "results.md").read_text())
    out_console.print(f"figures and predictions in {escape(str(out))}")
