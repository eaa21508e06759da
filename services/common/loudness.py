"""Integrated loudness (ITU-R BS.1770-4, LUFS) and sample peak, measured while streaming.

pyloudnorm needs the whole signal in memory; a ten-minute stereo stem is 200 MB of float32, and
the separator worker measures four of them. This meter takes blocks as they are written: the
K-weighting filters come from pyloudnorm (its `IIRfilter`, same coefficients as its `Meter`),
filter state carries across blocks, and energy is kept per 100 ms hop, so memory is a few
floats per second of audio. The gating is BS.1770-4's: 400 ms blocks with 75 % overlap, an
absolute gate at -70 LUFS and a relative gate 10 LU below the gated mean.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.signal
from pyloudnorm import IIRfilter

BLOCK_SECONDS = 0.4
HOP_SECONDS = 0.1
ABSOLUTE_GATE = -70.0


def k_weighting(rate: int) -> list[IIRfilter]:
    """BS.1770's two stages (head shelf, RLB high-pass), as pyloudnorm's Meter defines them."""
    return [
        IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, rate, "high_shelf"),
        IIRfilter(0.0, 0.5, 38.0, rate, "high_pass"),
    ]


class LoudnessMeter:
    """Feed (channels, frames) blocks with `add`; read `integrated_lufs` and `peak_dbfs`."""

    def __init__(self, rate: int, channels: int) -> None:
        self.rate, self.channels = rate, channels
        self.stages = k_weighting(rate)
        self.states = [np.zeros((channels, max(len(s.a), len(s.b)) - 1)) for s in self.stages]
        self.hop = rate * HOP_SECONDS
        self.hop_energy: list[float] = []  # summed squared K-weighted samples per 100 ms hop
        self.partial = 0.0
        self.partial_frames = 0
        self.frames = 0
        self.peak = 0.0

    def add(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float64)
        if block.shape[-1] == 0:
            return
        self.peak = max(self.peak, float(np.max(np.abs(block))))
        weighted = block
        for index, stage in enumerate(self.stages):
            weighted, self.states[index] = scipy.signal.lfilter(
                stage.b, stage.a, weighted, axis=-1, zi=self.states[index]
            )
            weighted = weighted * stage.passband_gain
        energy = np.square(weighted).sum(axis=0)  # channel weights are 1 for L and R
        self._accumulate(energy)
        self.frames += block.shape[-1]

    def _accumulate(self, energy: np.ndarray) -> None:
        position = 0
        while position < energy.size:
            room = round(self.hop) - self.partial_frames
            take = min(room, energy.size - position)
            self.partial += float(energy[position : position + take].sum())
            self.partial_frames += take
            position += take
            if self.partial_frames == round(self.hop):
                self.hop_energy.append(self.partial)
                self.partial, self.partial_frames = 0.0, 0

    @property
    def peak_dbfs(self) -> float:
        return 20 * math.log10(self.peak) if self.peak > 0 else -math.inf

    @property
    def integrated_lufs(self) -> float:
        """Gated loudness; -inf for silence or audio shorter than one 400 ms block."""
        seconds = self.frames / self.rate
        if seconds < BLOCK_SECONDS:
            return -math.inf
        hops = [*self.hop_energy, self.partial]
        per_block = round(BLOCK_SECONDS / HOP_SECONDS)
        count = round((seconds - BLOCK_SECONDS) / HOP_SECONDS) + 1
        padded = np.array(hops + [0.0] * per_block)
        blocks = np.array([padded[j : j + per_block].sum() for j in range(count)])
        mean_square = blocks / (BLOCK_SECONDS * self.rate)
        with np.errstate(divide="ignore"):
            loudness = -0.691 + 10 * np.log10(mean_square)
        gated = mean_square[loudness >= ABSOLUTE_GATE]
        if gated.size == 0:
            return -math.inf
        relative = -0.691 + 10 * math.log10(gated.mean()) - 10
        kept = mean_square[(loudness > relative) & (loudness > ABSOLUTE_GATE)]
        if kept.size == 0:
            return -math.inf
        return -0.691 + 10 * math.log10(kept.mean())
