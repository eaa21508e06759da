"""Auto-EQ training examples: clean stem windows, damaged on the fly by the shared EQ.

Clean windows are cut once from the stems of MUSDB-layout datasets (drums, bass, other, vocals;
silent windows rejected) and kept in memory as mono 44.1 kHz, the rate every model takes. Each
time one is drawn it gets new random gains in [-10, +10] dB per band, applied with
`stemdeck.eq.filters.apply_eq` at 44.1 kHz (the rate a mixer runs at, where a 10 kHz shelf is
not squeezed against Nyquist). The target is the inverse gain. A short pre-roll lets the filters
settle, as they have in a whole stem, before the 3 s the model sees. A share of the training
windows can be left undamaged (target 0 dB). Training windows then pass through `deliver`,
which gives some of them what a real file adds after the EQ (a noise floor, a codec's
low-pass); validation windows do not, so they are scored as `eval eq` scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stemdeck.eq.features import MODEL_RATE, SILENCE_DB, WINDOW_FRAMES, rms_db, window_starts
from stemdeck.eq.filters import DAMAGE_RANGE_DB, apply_eq
from stemdeck.eq.model import STEMS
from stemdeck.training.musdb import find_tracks

SOURCE_RATE = MODEL_RATE
PREROLL = round(0.2 * MODEL_RATE)
POSTROLL = round(0.05 * MODEL_RATE)
CORE = WINDOW_FRAMES
#: Samples of one stored clean window at 44.1 kHz: pre-roll, the 3 s core, post-roll.
SEGMENT = PREROLL + CORE + POSTROLL
#: Share of training windows given a white noise floor, and its level under the window's RMS.
NOISE_SHARE = 0.5
NOISE_BELOW_DB = (60.0, 100.0)
#: Share of training windows low-passed like a lossy codec, and the cut-off range in Hz.
LOWPASS_SHARE = 0.3
LOWPASS_HZ = (11000.0, 20000.0)
LOWPASS_TAPER_HZ = 500.0


@dataclass
class WindowBank:
    """Clean training windows: audio (n, SEGMENT) float32 mono at 44.1 kHz, each window's stem
    id (index in STEMS) and dataset index, and a "track/stem" label per window."""

    audio: torch.Tensor
    stems: torch.Tensor
    dataset: torch.Tensor
    labels: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> dict[str, int]:
        return {name: int((self.stems == i).sum()) for i, name in enumerate(STEMS)}


def _loud(core: np.ndarray) -> bool:
    power = float(np.mean(core.astype(np.float64) ** 2))
    return 10 * np.log10(max(power, 1e-20)) > SILENCE_DB


def collect_windows(
    roots: Sequence[Path | str],
    split: str,
    per_stem: int,
    seed: int,
    log: Callable[[str], None] = print,
) -> WindowBank:
    """Up to `per_stem` non-silent windows of every stem of every `split` track of `roots`,
    from non-overlapping slots chosen at random (the same ones for the same seed)."""
    rng = np.random.default_rng(seed)
    audio: list[np.ndarray] = []
    stems: list[int] = []
    dataset: list[int] = []
    labels: list[str] = []
    for index, root in enumerate(roots):
        tracks = find_tracks(root, split)
        count = len(tracks)
        kept = 0
        while tracks:  # popped, so a decoded .stem.mp4 is freed once its windows are cut
            track = tracks.pop(0)
            starts = window_starts(track.frames, CORE, SEGMENT)
            for stem_id, stem in enumerate(STEMS):
                taken = 0
                for start in rng.permutation(starts).tolist() if starts else []:
                    if taken == per_stem:
                        break
                    piece = track.read(stem, start, SEGMENT).mean(axis=0, dtype=np.float32)
                    if piece.shape[-1] < SEGMENT or not _loud(piece[PREROLL : PREROLL + CORE]):
                        continue
                    audio.append(piece)
                    stems.append(stem_id)
                    dataset.append(index)
                    labels.append(f"{track.name}/{stem}")
                    taken += 1
                kept += taken
        log(f"{root} ({split}): {count} tracks, {kept} non-silent stem windows")
    if not audio:
        empty = torch.zeros(0, dtype=torch.long)
        return WindowBank(torch.zeros(0, SEGMENT), empty, empty.clone(), [])
    return WindowBank(
        torch.from_numpy(np.stack(audio)),
        torch.tensor(stems, dtype=torch.long),
        torch.tensor(dataset, dtype=torch.long),
        labels,
    )


def random_gains(count: int, gen: torch.Generator) -> torch.Tensor:
    """(count, 3) damage gains, uniform in [-10, +10] dB per band."""
    return (torch.rand(count, 3, generator=gen, dtype=torch.float64) * 2 - 1) * DAMAGE_RANGE_DB


def deliver(windows: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
    """Damaged (n, frames) windows as a file would bring them, each decided by its own seed:
    about half get white noise 60-100 dB under their RMS (a recording's hiss, a 16-bit file's
    quantisation), about a third a low-pass at 11-20 kHz (MP3 cuts at 16-17 kHz, AAC at 19-20).
    The targets stay the same: the model has to recommend the EQ despite how the stem arrived,
    instead of reading the delivery as tone (the failure that a 16-bit WAV exposed)."""
    out = windows.clone()
    freqs = torch.fft.rfftfreq(windows.shape[-1], 1 / SOURCE_RATE, dtype=torch.float64)
    for row, seed in enumerate(seeds.tolist()):
        gen = torch.Generator().manual_seed(seed)
        noise_roll, below, cut_roll, cut = torch.rand(4, generator=gen, dtype=torch.float64)
        if cut_roll < LOWPASS_SHARE:
            cutoff = LOWPASS_HZ[0] + float(cut) * (LOWPASS_HZ[1] - LOWPASS_HZ[0])
            edge = ((freqs - cutoff) / LOWPASS_TAPER_HZ).clamp(0.0, 1.0)
            spectrum = torch.fft.rfft(out[row].double()) * torch.cos(edge * torch.pi / 2)
            out[row] = torch.fft.irfft(spectrum, n=windows.shape[-1]).float()
        if noise_roll < NOISE_SHARE:
            level_db = float(rms_db(out[row])) - (
                NOISE_BELOW_DB[0] + float(below) * (NOISE_BELOW_DB[1] - NOISE_BELOW_DB[0])
            )
            noise = torch.randn(windows.shape[-1], generator=gen) * 10.0 ** (level_db / 20.0)
            out[row] = out[row] + noise
    return out


def damage(segments: torch.Tensor, gains_db: torch.Tensor) -> torch.Tensor:
    """(n, WINDOW_FRAMES) windows of clean (n, SEGMENT) 44.1 kHz segments, each run through the
    EQ with its own gains (n, 3), pre- and post-roll cut off."""
    filtered = apply_eq(segments, SOURCE_RATE, gains_db)
    return filtered[:, PREROLL : PREROLL + CORE].float().contiguous()


class ExampleSampler:
    """Draws (window index, damage gains, delivery seed) per example: datasets by weight, then
    a window of the chosen dataset uniformly; a share `undamaged_share` of the examples keeps
    0 dB gains (target 0: most stems a user brings need nothing, and a model that never saw an
    undamaged stem reads a stem's own tone as damage). Only the draw touches the generator, so
    batches can be built in a helper thread without changing what a seed produces."""

    def __init__(
        self,
        bank: WindowBank,
        weights: Sequence[float] | None = None,
        undamaged_share: float = 0.0,
    ) -> None:
        if not 0.0 <= undamaged_share < 1.0:
            raise ValueError(f"the undamaged share must lie in [0, 1), not {undamaged_share}")
        self.undamaged_share = undamaged_share
        datasets = int(bank.dataset.max()) + 1 if len(bank) else 0
        if not len(bank):
            raise ValueError("no training windows: every stem of every track is silent")
        weights = [1.0] * datasets if weights is None else [float(w) for w in weights]
        if len(weights) != datasets:
            raise ValueError(f"{len(weights)} weights for {datasets} datasets")
        self.members = [torch.nonzero(bank.dataset == d).flatten() for d in range(datasets)]
        usable = [w if len(m) else 0.0 for w, m in zip(weights, self.members, strict=True)]
        if any(w < 0 for w in usable) or sum(usable) <= 0:
            raise ValueError(f"dataset weights must be >= 0 with a positive sum, not {weights}")
        self.weights = torch.tensor(usable, dtype=torch.float64) / sum(usable)
        self.bank = bank

    def draw(
        self, batch: int, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        origin = torch.multinomial(self.weights, batch, replacement=True, generator=gen)
        index = torch.empty(batch, dtype=torch.long)
        for b, d in enumerate(origin.tolist()):
            members = self.members[d]
            index[b] = members[int(torch.randint(len(members), (1,), generator=gen))]
        gains = random_gains(batch, gen)
        if self.undamaged_share:  # drawn only then, so earlier runs' seeds draw as before
            gains[torch.rand(batch, generator=gen) < self.undamaged_share] = 0.0
        return index, gains, torch.randint(2**62, (batch,), generator=gen)

    def build(
        self, index: torch.Tensor, gains: torch.Tensor, seeds: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training examples: damaged, then delivered (see `deliver`)."""
        windows, stems, targets = build_examples(self.bank, index, gains)
        return deliver(windows, seeds), stems, targets


def build_examples(
    bank: WindowBank, index: torch.Tensor, gains: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Damaged windows, their stem ids, and the targets (the inverse gains, float32)."""
    windows = damage(bank.audio[index], gains)
    return windows, bank.stems[index], (-gains).float()


def fixed_examples(bank: WindowBank, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One seeded damage per window, the same on every call: a validation set."""
    gains = random_gains(len(bank), torch.Generator().manual_seed(seed))
    return build_examples(bank, torch.arange(len(bank)), gains)
