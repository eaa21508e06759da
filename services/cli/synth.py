"""`stemdeck synth`, `synth-genres` and `synth-check`: make and inspect the synthetic corpus.

These need the `synth` extra and the system packages from scripts/install-synth-deps;
everything heavy is imported inside the commands so `stemdeck separate` never pays for it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from stemdeck.training.synth.stats import TrackStats

out_console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

GenresOption = Annotated[
    list[str] | None,
    typer.Option(help="Only these genres (repeat, or comma-separate); default all ten."),
]
JobsOption = Annotated[int, typer.Option("--jobs", "-j", min=1, help="Songs made in parallel.")]


def _genres(values: list[str] | None) -> tuple[str, ...]:
    from stemdeck.training.synth.score import GENRES

    if not values:
        return GENRES
    return tuple(g.strip() for value in values for g in value.split(",") if g.strip())


def _check_tools(sound_set: str) -> None:
    """Fail before any work if FluidSynth, a font or every singer of the set is missing."""
    from stemdeck.training.synth.fluid import FontSynth
    from stemdeck.training.synth.soundsets import get_sound_set
    from stemdeck.training.synth.vocals import available_voices

    chosen = get_sound_set(sound_set)
    FontSynth().close()
    if not set(chosen.voices) & set(available_voices()):
        raise RuntimeError(
            f"none of the singers of sound set {sound_set!r} ({', '.join(chosen.voices)}) is "
            "installed: run scripts/install-synth-deps"
        )


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(1)


def synth(
    out: Annotated[Path, typer.Argument(help="Corpus root (MUSDB18-HQ layout).")],
    split: Annotated[str, typer.Option(help="train (every 10th song per genre is valid) or test.")],
    tracks: Annotated[int, typer.Option(min=1, help="Number of songs.")] = 100,
    seconds: Annotated[float, typer.Option(min=1.0, help="Length of each song.")] = 30.0,
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = 0,
    sound_set: Annotated[
        str | None, typer.Option(help="train, test or all; default: the split's own set.")
    ] = None,
    genres: GenresOption = None,
    jobs: JobsOption = 1,
    preview: Annotated[bool, typer.Option(help="Write preview.png (spectrograms) per song.")] = (
        False
    ),
) -> None:
    """Render synthetic multitrack songs with exact stems into OUT/<split>/<track>/."""
    from stemdeck.training.synth.corpus import plan, run
    from stemdeck.training.synth.soundsets import DEFAULT_SPLIT_SET

    chosen = sound_set or DEFAULT_SPLIT_SET.get(split, "train")
    try:
        todo = plan(split, tracks, seconds, seed, chosen, _genres(genres))
        _check_tools(chosen)
    except (ValueError, RuntimeError) as exc:
        raise _fail(str(exc)) from None
    started = time.perf_counter()
    folders = []
    for count, done in enumerate(run(todo, out, jobs), start=1):
        folder = out / ("test" if done.job.split == "test" else "train") / done.job.name
        folders.append(folder)
        if preview:
            from stemdeck.training.synth.preview import write_preview

            write_preview(folder)
        out_console.print(
            f"[{count:>{len(str(tracks))}}/{tracks}] {escape(done.job.name)} "
            f"({done.job.split}) {done.seconds_taken:.1f} s"
        )
    elapsed = time.perf_counter() - started
    out_console.print(
        f"{tracks} songs of {seconds:g} s in {elapsed:.1f} s with {jobs} worker(s) "
        f"({elapsed / tracks:.2f} s per song); index: {escape(str(out / 'tracks.csv'))}"
    )
    _report([_stats(f) for f in sorted(folders)])


def _stats(folder: Path) -> TrackStats:
    from stemdeck.training.synth.stats import track_stats

    return track_stats(folder)


def _report(stats: list) -> None:
    """Print genre balance and stem activity; exit 1 if any track breaks a rule."""
    from stemdeck.training.synth.score import STEMS
    from stemdeck.training.synth.stats import ACTIVE_DB, genre_counts

    table = Table(title=f"Stem activity (share of 1 s frames above {ACTIVE_DB:g} dBFS)")
    for column in ("genre", "songs", *STEMS, "mix peak", "residual dB"):
        table.add_column(column, justify="right" if column != "genre" else "left")
    counts = genre_counts(stats)
    for genre in sorted(counts):
        rows = [s for s in stats if s.genre == genre]
        shares = [f"{sum(r.active_share[s] for r in rows) / len(rows):.0%}" for s in STEMS]
        peak = max(r.mixture_peak for r in rows)
        residual = max(r.residual_db for r in rows)
        table.add_row(genre, str(len(rows)), *shares, f"{peak:.3f}", f"{residual:.0f}")
    out_console.print(table)
    problems = [(s.name, p) for s in stats for p in s.problems]
    for name, problem in problems:
        err.print(f"[red]problem:[/red] {escape(name)}: {escape(problem)}")
    if len(set(counts.values())) > 1:
        err.print(f"[yellow]genres are unbalanced:[/yellow] {dict(counts)}")
    if problems:
        raise typer.Exit(1)
    out_console.print(f"{len(stats)} songs checked: no clipping, residual and silence rules hold.")


def synth_check(
    root: Annotated[Path, typer.Argument(help="Corpus root holding tracks.csv.")],
    preview: Annotated[bool, typer.Option(help="Also write preview.png per song.")] = False,
) -> None:
    """Measure a synthetic corpus: genre balance, stem activity, peaks, residual, silences."""
    from stemdeck.training.synth.stats import corpus_stats

    try:
        stats = corpus_stats(root)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if preview:
        from stemdeck.training.synth.preview import write_preview

        for s in stats:
            folder = next(
                p for p in (root / "train" / s.name, root / "test" / s.name) if p.is_dir()
            )
            write_preview(folder)
    _report(stats)


def synth_genres(
    out: Annotated[Path, typer.Argument(help="Root; clips go to OUT/genres_original/<genre>/.")],
    per_genre: Annotated[int, typer.Option(min=1, help="Clips per genre.")] = 100,
    seed: Annotated[int, typer.Option()] = 0,
    sound_set: Annotated[str, typer.Option(help="train, test or all.")] = "train",
    genres: GenresOption = None,
    jobs: JobsOption = 1,
) -> None:
    """Render 30 s mono 22.05 kHz genre clips in the GTZAN layout."""
    from stemdeck.training.synth.gtzan_export import plan_clips, run_clips
    from stemdeck.training.synth.score import GENRES

    chosen = _genres(genres)
    try:
        unknown = sorted(set(chosen) - set(GENRES))
        if unknown:
            raise ValueError(f"unknown genre {', '.join(unknown)}; choose from {', '.join(GENRES)}")
        todo = plan_clips(per_genre, seed, sound_set, chosen)
        _check_tools(sound_set)
    except (ValueError, RuntimeError) as exc:
        raise _fail(str(exc)) from None
    started = time.perf_counter()
    failed = 0
    for count, (job, _row, taken, error) in enumerate(run_clips(todo, out, jobs), start=1):
        name = f"{job.genre}.{job.number:05d}"
        if error:
            failed += 1
            err_console.print(f"[{count}/{len(todo)}] ✗ {name}: {escape(error)}")
        else:
            out_console.print(f"[{count}/{len(todo)}] {name} {taken:.1f} s")
    elapsed = time.perf_counter() - started
    made = len(todo) - failed
    out_console.print(f"{made} clips in {elapsed:.1f} s under {escape(str(out))}")
    if failed:
        err_console.print(f"{failed} clip(s) could not be rendered (see ✗); the rest are kept")
        raise typer.Exit(1)
