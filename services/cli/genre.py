"""`stemdeck genre`, `stemdeck analyze` and `stemdeck profile`: GenreNet and track analysis.

`analyze` never imports TensorFlow; `genre` and `profile` import it when the model loads.
Results are JSON on stdout (`profile` writes files); input that is unreadable, silent or
shorter than 3 s gives `error: ...` on stderr and exit status 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, soft_wrap=True)
ModelOption = Annotated[
    str,
    typer.Option(
        help="Bundled genre model (default, musicnn, gtzan, synthetic) or a model folder "
        "(stemdeck train genre / genre-tags)."
    ),
]
STEM_NAMES = ("drums", "bass", "other", "vocals")
STEM_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a")


def _fail(message: str, file: Path | None = None) -> typer.Exit:
    where = f"{escape(str(file))}: " if file is not None else ""
    err.print(f"[red]error:[/red] {where}{escape(message)}")
    return typer.Exit(1)


def genre(
    file: Annotated[Path, typer.Argument(help="A song or clip (any format StemDeck reads).")],
    model: ModelOption = "default",
) -> None:
    """Tag a track's genre from its whole length: label, calibrated confidence, top-3 and the
    music tagger's tags, as JSON."""
    from stemdeck.common.audio import AudioError, read_audio
    from stemdeck.genre.classifier import load_genre_model
    from stemdeck.genre.inputs import InputError, check_signal
    from stemdeck.genre.model import GenreModelError

    try:
        loaded = load_genre_model(model)
    except GenreModelError as exc:
        raise _fail(str(exc)) from None
    try:
        y = read_audio(file, sample_rate=loaded.rate, channels=1)[0]
        check_signal(y, loaded.rate)
        prediction = loaded.classify(y)
    except AudioError as exc:
        raise _fail(str(exc)) from None
    except InputError as exc:
        raise _fail(str(exc), file) from None
    result = {
        "file": str(file),
        "duration_s": round(len(y) / loaded.rate, 2),
        **prediction.to_json(),
    }
    print(json.dumps(result, indent=2))


def _parse_stems(stem: list[str] | None, stems_dir: Path | None) -> dict[str, Path]:
    found: dict[str, Path] = {}
    if stems_dir is not None:
        if not stems_dir.is_dir():
            raise typer.BadParameter(f"{stems_dir} is not a folder", param_hint="--stems")
        for name in STEM_NAMES:
            for ext in STEM_EXTENSIONS:
                if (stems_dir / f"{name}{ext}").is_file():
                    found[name] = stems_dir / f"{name}{ext}"
                    break
        if not found:
            raise typer.BadParameter(
                f"{stems_dir} holds none of {', '.join(n + '.wav' for n in STEM_NAMES)}",
                param_hint="--stems",
            )
    for item in stem or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise typer.BadParameter(f"use NAME=PATH, not {item!r}", param_hint="--stem")
        found[name] = Path(path)
    return found


def analyze(
    file: Annotated[Path, typer.Argument(help="The mix (any format StemDeck reads).")],
    drums: Annotated[
        Path | None,
        typer.Option(help="The drums stem: the beat tracker runs on it (cleaner than the mix)."),
    ] = None,
    stems: Annotated[
        Path | None,
        typer.Option(help="A folder of stems (drums/bass/other/vocals.wav, as `separate` writes)."),
    ] = None,
    stem: Annotated[
        list[str] | None,
        typer.Option(help="A stem as NAME=PATH (repeat); adds per-stem loudness shares."),
    ] = None,
    beats: Annotated[bool, typer.Option(help="Include the beat times in the JSON.")] = True,
) -> None:
    """BPM, beats, key, LUFS, true peak, an energy curve and spectral stats, as JSON."""
    from stemdeck.common.audio import AudioError
    from stemdeck.genre.analysis import analyze_file
    from stemdeck.genre.inputs import InputError

    stem_paths = _parse_stems(stem, stems)
    try:
        result = analyze_file(file, drums, stem_paths or None)
    except AudioError as exc:
        raise _fail(str(exc)) from None
    except InputError as exc:
        raise _fail(str(exc), file) from None
    if not beats:
        result.pop("beats_s")
    print(json.dumps(result, indent=2))


def profile(
    dataset: Annotated[
        Path, typer.Argument(help="MUSDB18-HQ layout (ROOT/train/<track>/mixture.wav) or MUSDB18.")
    ],
    out: Annotated[Path, typer.Option(help="Folder for the CSV, the three PNGs and summary.md.")],
    model: ModelOption = "default",
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N tracks.")] = None,
) -> None:
    """Pseudo-label every track of a dataset with a genre model; chart the genre mix and
    features."""
    from stemdeck.genre.classifier import load_genre_model
    from stemdeck.genre.model import GenreModelError
    from stemdeck.training.datasets import DatasetError
    from stemdeck.training.profile import find_mixtures, profile_dataset

    try:
        find_mixtures(dataset)  # a wrong folder fails before TensorFlow loads
        loaded = load_genre_model(model)
        summary = profile_dataset(loaded, dataset, out, limit, loaded.name, log=err.print)
    except (DatasetError, GenreModelError) as exc:
        raise _fail(str(exc)) from None
    print((out / "summary.md").read_text())
    print(f"{summary['tracks']} tracks profiled; files in {out}")
