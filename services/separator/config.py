"""Conv-TasNet hyper-parameters: the one place that names every configuration StemDeck uses."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from stemdeck.common.audio import TARGET_RATE

#: Demucs v2 order; a checkpoint carries its own list, this is only the default.
DEFAULT_SOURCES = ("drums", "bass", "other", "vocals")

Norm = Literal["gLN", "cLN", "BN"]
MaskNonlinearity = Literal["relu", "sigmoid", "softmax"]
EncoderKind = Literal["learned", "stft"]


@dataclass(frozen=True)
class TasNetConfig:
    """Every Conv-TasNet knob (Luo & Mesgarani 2019; names follow the paper and Demucs v2).

    Attributes:
        encoder: "learned" (Conv-TasNet's trained filterbank, Demucs v2's layout) or "stft"
            (fixed STFT frames: the masker reads log magnitudes, masks the complex mixture
            spectrum, and the decoder is the inverse STFT). Default "learned".
        N: encoder filters (latent channels). Default 256. For "stft" it is derived: both
            channels' bins up to `max_freq`, so the masker sees audio_channels * bins rows.
        L: encoder kernel length in samples (the STFT window for "stft"). Default 20.
        hop: frame hop in samples. The learned encoder's is always L // 2 (None); the STFT
            encoder's is set explicitly (e.g. 1024: 43 frames a second at 44.1 kHz).
        max_freq: highest frequency (Hz) whose bins the STFT masker reads and masks; the bins
            above it take the mask of the highest one. Default 16000 (the band codecs keep).
        B: bottleneck channels of the temporal conv net. Default 256.
        H: channels inside each conv block. Default 512.
        P: depthwise kernel size. Default 3.
        X: conv blocks per repeat, dilations 2**0 .. 2**(X-1). Default 8.
        R: repeats of the X blocks. Default 4.
        norm: "gLN" (global), "cLN" (channel-wise) or "BN" inside the blocks. Default "gLN".
        mask_nonlinear: "relu" (Demucs), "sigmoid", or "softmax" across sources (the masks
            sum to one, so the stems add up to the input). Default "relu".
        sources: names of the separated stems, in output order.
        audio_channels: 2 for stereo in and out.
        sample_rate: rate the model was trained at, in Hz.
    """

    N: int = 256
    L: int = 20
    B: int = 256
    H: int = 512
    P: int = 3
    X: int = 8
    R: int = 4
    norm: Norm = "gLN"
    mask_nonlinear: MaskNonlinearity = "relu"
    sources: tuple[str, ...] = field(default=DEFAULT_SOURCES)
    audio_channels: int = 2
    sample_rate: int = TARGET_RATE
    encoder: EncoderKind = "learned"
    hop: int | None = None
    max_freq: float = 16000.0

    def __post_init__(self) -> None:
        for name in ("N", "L", "B", "H", "P", "X", "R", "audio_channels", "sample_rate"):
            if getattr(self, name) < 1:
                raise ValueError(f"Conv-TasNet {name} must be positive, got {getattr(self, name)}")
        if self.L % 2:
            raise ValueError(f"Conv-TasNet L must be even (stride is L/2), got {self.L}")
        if self.encoder == "learned":
            if self.hop not in (None, self.L // 2):
                raise ValueError(f"the learned encoder's hop is L/2={self.L // 2}, not {self.hop}")
        elif self.encoder == "stft":
            if self.hop is None or not 0 < self.hop <= self.L:
                raise ValueError(f"the STFT encoder needs a hop in 1..L={self.L}, got {self.hop}")
            if not 0 < self.max_freq <= self.sample_rate / 2:
                raise ValueError(f"max_freq must be in (0, {self.sample_rate / 2}] Hz")
            object.__setattr__(self, "N", self.audio_channels * self.stft_bins)
        else:
            raise ValueError(f"unknown encoder {self.encoder!r}: learned or stft")
        if self.norm not in ("gLN", "cLN", "BN"):
            raise ValueError(f"unknown norm {self.norm!r}: use gLN, cLN or BN")
        if self.mask_nonlinear not in ("relu", "sigmoid", "softmax"):
            raise ValueError(
                f"unknown mask non-linearity {self.mask_nonlinear!r}: relu, sigmoid or softmax"
            )
        if not self.sources:
            raise ValueError("Conv-TasNet needs at least one source")
        object.__setattr__(self, "sources", tuple(self.sources))

    @property
    def stride(self) -> int:
        """Samples between encoder frames."""
        return self.hop if self.hop is not None else self.L // 2

    @property
    def stft_bins(self) -> int:
        """STFT bins the masker reads: 0 Hz up to and including `max_freq`."""
        return min(self.L // 2 + 1, int(self.max_freq * self.L / self.sample_rate) + 1)

    @property
    def receptive_field_seconds(self) -> float:
        """Context one output frame sees: grows with R and X, the lever for bass and other."""
        frames = 1 + self.R * (self.P - 1) * (2**self.X - 1)
        return (frames * self.stride + self.L) / self.sample_rate

    @property
    def default_segment_seconds(self) -> float:
        """Inference segment. Learned encoder: at least 2 s and four receptive fields; short
        segments stay in the CPU's cache (the compact model ran 2.2x faster per second of audio
        at 2 s than at 4 s on the 2-core machine: 0.069 vs 0.152 s/s). STFT encoder: its
        receptive field (about 24 s) outgrows any training example (the real previews are
        6.8 s), so segments are a few training lengths long: 12 s, overlapped by a quarter."""
        if self.encoder == "stft":
            return 12.0
        return max(2.0, round(4 * self.receptive_field_seconds, 1))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sources"] = list(self.sources)
        if self.encoder == "learned":  # files of the learned encoder keep their original keys
            for key in ("encoder", "hop", "max_freq"):
                data.pop(key)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TasNetConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown Conv-TasNet settings: {', '.join(unknown)}")
        return cls(**data)


#: Named configurations. "spectral", the bundled default since issue #20, is the temporal conv
#: net on STFT frames (4096-point window, hop 1024: 43 frames a second, about 24 s of context)
#: with softmax masks over the complex mixture spectrum; it separates at a real-time factor of
#: about 0.06 on a 2-core CPU. "compact" (learned 20-sample encoder) was the default before it,
#: at about 0.3 (DESIGN.md §3.1). "seed" is the size the
#: seed report trained with Demucs v2 (8.85 M parameters); "demucs_tasnet" is the size of
#: Demucs v2's official pretrained `tasnet` / `tasnet_extra` weights (10.98 M parameters).
PRESETS: dict[str, TasNetConfig] = {
    "compact": TasNetConfig(N=128, B=128, H=256, X=8, R=2),
    "seed": TasNetConfig(),
    "demucs_tasnet": TasNetConfig(X=10),
    "spectral": TasNetConfig(
        encoder="stft",
        L=4096,
        hop=1024,
        max_freq=16000.0,
        B=128,
        H=256,
        X=8,
        R=2,
        mask_nonlinear="softmax",
    ),
}


def load_config(spec: str) -> TasNetConfig:
    """A preset's name, or the path of a JSON file of TasNetConfig fields (a custom size)."""
    if spec in PRESETS or not spec.endswith(".json"):
        return preset(spec)
    path = Path(spec)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"no configuration file at {path}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object of Conv-TasNet settings")
    try:
        return TasNetConfig.from_dict(data)
    except TypeError as exc:
        raise ValueError(f"{path}: {exc}") from None


def preset(name: str) -> TasNetConfig:
    """A named configuration, with a message listing the names when it is unknown."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown Conv-TasNet configuration {name!r}; known: {', '.join(PRESETS)}, "
            "or a .json file of settings"
        ) from None
