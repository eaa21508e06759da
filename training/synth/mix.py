"""Per-part mixing: level, pan, EQ, compression, distortion and reverb, before any summing.

Every effect acts on one part, parts sum into their stem, and the mixture is only ever the
sum of the stems, so the corpus's mixture equals the sum of its stems exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pedalboard as pb

from stemdeck.common.audio import TARGET_RATE

RATE = TARGET_RATE

# Typical RMS (dBFS, over the part's active frames) of each role before the master gain:
# drums and lead vocal on top, pads and doubles underneath, as in a pop/rock mix.
ROLE_LEVEL_DB = {
    "drums": -18.0,
    "bass": -20.0,
    "chords": -23.0,
    "pad": -26.0,
    "lead": -24.0,
    "guitar_distorted": -21.0,
    "vocal_lead": -19.0,
    "vocal_double": -26.0,
}


@dataclass(frozen=True)
class MixSettings:
    """What was done to one part; recorded in the track's metadata."""

    part: str
    role: str
    level_db: float
    pan: float
    effects: tuple[str, ...]


def active_rms_db(audio: np.ndarray, frame: int = RATE // 10) -> float:
    """RMS in dBFS over the louder half of 100 ms frames, so a part that rests for half the
    song is levelled by how loud it plays, not by its silences."""
    mono = audio.mean(0) if audio.ndim == 2 else audio
    count = mono.size // frame
    if count == 0:
        return -120.0
    power = np.mean(mono[: count * frame].reshape(count, frame) ** 2, axis=1)
    loud = np.sort(power)[count // 2 :]
    return 10 * math.log10(max(float(loud.mean()), 1e-12))


def pan_stereo(audio: np.ndarray, pan: float) -> np.ndarray:
    """Constant-power pan of a (2, frames) signal; 0 is centre (unity), ±1 hard left/right."""
    angle = (pan + 1) * math.pi / 4
    gains = np.array([math.cos(angle), math.sin(angle)], dtype=np.float32) * math.sqrt(2)
    return audio * gains[:, None]


def _chain(role: str, genre: str, rng: np.random.Generator) -> tuple[pb.Pedalboard, list[str]]:
    """The effect chain of a role, with parameters drawn from `rng`."""

    def u(low: float, high: float) -> float:
        return float(rng.uniform(low, high))

    effects: list[pb.Plugin] = [pb.HighpassFilter(u(25, 40) if role != "bass" else 25.0)]
    if role == "guitar_distorted":
        effects += [
            pb.HighpassFilter(u(80, 120)),
            pb.Distortion(drive_db=u(18, 30) if genre == "metal" else u(12, 22)),
            pb.PeakFilter(u(400, 800), gain_db=u(-4, -1), q=1.0),
            pb.LowpassFilter(u(5500, 8000)),
        ]
    if role == "bass":
        effects += [pb.LowpassFilter(u(2500, 6000))]
        if genre in ("rock", "metal") and rng.random() < 0.5:
            effects += [pb.Distortion(drive_db=u(3, 8))]
    if role.startswith("vocal"):
        effects += [pb.HighpassFilter(u(80, 120)), pb.PeakFilter(u(2500, 4000), u(1, 4), 1.0)]
    effects += [
        pb.LowShelfFilter(u(80, 200), gain_db=u(-3, 3)),
        pb.PeakFilter(u(300, 3000), gain_db=u(-3, 3), q=u(0.7, 1.5)),
        pb.HighShelfFilter(u(5000, 10000), gain_db=u(-3, 3)),
    ]
    if role in ("drums", "bass", "vocal_lead", "vocal_double", "guitar_distorted", "lead"):
        effects += [pb.Compressor(threshold_db=u(-30, -22), ratio=u(2.5, 5), attack_ms=u(3, 20),
                                  release_ms=u(60, 200))]  # fmt: skip
    wet = {"drums": (0.04, 0.12), "bass": (0.0, 0.03), "pad": (0.2, 0.4)}.get(role, (0.1, 0.3))
    if genre in ("classical", "jazz"):
        wet = (wet[0] + 0.05, wet[1] + 0.1)
    effects += [pb.Reverb(room_size=u(0.3, 0.85), damping=u(0.3, 0.7), wet_level=u(*wet),
                          dry_level=1.0 - wet[1] / 2, width=u(0.6, 1.0))]  # fmt: skip
    names = [type(e).__name__ for e in effects]
    return pb.Pedalboard(effects), names


def _pan_for(role: str, rng: np.random.Generator) -> float:
    if role in ("drums", "bass", "vocal_lead"):
        return 0.0
    if role == "vocal_double":
        return float(rng.choice([-1, 1]) * rng.uniform(0.2, 0.5))
    return float(rng.uniform(-0.7, 0.7))


def mix_part(
    audio: np.ndarray, name: str, role: str, genre: str, rng: np.random.Generator
) -> tuple[np.ndarray, MixSettings]:
    """The part's (2, frames) float32 audio after its chain, pan and level."""
    if audio.ndim == 1:
        audio = np.stack([audio, audio])
    board, effects = _chain(role, genre, rng)
    pan = _pan_for(role, rng)
    level = ROLE_LEVEL_DB.get(role, -24.0) + float(rng.uniform(-2.5, 2.5))
    # Into the chain at a known level, so compressor thresholds mean the same for every part.
    pre = 10 ** ((-20.0 - active_rms_db(audio)) / 20) if np.any(audio) else 1.0
    out = board(np.ascontiguousarray(audio * pre, dtype=np.float32), RATE)
    out = pan_stereo(out, pan)
    if np.any(out):
        out *= 10 ** ((level - active_rms_db(out)) / 20)
    return out.astype(np.float32), MixSettings(name, role, round(level, 2), round(pan, 3),
                                               tuple(effects))  # fmt: skip
