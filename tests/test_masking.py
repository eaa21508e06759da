"""The soft-mask post-filter: it splits the mixture, never invents or loses signal."""

from __future__ import annotations

import math

import pytest
import torch

from stemdeck.separator.masking import N_FFT, soft_mask

pytestmark = pytest.mark.unit

RATE = 44100


def tone(frequency: float, frames: int = RATE) -> torch.Tensor:
    t = torch.arange(frames) / RATE
    return torch.sin(2 * math.pi * frequency * t).expand(2, frames).clone()


def sources_and_mixture() -> tuple[torch.Tensor, torch.Tensor]:
    """Four stereo sources far apart in frequency, as (1, 4, 2, frames), and their sum."""
    sources = torch.stack([tone(f) for f in (110.0, 440.0, 1760.0, 7040.0)])[None]
    return sources, sources.sum(dim=1)


def test_masked_stems_sum_to_the_mixture() -> None:
    generator = torch.Generator().manual_seed(0)
    mixture = torch.randn(2, 2, 30_000, generator=generator)
    estimates = torch.randn(2, 4, 2, 30_000, generator=generator)
    out = soft_mask(estimates, mixture)
    assert out.shape == estimates.shape
    torch.testing.assert_close(out.sum(dim=1), mixture, atol=1e-4, rtol=1e-4)


def test_errors_in_level_and_phase_are_dropped() -> None:
    """When each bin belongs to one stem, the mask recovers the sources exactly, however wrong
    the estimates' levels and timing are: only which stem owns a bin is used."""
    sources, mixture = sources_and_mixture()
    gains = torch.tensor([0.5, 2.0, 3.0, 0.2]).view(1, 4, 1, 1)
    wrong = torch.roll(sources * gains, shifts=7, dims=-1)  # wrong level, 0.16 ms late
    out = soft_mask(wrong, mixture)
    middle = slice(N_FFT, -N_FFT)  # away from the STFT's padded edges
    raw_error = (wrong - sources)[..., middle].abs().mean()
    masked_error = (out - sources)[..., middle].abs().mean()
    assert raw_error > 0.3
    assert masked_error < 0.01


def test_silent_estimates_share_the_mixture_equally() -> None:
    _, mixture = sources_and_mixture()
    out = soft_mask(torch.zeros(1, 4, *mixture.shape[1:]), mixture)
    for stem in out[0]:
        torch.testing.assert_close(stem, mixture[0] / 4, atol=1e-4, rtol=1e-4)


def test_input_shorter_than_one_window_is_left_as_it_is() -> None:
    estimates = torch.randn(1, 4, 2, N_FFT - 1)
    assert torch.equal(soft_mask(estimates, estimates.sum(dim=1)), estimates)
