"""Separate one audio file into stem files: the Python API the CLI and the worker share."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from stemdeck.common.audio import AudioError, AudioWriter, iter_blocks, probe
from stemdeck.separator.checkpoints import LoadedModel
from stemdeck.separator.engine import ChunkSettings, StreamingSeparator

#: Shorter input is refused: it holds too little music to separate meaningfully.
MIN_SECONDS = 1.0
#: Frames read from the input at a time (10 s): the input side of the memory bound.
BLOCK_FRAMES = 441_000


@dataclass(frozen=True)
class OutputOptions:
    """What to write. `two_stems`: keep this stem and sum the rest into `no_<stem>`."""

    format: str = "wav"
    bit_depth: int = 16
    two_stems: str | None = None


@dataclass
class SeparationResult:
    track: str
    stems: dict[str, Path]
    duration: float
    seconds: float
    device: str
    model_sources: tuple[str, ...] = field(default_factory=tuple)
    soft_mask: bool = False

    @property
    def real_time_factor(self) -> float:
        return self.seconds / self.duration if self.duration else math.nan


def pick_device(requested: str | None = None) -> torch.device:
    """CUDA when present unless told otherwise; asking for CUDA without one is an error."""
    if requested in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but PyTorch sees no CUDA GPU here")
    return device


def track_name(path: Path) -> str:
    """'Artist - Song.stem.mp4' -> 'Artist - Song'."""
    name = path.name
    for suffix in (".stem.mp4", *(s for s in path.suffixes[-1:])):
        if name.lower().endswith(suffix.lower()):
            return name[: -len(suffix)] or name
    return name


def mixture_stats(path: Path, sample_rate: int, channels: int) -> tuple[float, float, int]:
    """Mean and standard deviation of the mono mix over the whole song, and its frame count.

    Every family StemDeck runs is normalised with these before the model, as its reference
    inference does (Demucs v2's `apply_model`, torchaudio's Hybrid Demucs tutorial); Hybrid
    Demucs also normalises each segment inside the network. One streaming pass computes them.
    """
    count, total, squares = 0, 0.0, 0.0
    for block in iter_blocks(path, BLOCK_FRAMES, sample_rate, channels):
        mono = block.mean(axis=0, dtype=np.float64)
        count += mono.size
        total += float(mono.sum())
        squares += float(np.square(mono).sum())
    if count == 0:
        raise AudioError(f"'{path.name}' contains no audio")
    mean = total / count
    variance = max(0.0, (squares - count * mean * mean) / max(count - 1, 1))
    return mean, math.sqrt(variance), count


class Separator:
    """A loaded model of any family on a device, ready to separate files one after another.

    Unset chunk settings take the model's own values: its segment length (2 s for the compact
    Conv-TasNet, 7.8 s for Hybrid Demucs) and its soft-mask default (`LoadedModel.soft_mask`).
    """

    def __init__(
        self, loaded: LoadedModel, device: str | None = None, chunks: ChunkSettings | None = None
    ) -> None:
        self.config = loaded.config
        self.family = loaded.family
        self.device = pick_device(device)
        self.model = loaded.model.to(self.device).eval()
        chunks = chunks or ChunkSettings()
        if chunks.segment is None:
            chunks = replace(chunks, segment=self.config.default_segment_seconds)
        if chunks.soft_mask is None:
            chunks = replace(chunks, soft_mask=loaded.soft_mask)
        self.chunks = chunks

    def output_names(self, options: OutputOptions) -> list[str]:
        if options.two_stems is None:
            return list(self.config.sources)
        if options.two_stems not in self.config.sources:
            raise ValueError(
                f"--two-stems {options.two_stems}: this model's stems are "
                f"{', '.join(self.config.sources)}"
            )
        return [options.two_stems, f"no_{options.two_stems}"]

    def separate_array(self, mixture: np.ndarray) -> np.ndarray:
        """(sources, channels, frames) stems of an in-memory (channels, frames) mixture at the
        model's rate, by the same chunked path as files (evaluation uses this)."""
        mono = mixture.mean(axis=0)
        engine = StreamingSeparator(
            self.model, len(self.config.sources), mixture.shape[0],
            self.config.sample_rate, self.chunks, self.device,
        )  # fmt: skip
        stems = engine.run([mixture.astype(np.float32)], mixture.shape[1], mono.mean(), mono.std())
        return np.concatenate(list(stems), axis=-1)

    def separate_file(
        self,
        path: Path,
        out_dir: Path,
        options: OutputOptions | None = None,
        progress: Callable[[float], None] | None = None,
        soft_mask: bool | None = None,
    ) -> SeparationResult:
        """Write OUT_DIR/<track>/<stem>.<ext> for each stem; all or nothing per stem file.
        `soft_mask` overrides this separator's post-filter setting for this file only."""
        options = options or OutputOptions()
        path = Path(path)
        names = self.output_names(options)
        info = probe(path)
        if info.duration < MIN_SECONDS:
            raise AudioError(
                f"'{path.name}' is {info.duration:.2f} s long; StemDeck needs at "
                f"least {MIN_SECONDS:g} s of audio to separate"
            )
        rate, channels = self.config.sample_rate, self.config.audio_channels
        began = time.perf_counter()
        mean, std, total = mixture_stats(path, rate, channels)
        chunks = self.chunks if soft_mask is None else replace(self.chunks, soft_mask=soft_mask)
        engine = StreamingSeparator(
            self.model, len(self.config.sources), channels, rate, chunks, self.device
        )
        target = Path(out_dir) / track_name(path)
        target.mkdir(parents=True, exist_ok=True)
        files = {name: target / f"{name}.{options.format}" for name in names}
        keep = self.config.sources.index(options.two_stems) if options.two_stems else None
        with ExitStack() as stack:
            writers = [
                stack.enter_context(
                    AudioWriter(files[n], rate, channels, options.format, options.bit_depth)
                )
                for n in names
            ]
            blocks = iter_blocks(path, BLOCK_FRAMES, rate, channels)
            for stems in engine.run(blocks, total, mean, std, progress):
                if keep is None:
                    parts = list(stems)
                else:
                    parts = [stems[keep], stems.sum(axis=0) - stems[keep]]
                for writer, part in zip(writers, parts, strict=True):
                    writer.write(part)
        return SeparationResult(
            track_name(path),
            files,
            total / rate,
            time.perf_counter() - began,
            str(self.device),
            self.config.sources,
            bool(chunks.soft_mask),
        )
