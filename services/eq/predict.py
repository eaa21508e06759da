"""Recommend a corrective EQ for a whole stem: the Python API over the Auto-EQ model.

The model judges 3 s at a time. A stem is cut into windows every `hop_seconds` across its whole
length (at most `max_windows`, spread evenly), silent windows are skipped, and the per-window
gains are combined by their median, which one odd passage (a breakdown, a fill) cannot drag
far. How much the windows disagree is reported as a spread, so a caller can tell a confident
recommendation from a guess. The model's `Restraint` (its checkpoint's post-hoc rules: per-stem
prior, spread shrink, dead zone) then holds the median back, so a stem that needs nothing is
left nearly flat. Gains are what to apply with `filters.apply_eq` to restore the stem, clamped
to +-15 dB.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stemdeck.eq.checkpoints import LoadedEqModel, open_model, resolve
from stemdeck.eq.features import (
    MODEL_RATE,
    SILENCE_DB,
    WINDOW_SECONDS,
    split_windows,
    to_model_rate,
)
from stemdeck.eq.filters import BAND_NAMES, GAIN_LIMIT_DB
from stemdeck.eq.model import EqNet
from stemdeck.eq.restraint import Restraint

#: Window hop and cap: 50 % overlap; a 5-minute stem is judged on 32 windows across its length.
HOP_SECONDS = 1.5
MAX_WINDOWS = 32
#: Scales the median absolute deviation to a standard deviation for normally spread values.
_MAD_TO_STD = 1.4826


class EqInputError(ValueError):
    """Audio the Auto-EQ cannot judge (too short, silent, not finite) or an unknown stem."""


@dataclass(frozen=True)
class EqPrediction:
    """A recommendation for one stem.

    Attributes:
        stem: the stem name the model was told.
        gains_db: gain per band (low, mid, high) to apply to restore the stem, within +-15 dB
            (the median of the windows after the model's restraint).
        spread_db: per band, how much the windows disagree (1.4826 x median absolute deviation,
            a robust standard deviation); None with a single window.
        windows: how many non-silent windows were judged.
        window_gains_db: (windows, 3) the raw per-window predictions, unclamped.
        window_starts: start of each judged window, in seconds.
    """

    stem: str
    gains_db: dict[str, float]
    spread_db: dict[str, float | None]
    windows: int
    window_gains_db: np.ndarray = field(repr=False)
    window_starts: list[float] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "stem": self.stem,
            "gains_db": self.gains_db,
            "spread_db": self.spread_db,
            "windows": self.windows,
        }


@functools.lru_cache(maxsize=4)
def _cached_model(path: Path) -> EqNet:
    return open_model(path).model


def get_model(model: EqNet | LoadedEqModel | str | Path | None = None) -> EqNet:
    """An EqNet from a model object, a bundled name or a path (None: the bundled default)."""
    if isinstance(model, LoadedEqModel):
        return model.model
    if isinstance(model, EqNet):
        return model
    return _cached_model(resolve(model))


def predict_windows(model: EqNet, windows: torch.Tensor, stem: str, batch: int = 16) -> np.ndarray:
    """Raw gains (n, 3) for (n, 132300) windows of 44.1 kHz mono audio of stem `stem`."""
    stem_id = model.stem_id(stem)
    model.eval()
    outputs = []
    with torch.inference_mode():
        for chunk in torch.split(windows, batch):
            stems = torch.full((chunk.shape[0],), stem_id, dtype=torch.long)
            outputs.append(model(chunk, stems).double().numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, len(BAND_NAMES)))


def aggregate(
    window_gains: np.ndarray, restraint: Restraint | None = None, stem: str = ""
) -> tuple[np.ndarray, np.ndarray | None]:
    """The recommendation per band — the median of the windows, through `restraint` when
    given, clamped to +-15 dB — and the robust spread (None for one window)."""
    median = np.median(window_gains, axis=0)
    spread = None
    if len(window_gains) > 1:
        spread = _MAD_TO_STD * np.median(np.abs(window_gains - median), axis=0)
    if restraint is not None:
        median = restraint.apply(median, spread, stem)
    return np.clip(median, -GAIN_LIMIT_DB, GAIN_LIMIT_DB), spread


def predict_eq(
    audio: np.ndarray,
    sample_rate: int,
    stem: str,
    model: EqNet | LoadedEqModel | str | Path | None = None,
    hop_seconds: float = HOP_SECONDS,
    max_windows: int = MAX_WINDOWS,
    restraint: Restraint | None = None,
) -> EqPrediction:
    """Recommend the EQ gains that restore `audio`, a stem of kind `stem`.

    Args:
        audio: float (frames,) or (channels, frames) samples, any level.
        sample_rate: their rate in Hz (resampled to the model's 44.1 kHz).
        stem: "drums", "bass", "other" or "vocals".
        model: an EqNet, a loaded model, a bundled name or a file path; default the bundled one.
        hop_seconds: step between the 3 s windows. Default 1.5.
        max_windows: cap on windows judged, spread over the whole stem. Default 32.
        restraint: post-hoc rules; default the model's own (`EqNet.restraint`).

    Raises EqInputError for an unknown stem, audio shorter than one window, silent audio, or
    samples that are not finite.
    """
    net = get_model(model)
    if stem not in net.config.stems:
        raise EqInputError(f"unknown stem {stem!r}; choose one of {', '.join(net.config.stems)}")
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim not in (1, 2) or samples.shape[-1] == 0:
        raise EqInputError(f"expected (frames,) or (channels, frames) audio, got {samples.shape}")
    if not np.isfinite(samples).all():
        raise EqInputError("the audio contains invalid samples (NaN or infinity)")
    seconds = samples.shape[-1] / sample_rate
    if seconds < WINDOW_SECONDS:
        raise EqInputError(
            f"the audio is {seconds:.2f} s long; Auto-EQ needs at least {WINDOW_SECONDS:g} s"
        )
    mono = to_model_rate(samples, sample_rate)
    windows, starts = split_windows(mono, hop_seconds, max_windows)
    if not starts:
        raise EqInputError(
            f"the audio is silent: no {WINDOW_SECONDS:g} s window is louder than "
            f"{SILENCE_DB:g} dBFS"
        )
    raw = predict_windows(net, windows, stem)
    gains, spread = aggregate(raw, net.restraint if restraint is None else restraint, stem)
    return EqPrediction(
        stem=stem,
        gains_db={name: round(float(g), 2) for name, g in zip(BAND_NAMES, gains, strict=True)},
        spread_db={
            name: None if spread is None else round(float(s), 2)
            for name, s in zip(BAND_NAMES, spread if spread is not None else gains, strict=True)
        },
        windows=len(starts),
        window_gains_db=raw,
        window_starts=[s / MODEL_RATE for s in starts],
    )
