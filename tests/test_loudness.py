"""The streaming loudness meter agrees with pyloudnorm's whole-signal measurement."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest

from stemdeck.common.loudness import LoudnessMeter

pytestmark = pytest.mark.unit


def music(seconds: float, rate: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    swell = 0.1 + 0.9 * (np.sin(2 * np.pi * 0.2 * t) > 0)  # loud and quiet passages
    left = swell * (0.3 * np.sin(2 * np.pi * 110 * t) + 0.05 * rng.normal(size=t.size))
    right = swell * (0.2 * np.sin(2 * np.pi * 2500 * t) + 0.05 * rng.normal(size=t.size))
    return np.stack([left, right])


@pytest.mark.parametrize(("rate", "seconds", "block"), [(44100, 12.34, 44100), (48000, 7.0, 5000)])
def test_streaming_matches_pyloudnorm(rate: int, seconds: float, block: int) -> None:
    audio = music(seconds, rate, seed=rate)
    meter = LoudnessMeter(rate, 2)
    for start in range(0, audio.shape[1], block):
        meter.add(audio[:, start : start + block])
    reference = pyloudnorm.Meter(rate).integrated_loudness(audio.T)
    assert meter.integrated_lufs == pytest.approx(reference, abs=0.1)
    assert meter.peak_dbfs == pytest.approx(20 * math.log10(np.abs(audio).max()))


def test_silence_and_short_audio_have_no_loudness() -> None:
    meter = LoudnessMeter(44100, 2)
    meter.add(np.zeros((2, 44100)))
    assert meter.integrated_lufs == -math.inf and meter.peak_dbfs == -math.inf
    short = LoudnessMeter(44100, 2)
    short.add(np.full((2, 1000), 0.5))
    assert short.integrated_lufs == -math.inf
