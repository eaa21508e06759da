"""Whole-track genre: features over several 30 s windows, probabilities averaged.

The seed judged only the first 30 s; an intro is often the least typical part of a song.
Averaging the windows' probabilities (not their features) lets a track that changes style
register as a mixture rather than as the average of two timbres.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Unpack

import numpy as np

from stemdeck.genre.features import FEATURE_RATE, Windowing, feature_vector, window_bounds
from stemdeck.genre.inputs import check_signal
from stemdeck.genre.model import GenreArtefact


@dataclass(frozen=True)
class GenrePrediction:
    """Averaged class probabilities of a track, the windows they came from, and - from a
    tagger model - the track's most likely tags. `uncertain_below` is the model's threshold
    under which its best genre is reported as uncertain (None: never)."""

    labels: tuple[str, ...]
    probabilities: np.ndarray  # (classes,), sums to 1
    window_probabilities: np.ndarray  # (windows, classes)
    windows: tuple[tuple[float, float], ...]  # (start, stop) seconds
    model: str = ""
    uncertain_below: float | None = None
    tags: tuple[tuple[str, float, str], ...] = ()  # (tag, probability, tagger), best first

    @property
    def label(self) -> str:
        return self.labels[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        return float(self.probabilities.max())

    @property
    def uncertain(self) -> bool:
        return self.uncertain_below is not None and self.confidence < self.uncertain_below

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(self.labels[i], float(self.probabilities[i])) for i in order]

    def to_json(self) -> dict:
        """`results.genre`: label, confidence, top3, probabilities, windows (the shape the
        page and API clients read) plus model, uncertain and tags."""
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "uncertain": self.uncertain,
            "model": self.model,
            "top3": [{"label": g, "probability": round(p, 4)} for g, p in self.top(3)],
            "probabilities": {
                g: round(float(p), 4) for g, p in zip(self.labels, self.probabilities, strict=True)
            },
            "windows": [
                {
                    "start_s": round(a, 2),
                    "end_s": round(b, 2),
                    "label": self.labels[int(np.argmax(p))],
                }
                for (a, b), p in zip(self.windows, self.window_probabilities, strict=True)
            ],
            "tags": [
                {"tag": tag, "probability": round(p, 4), "source": source}
                for tag, p, source in self.tags
            ],
        }


def predict_features(artefact: GenreArtefact, features: np.ndarray) -> np.ndarray:
    """(rows, classes) probabilities for (rows, 26) raw features."""
    scaled = artefact.scaler.transform(np.atleast_2d(features))
    return np.asarray(artefact.model.predict_on_batch(scaled), dtype=np.float64)


def classify(
    artefact: GenreArtefact, y: np.ndarray, sr: int = FEATURE_RATE, **windowing: Unpack[Windowing]
) -> GenrePrediction:
    """Genre of mono audio `y` (frames,) at `sr` (22.05 kHz, the features' rate).

    InputError for audio that is too short or silent.
    """
    if sr != FEATURE_RATE:
        raise ValueError(f"GenreNet features are computed at {FEATURE_RATE} Hz, not {sr}")
    check_signal(y, sr)
    bounds = window_bounds(len(y), sr, **windowing)
    rows = np.stack([feature_vector(y[a:b], sr) for a, b in bounds])
    return classify_rows(artefact, rows, tuple((a / sr, b / sr) for a, b in bounds))


def classify_rows(
    artefact: GenreArtefact, rows: np.ndarray, windows: tuple[tuple[float, float], ...]
) -> GenrePrediction:
    """The prediction from already computed (windows, 26) features of one track."""
    per_window = predict_features(artefact, rows)
    mean = per_window.mean(axis=0)
    return GenrePrediction(artefact.labels, mean / mean.sum(), per_window, windows)
