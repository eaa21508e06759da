"""The genre models the product can run, behind one interface, and the named bundle.

Two kinds of model live in `weights/<name>/`:

- a **GenreNet** artefact (`genrenet.keras`, `scaler.json`, ...; `model.py`): the seed's 26
  librosa features at 22.05 kHz, windows of 30 s;
- a **tagger** model (`tagger.json`): musicnn (`tagger.py`) on 16 kHz log-mel patches, its
  tags mapped onto the ten genres (`tag_genre.py`), with a fitted temperature.

`load_genre_model("default")` loads DEFAULT_MODEL, the one chosen on real music (its card says
how). When the `musicnn` wheel that holds the tagger's weights is not installed, the default
falls back to FALLBACK_MODEL (GenreNet trained on real GTZAN features) with a warning, so a
worker without the wheel still tags genres - less well, as the cards measure.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from stemdeck.common.atomic import atomic_write_text
from stemdeck.common.stamp import NewerFormatError, check_version, stamp
from stemdeck.genre import tag_genre
from stemdeck.genre.features import FEATURE_RATE
from stemdeck.genre.inputs import check_signal
from stemdeck.genre.melspec import HOP, PATCH_SECONDS, TAGGER_RATE, patches
from stemdeck.genre.model import (
    GenreArtefact,
    GenreModelError,
    load_artefact,
)
from stemdeck.genre.predict import GenrePrediction, classify

log = logging.getLogger(__name__)

TAGGER_FILE = "tagger.json"
#: Stamped into tagger.json since the stamp exists; the bundled musicnn's has none and loads.
TAGGER_FORMAT = "stemdeck.genre.tagger"
TAGGER_VERSION = 1
#: Used when the default's tagger weights (the `musicnn` wheel) are not installed.
FALLBACK_MODEL = "gtzan"
#: Tags returned with a prediction (the page shows the first few as chips).
TOP_TAGS = 10


class GenreModel(Protocol):
    """What the worker, the CLI and the evaluations need of a genre model."""

    name: str
    rate: int  # sample rate of the mono audio `classify` takes

    def classify(self, y: np.ndarray) -> GenrePrediction: ...


@dataclass
class FeatureGenreModel:
    """GenreNet on the seed's features, with an optional fitted temperature."""

    name: str
    artefact: GenreArtefact
    rate: int = FEATURE_RATE

    def classify(self, y: np.ndarray) -> GenrePrediction:
        prediction = classify(self.artefact, y, self.rate)
        calibration = self.artefact.metadata.get("calibration") or {}
        temperature = float(calibration.get("temperature", 1.0))
        probabilities = prediction.probabilities
        if temperature != 1.0:
            probabilities = tag_genre.softmax(np.log(probabilities + 1e-12), temperature)
        return GenrePrediction(
            prediction.labels,
            probabilities,
            prediction.window_probabilities,
            prediction.windows,
            model=self.name,
            uncertain_below=calibration.get("uncertain_below"),
        )


