"""Hybrid Demucs (Défossez 2021) as a StemDeck model family, built by torchaudio.

torchaudio ships the architecture (`torchaudio.models.hdemucs_high`) and publishes two weight
files for it as plain state_dicts. StemDeck stores them converted (its own checkpoint format,
family `hdemucs`) and runs them through the same chunked engine as Conv-TasNet: only the segment
length differs (7.8 s, as torchaudio's Hybrid Demucs tutorial cuts songs).

A file is accepted only when its state_dict has exactly the layout `hdemucs_high` builds for its
sources: every key, shape and dtype. That is what tells a real weight file from a foreign one
when no published hash exists (torchaudio publishes none for these files).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import torch
from torch import nn

from stemdeck.common.audio import TARGET_RATE
from stemdeck.separator.config import DEFAULT_SOURCES

#: torchaudio's tutorial separates in 7.8 s segments (the length Hybrid Demucs was trained on).
SEGMENT_SECONDS = 7.8
#: Keys only Hybrid Demucs' state_dict has: how a plain torchaudio file is recognised.
MARKERS = ("freq_encoder.0.conv.weight", "time_encoder.0.conv.weight")


class HDemucsUnavailable(RuntimeError):
    """torchaudio is not installed (the serving core leaves it out)."""


@dataclass(frozen=True)
class HDemucsConfig:
    """What StemDeck needs to know about a Hybrid Demucs model beside its weights.

    Attributes:
        sources: stem names in output order (torchaudio's files: drums, bass, other, vocals).
        sample_rate: 44.1 kHz, the rate of MUSDB18-HQ it was trained on.
        audio_channels: stereo.
        segment: inference segment in seconds (7.8, torchaudio's tutorial).
        normalise: "song": the input is divided by the standard deviation of the whole song's
            mono mix and the stems multiplied back, as torchaudio's tutorial does (the network
            also normalises each segment inside itself).
    """

    family: ClassVar[str] = "hdemucs"
    sources: tuple[str, ...] = field(default=DEFAULT_SOURCES)
    sample_rate: int = TARGET_RATE
    audio_channels: int = 2
    segment: float = SEGMENT_SECONDS
    normalise: str = "song"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        if not self.sources:
            raise ValueError("Hybrid Demucs needs at least one source")
        if self.audio_channels != 2 or self.sample_rate != TARGET_RATE:
            raise ValueError("torchaudio's hdemucs_high is stereo at 44.1 kHz only")
        if self.segment <= 0:
            raise ValueError(f"segment must be positive seconds, got {self.segment}")

    @property
    def default_segment_seconds(self) -> float:
        return self.segment

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {
            "sources": list(self.sources)
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HDemucsConfig:
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown Hybrid Demucs settings: {', '.join(unknown)}")
        return cls(**data)


def _factory() -> Any:
    try:
        from torchaudio.models import hdemucs_high
    except ImportError as exc:
        raise HDemucsUnavailable(
            "Hybrid Demucs models need torchaudio, which this installation lacks: "
            "pip install 'stemdeck[hdemucs]'"
        ) from exc
    return hdemucs_high


def build(config: HDemucsConfig, device: str | torch.device | None = None) -> nn.Module:
    """A Hybrid Demucs; on the meta device it has shapes but no memory (for loading)."""
    factory = _factory()
    with torch.device(device or "cpu"):
        return factory(sources=list(config.sources))


def is_hdemucs_state(obj: Any) -> bool:
    return isinstance(obj, dict) and all(k in obj for k in MARKERS)


def source_count(state: dict[str, Any]) -> int:
    """Stems a Hybrid Demucs state_dict separates: its last time-decoder layer writes
    sources x 2 channels."""
    last = max(
        (int(m.group(1)) for k in state if (m := re.match(r"time_decoder\.(\d+)\.conv_tr\.", k))),
        default=None,
    )
    tensor = state.get(f"time_decoder.{last}.conv_tr.weight")
    if last is None or not isinstance(tensor, torch.Tensor) or tensor.dim() != 3:
        raise ValueError("no final time-decoder layer")
    return int(tensor.shape[1]) // 2


def layout_problems(state: dict[str, Any], model: nn.Module) -> list[str]:
    """What differs from `model`'s exact layout: missing, unexpected or misshapen entries, or
    another dtype (empty when the file fits)."""
    expected = {k: (tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}
    problems = [f"missing {k}" for k in expected if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in expected]
    for key, (shape, dtype) in expected.items():
        if key not in state:
            continue
        value = state[key]
        if not isinstance(value, torch.Tensor):
            problems.append(f"{key} is not a tensor")
        elif tuple(value.shape) != shape or value.dtype != dtype:
            problems.append(
                f"{key} is {list(value.shape)} {value.dtype}, expected {list(shape)} {dtype}"
            )
    return problems


def load(state: dict[str, Any], config: HDemucsConfig) -> tuple[nn.Module | None, list[str]]:
    """A ready model holding `state`'s tensors, or None and what is wrong with the layout.
    The model is built on the meta device and takes the file's tensors as they are, so loading
    costs no second copy of 330 MB and no random initialisation."""
    model = build(config, "meta")
    problems = layout_problems(state, model)
    if problems:
        return None, problems
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval(), []
