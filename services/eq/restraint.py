"""From a stem's per-window predictions to a recommendation that does no harm.

The network judges each 3 s window against what stems of its kind usually sound like; on a
stem that needs nothing it still names gains of a few dB, because a stem's own tone and a
small EQ look alike. What a user meets most often is such a stem, so the recommendation is
held back after the median of the windows, by rules whose constants travel with the model
(checkpoint metadata `restraint`), in this order:

1. per-stem prior: a per-stem, per-band offset is removed (the model's mean judgement of clean
   stems of that kind) and the result scaled by a per-stem, per-band factor in [0, 1] (the
   posterior-mean weight tau^2 / (tau^2 + sigma^2) of a zero-mean prior on the correction);
2. spread shrink: each band moves toward 0 by `spread_shrink` times its spread across windows
   (windows that disagree are a guess, not a finding);
3. dead zone: a band whose gain is smaller than `dead_zone_db` is left flat.

Every constant is 0 / 1 by default, which returns the plain median.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stemdeck.eq.filters import BAND_NAMES, GAIN_LIMIT_DB

_ZERO = (0.0, 0.0, 0.0)
_ONE = (1.0, 1.0, 1.0)


def _triple(values: Any, name: str) -> tuple[float, float, float]:
    out = tuple(float(v) for v in values)
    if len(out) != len(BAND_NAMES) or not np.isfinite(out).all():
        raise ValueError(f"{name} needs {len(BAND_NAMES)} finite values (low, mid, high)")
    return out[0], out[1], out[2]


@dataclass(frozen=True)
class Restraint:
    """Constants of the post-hoc rules (see the module docstring); the defaults do nothing.

    Attributes:
        stem_offset_db: per stem, (low, mid, high) subtracted from the median.
        stem_scale: per stem, (low, mid, high) factors in [0, 1] applied after the offset.
        spread_shrink: k in gain -> sign(gain) * max(|gain| - k * spread, 0).
        dead_zone_db: gains with |gain| below this become 0.
    """

    stem_offset_db: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    stem_scale: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    spread_shrink: float = 0.0
    dead_zone_db: float = 0.0

    def __post_init__(self) -> None:
        if self.spread_shrink < 0 or self.dead_zone_db < 0:
            raise ValueError("spread_shrink and dead_zone_db must be >= 0")
        for name, values in self.stem_scale.items():
            if not all(0.0 <= v <= 1.0 for v in _triple(values, f"stem_scale[{name}]")):
                raise ValueError(f"stem_scale[{name}] factors must lie in [0, 1]")
        for name, values in self.stem_offset_db.items():
            _triple(values, f"stem_offset_db[{name}]")

    @property
    def active(self) -> bool:
        return bool(
            self.stem_offset_db or self.stem_scale or self.spread_shrink or self.dead_zone_db
        )

    def apply(self, median: np.ndarray, spread: np.ndarray | None, stem: str) -> np.ndarray:
        """The recommendation (3,) from a stem's median (3,) and spread (3,) or None, clamped
        to +-15 dB."""
        gains = np.asarray(median, dtype=np.float64) - np.array(
            self.stem_offset_db.get(stem, _ZERO)
        )
        gains = gains * np.array(self.stem_scale.get(stem, _ONE))
        if self.spread_shrink and spread is not None:
            room = np.maximum(np.abs(gains) - self.spread_shrink * np.asarray(spread), 0.0)
            gains = np.sign(gains) * room
        gains = np.where(np.abs(gains) < self.dead_zone_db, 0.0, gains)
        return np.clip(gains, -GAIN_LIMIT_DB, GAIN_LIMIT_DB)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stem_offset_db": {k: list(v) for k, v in self.stem_offset_db.items()},
            "stem_scale": {k: list(v) for k, v in self.stem_scale.items()},
            "spread_shrink": self.spread_shrink,
            "dead_zone_db": self.dead_zone_db,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Restraint:
        data = dict(data or {})
        return cls(
            stem_offset_db={
                k: _triple(v, f"stem_offset_db[{k}]")
                for k, v in (data.get("stem_offset_db") or {}).items()
            },
            stem_scale={
                k: _triple(v, f"stem_scale[{k}]") for k, v in (data.get("stem_scale") or {}).items()
            },
            spread_shrink=float(data.get("spread_shrink", 0.0)),
            dead_zone_db=float(data.get("dead_zone_db", 0.0)),
        )