@dataclass
class TaggerGenreModel:
    """musicnn tags -> genres by the mapping in `tagger.json`, calibrated by its temperature."""

    name: str
    taggers: tuple[Any, ...]  # tagger.Tagger, one per published model used
    mapping: dict[str, tuple[str, ...]]
    temperature: float
    uncertain_below: float
    max_patches: int | None
    metadata: dict[str, Any] = field(default_factory=dict)
    rate: int = TAGGER_RATE

    @property
    def tag_keys(self) -> tuple[str, ...]:
        return tuple(f"{t.name}:{tag}" for t in self.taggers for tag in t.tags)

    def tag_patches(self, y: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """((patches, all tags) probabilities, patch start frames) of mono 16 kHz audio."""
        batch, starts = patches(y, self.max_patches)
        return np.concatenate([t.predict_patches(batch)[0] for t in self.taggers], axis=1), starts

    def from_tags(self, per_patch: np.ndarray, starts: list[int]) -> GenrePrediction:
        """The prediction from (patches, tags) probabilities (`tag_patches`)."""
        matrix = tag_genre.mapping_matrix(self.tag_keys, self.mapping)
        track = per_patch.mean(axis=0)
        probabilities = tag_genre.softmax(tag_genre.genre_logits(track, matrix), self.temperature)
        hop_s = HOP / TAGGER_RATE
        windows = tuple((s * hop_s, s * hop_s + PATCH_SECONDS) for s in starts)
        per_window = tag_genre.softmax(tag_genre.genre_logits(per_patch, matrix), self.temperature)
        return GenrePrediction(
            tuple(self.mapping),
            probabilities,
            per_window,
            windows,
            model=self.name,
            uncertain_below=self.uncertain_below,
            tags=top_tags(self.tag_keys, track),
        )

    def classify(self, y: np.ndarray) -> GenrePrediction:
        check_signal(y, self.rate)
        return self.from_tags(*self.tag_patches(y))


def top_tags(keys: tuple[str, ...], probabilities: np.ndarray, k: int = TOP_TAGS) -> tuple:
    """The k most likely tags as (tag, probability, source), one entry per tag name (both
    taggers know "rock", "pop", "guitar", ...: the higher probability is kept)."""
    best: dict[str, tuple[str, float, str]] = {}
    for key, p in zip(keys, probabilities, strict=True):
        source, tag = key.split(":", 1)
        name = tag.lower()
        if name not in best or p > best[name][1]:
            best[name] = (name, float(p), source)
    return tuple(sorted(best.values(), key=lambda item: -item[1])[:k])


def load_genre_model(name_or_path: str | Path = "default") -> GenreModel:
    """A bundled model by name ("default", "musicnn", "gtzan", "synthetic") or a model folder.

    GenreModelError when it does not exist or cannot be used; for "default" a missing tagger
    wheel falls back to FALLBACK_MODEL (logged).
    """
    from stemdeck.genre.model import resolve
    from stemdeck.genre.tagger import TaggerUnavailable

    is_default = str(name_or_path) == "default"
    folder = resolve(name_or_path)
    label = folder.name if is_default else str(name_or_path)
    if (folder / TAGGER_FILE).is_file():
        try:
            return load_tagger_model(folder, label)
        except TaggerUnavailable as exc:
            if not is_default:
                raise GenreModelError(str(exc)) from None
            log.warning("genre: %s; falling back to %s", exc, FALLBACK_MODEL)
            folder, label = resolve(FALLBACK_MODEL), FALLBACK_MODEL
    return FeatureGenreModel(label, load_artefact(folder))


def save_tagger_config(folder: Path, config: dict[str, Any]) -> Path:
    """Write a tagger model folder's tagger.json, stamped with the format version and the
    software that wrote it, atomically."""
    stamped = {**stamp(TAGGER_FORMAT, TAGGER_VERSION, "keras", "tensorflow", "musicnn"), **config}
    return atomic_write_text(Path(folder) / TAGGER_FILE, json.dumps(stamped, indent=1) + "\n")


def read_tagger_config(folder: Path) -> dict[str, Any]:
    """tagger.json of a tagger model folder, checked (GenreModelError if unusable)."""
    path = Path(folder) / TAGGER_FILE
    try:
        config = json.loads(path.read_text())
        mapping = {g: tuple(tags) for g, tags in config["mapping"].items()}
        float(config["temperature"])
        list(config["taggers"])
        check_version(config, TAGGER_FORMAT, TAGGER_VERSION, str(path))
    except NewerFormatError as exc:
        raise GenreModelError(str(exc)) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GenreModelError(f"{path}: unreadable tagger model ({exc})") from None
    config["mapping"] = mapping
    return config


def load_tagger_model(folder: Path, name: str) -> TaggerGenreModel:
    """A tagger model folder (imports TensorFlow; TaggerUnavailable without the wheel)."""
    from stemdeck.genre.tagger import load_tagger

    config = read_tagger_config(folder)
    taggers = tuple(load_tagger(t) for t in config["taggers"])
    model = TaggerGenreModel(
        name,
        taggers,
        config["mapping"],
        float(config["temperature"]),
        float(config.get("uncertain_below", tag_genre.UNCERTAIN_BELOW)),
        config.get("max_patches"),
        config,
    )
    try:
        tag_genre.mapping_matrix(model.tag_keys, model.mapping)
    except ValueError as exc:
        raise GenreModelError(f"{folder}: {exc}") from None
    return model
