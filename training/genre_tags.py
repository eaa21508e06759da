"""Building the tagger genre model: musicnn's tags mapped by hand onto the ten genres, with a
temperature fitted on labelled real tracks so the confidence it shows means what it says.

Only the temperature is fitted, and only on the `train` split of the labelled folder (for
MUSDB18-7: the 80 training previews); it rescales the probabilities without changing which
genre wins. The mapping itself (`tag_genre.GENRE_TAGS`) is written by hand from the tags'
meaning, not fitted. The model folder holds one file, `tagger.json`; the weights stay in the
installed `musicnn` wheel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from stemdeck.genre import tag_genre
from stemdeck.genre.classifier import TaggerGenreModel, save_tagger_config
from stemdeck.genre.melspec import MAX_PATCHES
from stemdeck.training.datasets import DatasetError
from stemdeck.training.genre_real import accepted_matrix, labelled_tracks, predict_tracks

Log = Callable[[str], None]
TAGGERS = ("MSD_musicnn", "MTT_musicnn")


def build_tagger_model(
    data: Path,
    out: Path,
    taggers: Sequence[str] = TAGGERS,
    split: str = "train",
    uncertain_below: float = tag_genre.UNCERTAIN_BELOW,
    log: Log = print,
) -> dict:
    """Tag the `split` tracks of the labelled folder `data`, fit the temperature on them and
    write `out/tagger.json`; return its contents."""
    from stemdeck.genre.tagger import PACKAGE, PACKAGE_VERSION, load_tagger

    loaded = tuple(load_tagger(name) for name in taggers)
    model = TaggerGenreModel("uncalibrated", loaded, tag_genre.GENRE_TAGS, 1.0, uncertain_below,
                             MAX_PATCHES)  # fmt: skip
    tracks = labelled_tracks(data, split)
    kept, predictions, seconds = predict_tracks(model, tracks, log)
    if len(kept) < 2:
        raise DatasetError(f"{data} ({split}) has too few readable labelled tracks to calibrate")
    # At temperature 1 the probabilities are softmax(logits): their logs are the logits up to
    # a per-track constant, which the softmax ignores.
    logits = np.log(np.stack([p.probabilities for p in predictions]))
    accepted = accepted_matrix([t.genre for t in kept], tuple(tag_genre.GENRE_TAGS))
    temperature = tag_genre.fit_temperature(logits, accepted)
    log(f"temperature {temperature:.3f}, fitted on {len(kept)} {split} tracks")
    config = {
        "kind": "musicnn tags mapped onto GTZAN genres",
        "taggers": list(taggers),
        "weights": f"the installed '{PACKAGE}' wheel ({PACKAGE}=={PACKAGE_VERSION}, ISC licence)",
        "labels": list(tag_genre.GENRE_TAGS),
        "mapping": {g: list(tags) for g, tags in tag_genre.GENRE_TAGS.items()},
        "epsilon": tag_genre.EPSILON,
        "temperature": round(temperature, 4),
        "uncertain_below": uncertain_below,
        "max_patches": MAX_PATCHES,
        "calibrated_on": {
            "data": str(Path(data).resolve()),
            "split": split,
            "tracks": len(kept),
            "groups": {g: sum(t.genre == g for t in kept) for g in sorted({t.genre for t in kept})},
            "objective": "mean negative log-likelihood of the accepted genre set",
        },
        "seconds_per_track": round(seconds, 3),
    }
    save_tagger_config(Path(out), config)
    return config
