"""The Auto-EQ CNN: 3 s of a stem in, the three corrective gains (low, mid, high, in dB) out.

Four variants share one network (seed report §III.B); "stem-aware" and "full-band" each make
exactly one change to the seed, so each change is measured on its own, and the fourth makes both:

- "seed": exactly the seed's layout, so its checkpoint (`model2_mastering.pth`) loads:
  log-mel (`to_spec`) -> three blocks Conv2d 3x3 + BatchNorm + ReLU + MaxPool 2 (1->16->32->64,
  `cnn.0` ... `cnn.12`) -> AdaptiveAvgPool 4x4 -> Linear 1024->128 -> ReLU -> Linear 128->3
  (`head.1`, `head.3`); 155,107 parameters.
- "stem-aware": the same, plus a learned 128-value offset per stem added to the hidden layer
  (`stem_embedding`, equivalent to feeding a one-hot stem id to `head.1`): the right tonal
  balance of a bass is not that of a vocal, and a stem's name is free information at inference.
- "full-band": the seed's network on the full-band front end (64 mel bands over 20 Hz-16 kHz
  of the 44.1 kHz window, 4096-point FFT, 80 dB range; see `features`): the seed's 22.05 kHz
  input ends at 11 kHz, where the 10 kHz shelf has reached only about half its gain, and gives
  the 100 Hz shelf's region two or three FFT bins.
- "full-band-stems": both changes together (the full-band front end and the stem offset), since
  an estimator told the stem kind judges the damage better (`bench/eq_identifiability.py`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from stemdeck.eq.features import normalise_level, power_to_db, to_front_end_rate
from stemdeck.eq.restraint import Restraint

Variant = Literal["seed", "stem-aware", "full-band", "full-band-stems"]
VARIANTS: tuple[str, ...] = ("seed", "stem-aware", "full-band", "full-band-stems")
#: Stem names in StemDeck's (and MUSDB's) order; a stem's index is its id for the model.
STEMS: tuple[str, ...] = ("drums", "bass", "other", "vocals")


@dataclass(frozen=True)
class EqConfig:
    """Every Auto-EQ model knob.

    Attributes:
        variant: "seed" (the seed's exact layout), "stem-aware" (told which stem it hears),
            "full-band" (sees the whole spectrum in finer bins) or "full-band-stems" (both).
        level_norm: scale each window to -20 dBFS RMS before the mel. The seed did not; a
            checkpoint imported from the seed has it off.
        stems: stem names the model knows, in id order.
    """

    variant: Variant = "stem-aware"
    level_norm: bool = True
    stems: tuple[str, ...] = field(default=STEMS)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown Auto-EQ variant {self.variant!r}; use one of {VARIANTS}")
        if not self.stems:
            raise ValueError("an Auto-EQ model needs at least one stem name")

    @property
    def front_end(self) -> str:
        """Which log-mel front end the variant reads (see `features`)."""
        return "full-band" if self.variant.startswith("full-band") else "seed"

    @property
    def stem_aware(self) -> bool:
        """Whether the model is told which stem it hears (a learned offset per stem)."""
        return self.variant in ("stem-aware", "full-band-stems")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stems"] = list(self.stems)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EqConfig:
        data = dict(data)
        if "stems" in data:
            data["stems"] = tuple(data["stems"])
        return cls(**data)


def _block(channels_in: int, channels_out: int) -> list[nn.Module]:
    return [
        nn.Conv2d(channels_in, channels_out, kernel_size=3, padding=1),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(),
        nn.MaxPool2d(2),
    ]


class EqNet(nn.Module):
    """Windows (batch, 132300) of 44.1 kHz mono audio -> corrective gains (batch, 3) in dB."""

    def __init__(self, config: EqConfig | None = None) -> None:
        super().__init__()
        from stemdeck.eq.features import mel_spectrogram

        self.config = config or EqConfig()
        #: Post-hoc rules from the window predictions to a recommendation (its checkpoint's).
        self.restraint = Restraint()
        self.to_spec = mel_spectrogram(self.config.front_end)
        self.cnn = nn.Sequential(
            *_block(1, 16), *_block(16, 32), *_block(32, 64), nn.AdaptiveAvgPool2d((4, 4))
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 3))
        if self.config.stem_aware:
            # Starts at zero: an untrained stem offset leaves the seed network unchanged.
            self.stem_embedding = nn.Embedding(len(self.config.stems), 128)
            nn.init.zeros_(self.stem_embedding.weight)

    def features(self, windows: torch.Tensor) -> torch.Tensor:
        """The log-mel input (batch, 1, 64, frames) the CNN sees."""
        with torch.autocast(windows.device.type, enabled=False):  # fp32 even in bf16 training
            windows = to_front_end_rate(windows.float(), self.config.front_end)
            if self.config.level_norm:
                windows = normalise_level(windows)
            spec = self.to_spec(windows)
            return power_to_db(spec, self.config.front_end).unsqueeze(1)

    def forward(self, windows: torch.Tensor, stems: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.head[1](self.head[0](self.cnn(self.features(windows))))
        if self.config.stem_aware:
            if stems is None:
                raise ValueError("a stem-aware Auto-EQ model needs the stem id of each window")
            hidden = hidden + self.stem_embedding(stems)
        return self.head[3](self.head[2](hidden))

    def stem_id(self, stem: str) -> int:
        if stem not in self.config.stems:
            known = ", ".join(self.config.stems)
            raise ValueError(f"unknown stem {stem!r}; the model knows {known}")
        return self.config.stems.index(stem)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
