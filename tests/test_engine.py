"""The streaming chunked engine: exact length, seamless overlap-add, bounded memory.

Most tests switch the soft-mask post-filter off: they check the chunking itself, which the
mask (tested in test_masking) would blur.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from stemdeck.separator.config import TasNetConfig
from stemdeck.separator.engine import ChunkSettings, StreamingSeparator, chunk_starts
from stemdeck.separator.model import ConvTasNet

pytestmark = pytest.mark.unit

RATE = 1000  # a low rate keeps the arithmetic readable: 1 s = 1000 frames
GAINS = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 4, 1, 1)


def pointwise(x: torch.Tensor) -> torch.Tensor:
    """A 'model' whose stems are the input times 1..4: chunking must not change it at all."""
    return x.unsqueeze(1) * GAINS


def blocks_of(signal: np.ndarray, size: int):
    for start in range(0, signal.shape[1], size):
        yield signal[:, start : start + size]


def run(
    signal: np.ndarray,
    settings: ChunkSettings,
    block: int = 700,
    mean: float = 0.0,
    std: float = 1.0,
    model=pointwise,
    soft_mask: bool = False,
) -> np.ndarray:
    settings = replace(settings, soft_mask=soft_mask)
    engine = StreamingSeparator(model, 4, 2, RATE, settings, torch.device("cpu"))
    parts = list(engine.run(blocks_of(signal, block), signal.shape[1], mean, std))
    return np.concatenate(parts, axis=-1)


@pytest.mark.parametrize("frames", [1, 37, 999, 1000, 1001, 4321, 12_345])
@pytest.mark.parametrize(
    ("segment", "overlap", "shifts", "batch"),
    [(1.0, 0.25, 0, 1), (0.5, 0.0, 0, 3), (2.0, 0.5, 2, 2), (0.3, 0.9, 1, 4)],
)
def test_output_is_exact_for_a_pointwise_model(
    frames: int, segment: float, overlap: float, shifts: int, batch: int
) -> None:
    signal = np.random.default_rng(frames).normal(size=(2, frames)).astype(np.float32)
    settings = ChunkSettings(segment, overlap, shifts, max_shift=0.2, batch_size=batch)
    out = run(signal, settings, mean=0.3, std=2.0)
    assert out.shape == (4, 2, frames)
    expected = (signal - 0.3)[None] * GAINS.numpy()[0] + 0.3 / 4
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_one_segment_equals_the_model_on_the_whole_input() -> None:
    torch.manual_seed(0)
    model = ConvTasNet(TasNetConfig(N=16, B=16, H=32, X=3, R=1)).eval()
    signal = np.random.default_rng(1).normal(size=(2, 1500)).astype(np.float32)
    out = run(signal, ChunkSettings(segment=1.5), model=model)
    with torch.inference_mode():
        direct = model(torch.from_numpy(signal)[None])[0].numpy()
    np.testing.assert_allclose(out, direct, rtol=1e-5, atol=1e-6)


def test_chunked_model_output_stays_close_to_whole_input_output() -> None:
    """Seams cross-fade: overlapping segments give nearly what one long pass gives."""
    torch.manual_seed(0)
    model = ConvTasNet(TasNetConfig(N=16, B=16, H=32, X=3, R=1)).eval()
    signal = np.random.default_rng(2).normal(size=(2, 6000)).astype(np.float32)
    whole = run(signal, ChunkSettings(segment=6.0), model=model)
    chunked = run(signal, ChunkSettings(segment=1.0, overlap=0.25), model=model)
    error = np.abs(whole - chunked).mean() / np.abs(whole).mean()
    assert error < 0.15


def test_soft_mask_makes_chunked_stems_sum_to_the_mixture() -> None:
    """With the post-filter on, every segment's stems add up to its input, so the
    overlap-added song's stems add up to the song (the raw model's do not)."""
    torch.manual_seed(0)
    model = ConvTasNet(TasNetConfig(N=16, B=16, H=32, X=3, R=1)).eval()
    signal = np.random.default_rng(4).normal(size=(2, 20_000)).astype(np.float32)
    settings = ChunkSettings(segment=5.0, overlap=0.25)
    masked = run(signal, settings, mean=0.1, std=2.0, model=model, soft_mask=True)
    raw = run(signal, settings, mean=0.1, std=2.0, model=model)
    assert masked.shape == raw.shape == (4, 2, 20_000)
    np.testing.assert_allclose(masked.sum(axis=0), signal, atol=1e-4)
    assert np.abs(raw.sum(axis=0) - signal).mean() > 0.1


def test_shifts_are_repeatable_with_a_seed() -> None:
    torch.manual_seed(0)
    model = ConvTasNet(TasNetConfig(N=16, B=16, H=32, X=3, R=1)).eval()
    signal = np.random.default_rng(3).normal(size=(2, 3000)).astype(np.float32)
    settings = ChunkSettings(segment=1.0, shifts=3, max_shift=0.3, seed=7)
    np.testing.assert_array_equal(
        run(signal, settings, model=model), run(signal, settings, model=model)
    )


def test_memory_is_bounded_by_the_segment_not_the_song() -> None:
    """Frames read but not yet written never exceed a few segments, whatever the length."""
    settings = ChunkSettings(segment=1.0, overlap=0.25, shifts=2, max_shift=0.2, batch_size=2)
    lags = []
    for frames in (10_000, 100_000):
        consumed = 0

        def counting(signal: np.ndarray):
            nonlocal consumed
            for block in blocks_of(signal, 500):
                consumed += block.shape[1]
                yield block

        engine = StreamingSeparator(pointwise, 4, 2, RATE, settings, torch.device("cpu"))
        emitted, worst = 0, 0
        for out in engine.run(counting(np.zeros((2, frames), np.float32)), frames):
            worst = max(worst, consumed - emitted)
            emitted += out.shape[-1]
        assert emitted == frames
        lags.append(worst)
    assert lags[0] == lags[1]
    assert lags[1] <= 2 * 1000 + 250 + 200 + 500


def test_progress_rises_to_one() -> None:
    seen: list[float] = []
    engine = StreamingSeparator(
        pointwise, 4, 2, RATE, ChunkSettings(segment=1.0), torch.device("cpu")
    )
    signal = np.zeros((2, 5000), np.float32)
    list(engine.run(blocks_of(signal, 800), 5000, progress=seen.append))
    assert seen == sorted(seen)
    assert seen[-1] == 1.0


def test_short_input_stream_is_an_error() -> None:
    engine = StreamingSeparator(
        pointwise, 4, 2, RATE, ChunkSettings(segment=1.0), torch.device("cpu")
    )
    with pytest.raises(ValueError, match="input ended"):
        list(engine.run(blocks_of(np.zeros((2, 1000), np.float32), 500), 5000))


def test_every_grid_covers_the_song() -> None:
    starts = chunk_starts(10_000, 1000, 750, [0, 130])
    assert min(starts) == -130
    assert max(starts) + 1000 >= 10_000
    assert starts == sorted(starts)


@pytest.mark.parametrize(
    "bad", [dict(segment=0), dict(overlap=1.0), dict(shifts=-1), dict(batch_size=0)]
)
def test_bad_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        ChunkSettings(**bad)
