"""Training excerpts drawn from one or more multitrack datasets, remixed on the fly.

Each example picks a dataset by weight (e.g. real MUSDB previews and a synthetic corpus at
50/50), then Demucs-style augmentation: every source is cut from a random track of that dataset
at a random offset, with a random gain (0.25-1.25), channel swap and sign flip, so a few dozen
songs give endless distinct mixtures. All randomness comes from one torch.Generator, so saving
its state is enough to resume a run exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from stemdeck.training.datasets import DatasetError
from stemdeck.training.musdb import SOURCES, TrackRef, find_tracks

#: An example whose stems all stay below this peak is drawn again (up to `_TRIES` times):
#: a silent mixture teaches nothing and its normalisation divides by ~0.
SILENCE = 1e-4
_TRIES = 8


def open_split(root: Path | str, split: str) -> list[TrackRef]:
    """The tracks of one split with every source probed now, so a bad file fails before
    training starts rather than hours into it."""
    refs = find_tracks(root, split)
    for ref in refs:
        _ = ref.frames
    return refs


def validation_roots(roots: Sequence[Path | str]) -> list[Path | str]:
    """The datasets whose `valid` tracks choose checkpoints: the first alone, so a mixed-in
    corpus (synthetic songs, shifted copies) trains but never chooses (separator and Auto-EQ)."""
    return list(roots[:1])


def validation_tracks(roots: Sequence[Path | str]) -> list[TrackRef]:
    """The separator's fixed validation set: the `valid` tracks of `validation_roots`."""
    return [ref for root in validation_roots(roots) for ref in open_split(root, "valid")]


class ExcerptSampler:
    """Random remixed training segments from weighted datasets (lists of tracks)."""

    def __init__(
        self, datasets: Sequence[Sequence[TrackRef]], weights: Sequence[float] | None = None
    ) -> None:
        if not datasets or any(not tracks for tracks in datasets):
            raise DatasetError("every dataset given to the sampler needs at least one track")
        weights = [1.0] * len(datasets) if weights is None else [float(w) for w in weights]
        if len(weights) != len(datasets):
            raise ValueError(f"{len(weights)} weights for {len(datasets)} datasets")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(f"dataset weights must be >= 0 with a positive sum, not {weights}")
        self.datasets = [list(tracks) for tracks in datasets]
        self.weights = torch.tensor(weights, dtype=torch.float64) / sum(weights)

    def sample(
        self, batch: int, frames: int, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, sources, 2, frames) float32 stems and, per example, the dataset index."""
        out = torch.empty(batch, len(SOURCES), 2, frames)
        origin = torch.multinomial(self.weights, batch, replacement=True, generator=gen)
        for b in range(batch):
            tracks = self.datasets[int(origin[b])]
            for _ in range(_TRIES):
                pieces = [self._excerpt(tracks, s, frames, gen) for s in SOURCES]
                if max(float(p.abs().max()) for p in pieces) > SILENCE:
                    break
            for s, piece in enumerate(pieces):
                out[b, s] = self._augment(piece, gen)
        return out, origin

    @staticmethod
    def _excerpt(
        tracks: list[TrackRef], source: str, frames: int, gen: torch.Generator
    ) -> torch.Tensor:
        track = tracks[_pick(len(tracks), gen)]
        start = _pick(max(1, track.frames - frames + 1), gen)
        piece = torch.from_numpy(track.read(source, start, frames))
        return F.pad(piece, (0, frames - piece.shape[-1]))

    @staticmethod
    def _augment(piece: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        gain = 0.25 + torch.rand(1, generator=gen).item()
        if _pick(2, gen):
            piece = piece.flip(0)
        if _pick(2, gen):
            piece = -piece
        return piece * gain


def _pick(high: int, gen: torch.Generator) -> int:
    return int(torch.randint(high, (1,), generator=gen))
