"""`stemdeck eq`: recommend the corrective EQ for one stem file, as JSON on stdout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, soft_wrap=True)


def eq(
    file: Annotated[Path, typer.Argument(help="A stem (any format StemDeck reads).")],
    stem: Annotated[str, typer.Option(help="Which stem it is: drums, bass, other or vocals.")],
    model: Annotated[
        str, typer.Option(help="Bundled Auto-EQ model name or checkpoint path.")
    ] = "default",
) -> None:
    """Recommend low/mid/high gains (dB) that restore a stem's tonal balance."""
    from stemdeck.common.audio import AudioError, read_audio
    from stemdeck.eq.checkpoints import EqCheckpointError, open_model
    from stemdeck.eq.features import MODEL_RATE
    from stemdeck.eq.filters import band_definition
    from stemdeck.eq.predict import EqInputError, predict_eq

    try:
        loaded = open_model(model)
        if stem not in loaded.config.stems:
            raise EqInputError(
                f"unknown stem {stem!r}; choose one of {', '.join(loaded.config.stems)}"
            )
        audio = read_audio(file, sample_rate=MODEL_RATE, channels=1)
        prediction = predict_eq(audio, MODEL_RATE, stem, loaded)
    except EqInputError as exc:
        err.print(f"[red]error:[/red] {escape(str(file))}: {escape(str(exc))}")
        raise typer.Exit(1) from None
    except (AudioError, EqCheckpointError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    result = {"file": str(file), **prediction.to_json(), "bands": band_definition()["bands"]}
    print(json.dumps(result, indent=2))
