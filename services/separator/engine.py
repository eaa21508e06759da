"""Chunked, streaming inference: any length of song in constant memory.

The song is cut into segments that overlap by a fraction; each segment's output is weighted by
a triangle and overlap-added, so seams cross-fade (as Demucs' `apply_model` does). With
`shifts`, extra grids of segments start at random offsets of up to `max_shift` seconds and are
averaged in too, which reduces seam artefacts further (Demucs' "shift trick"). Input arrives in
blocks and output leaves in blocks as soon as no later segment can still touch it, so memory
depends on the segment length and batch size, never on the song's length.

The engine is the same for every model family (Conv-TasNet, Hybrid Demucs): a model is any
module from (batch, channels, frames) to (batch, sources, channels, frames); the family decides
only the segment length and the soft-mask default (`separate.Separator` reads them off the
loaded model).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from stemdeck.separator.masking import soft_mask

ModelFn = Callable[[torch.Tensor], torch.Tensor]
Progress = Callable[[float], None]


@dataclass(frozen=True)
class ChunkSettings:
    """How a song is cut for the model.

    Attributes:
        segment: segment length in seconds; None lets the model choose
            (`TasNetConfig.default_segment_seconds`).
        overlap: fraction of a segment shared with its neighbour, in [0, 1). Default 0.25.
        shifts: number of randomly shifted extra passes averaged in; 0 = one plain pass.
        max_shift: largest random shift, in seconds. Default 0.5 (as Demucs).
        batch_size: segments per model call. Default 1 (larger batches were slower on CPU).
        seed: seed for the random shifts, so a run can be repeated exactly.
        soft_mask: split the mixture by the estimates' magnitude ratios (`masking`); None
            lets the model choose (on only where its card shows the filter helps).
    """

    segment: float | None = None
    overlap: float = 0.25
    shifts: int = 0
    max_shift: float = 0.5
    batch_size: int = 1
    seed: int = 0
    soft_mask: bool | None = None

    def __post_init__(self) -> None:
        if self.segment is not None and self.segment <= 0:
            raise ValueError(f"segment must be positive seconds, got {self.segment}")
        if not 0 <= self.overlap < 1:
            raise ValueError(f"overlap must be in [0, 1), got {self.overlap}")
        if self.shifts < 0 or self.batch_size < 1:
            raise ValueError("shifts must be >= 0 and batch_size >= 1")


def triangle_weights(length: int) -> np.ndarray:
    """Cross-fade weights: rise to the middle, fall to the end, never zero."""
    half = length // 2
    ramp = np.concatenate([np.arange(1, half + 1), np.arange(length - half, 0, -1)])
    return (ramp / ramp.max()).astype(np.float32)


def chunk_starts(total: int, segment: int, hop: int, offsets: list[int]) -> list[int]:
    """Start frames of every segment of every grid, sorted; each grid covers [0, total)."""
    starts: list[int] = []
    for offset in offsets:
        start = -offset
        while True:
            starts.append(start)
            if start + segment >= total:
                break
            start += hop
    return sorted(starts)


class StreamingSeparator:
    """Runs a waveform-to-stems model over a stream of blocks, emitting finished blocks.

    `model` maps (batch, channels, frames) to (batch, sources, channels, frames).
    """

    def __init__(
        self,
        model: ModelFn,
        sources: int,
        channels: int,
        sample_rate: int,
        settings: ChunkSettings,
        device: torch.device,
    ) -> None:
        self.model = model
        self.sources = sources
        self.channels = channels
        self.settings = settings
        self.device = device
        if settings.segment is None:  # Separator fills in the model's own length before this
            raise ValueError("StreamingSeparator needs a segment length in seconds, got None")
        self.segment = max(2, round(settings.segment * sample_rate))
        self.hop = max(1, round(self.segment * (1 - settings.overlap)))
        self.max_shift = round(settings.max_shift * sample_rate)
        self.weights = triangle_weights(self.segment)

    def _offsets(self) -> list[int]:
        if self.settings.shifts == 0 or self.max_shift == 0:
            return [0]
        rng = random.Random(self.settings.seed)
        return [rng.randrange(self.max_shift) for _ in range(self.settings.shifts)]

    def run(
        self,
        blocks: Iterable[np.ndarray],
        total: int,
        mean: float = 0.0,
        std: float = 1.0,
        progress: Progress | None = None,
    ) -> Iterator[np.ndarray]:
        """Yield (sources, channels, n) float32 blocks covering exactly `total` frames.

        `mean` and `std` normalise the input (Demucs: statistics of the mono mix over the whole
        song); the output is scaled back, and the mean shared equally by the stems so that they
        can add up to the song.
        """
        starts = chunk_starts(total, self.segment, self.hop, self._offsets())
        reader = iter(blocks)
        inbuf = np.zeros((self.channels, 0), np.float32)
        in_start = 0  # song frame of inbuf[:, 0]
        acc = np.zeros((self.sources, self.channels, 0), np.float32)
        wsum = np.zeros(0, np.float32)
        out_start = 0  # song frame of acc[..., 0]
        scale = std if std > 0 else 1.0
        batch = self.settings.batch_size
        for first in range(0, len(starts), batch):
            group = starts[first : first + batch]
            need = min(total, group[-1] + self.segment)
            while in_start + inbuf.shape[1] < need:
                block = next(reader, None)
                if block is None:
                    raise ValueError(
                        f"input ended at frame {in_start + inbuf.shape[1]}, expected {total}"
                    )
                inbuf = np.concatenate([inbuf, (block - mean) / scale], axis=1)
            chunks = np.stack([self._window(inbuf, in_start, s, total) for s in group])
            outputs = self._infer(chunks)
            acc_end = min(total, group[-1] + self.segment)
            if acc_end > out_start + acc.shape[-1]:
                grow = acc_end - out_start - acc.shape[-1]
                acc = np.concatenate([acc, np.zeros((*acc.shape[:2], grow), np.float32)], -1)
                wsum = np.concatenate([wsum, np.zeros(grow, np.float32)])
            for start, out in zip(group, outputs, strict=True):
                lo, hi = max(start, out_start), min(start + self.segment, total)
                if hi > lo:
                    w = self.weights[lo - start : hi - start]
                    acc[..., lo - out_start : hi - out_start] += (
                        out[..., lo - start : hi - start] * w
                    )
                    wsum[lo - out_start : hi - out_start] += w
            following = starts[first + batch] if first + batch < len(starts) else total
            done = min(total, max(following, out_start))
            if done > out_start:
                n = done - out_start
                yield acc[..., :n] / wsum[:n] * scale + mean / self.sources
                acc, wsum, out_start = acc[..., n:], wsum[n:], done
            keep_from = max(in_start, min(following, total))
            inbuf, in_start = inbuf[:, keep_from - in_start :], keep_from
            if progress:
                progress(out_start / total if total else 1.0)

    def _window(self, inbuf: np.ndarray, in_start: int, start: int, total: int) -> np.ndarray:
        """Frames [start, start + segment) of the song, zero outside it."""
        window = np.zeros((self.channels, self.segment), np.float32)
        lo, hi = max(start, 0), min(start + self.segment, total)
        if hi > lo:
            window[:, lo - start : hi - start] = inbuf[:, lo - in_start : hi - in_start]
        return window

    def _infer(self, chunks: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(chunks).to(self.device)
            y = self.model(x).float()
            if self.settings.soft_mask:
                y = soft_mask(y, x)
            return y.cpu().numpy()
