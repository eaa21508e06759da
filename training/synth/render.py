"""One song from score to exact stems: instruments through FluidSynth, voices through the
singing synthesisers, each part through its mix chain, then one master gain for all stems."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from stemdeck.training.synth.fluid import RATE, FontSynth
from stemdeck.training.synth.mix import MixSettings, mix_part
from stemdeck.training.synth.score import STEMS, Song
from stemdeck.training.synth.soundsets import SoundSet

FADE_SECONDS = 0.01  # clicks at the cut ends would be the same in every stem: avoid them
PEAK_CEILING = 0.891  # -1 dBFS for the mixture and for every stem


@dataclass
class RenderedSong:
    """Stems as (2, frames) float32 at 44.1 kHz and how they were made."""

    stems: dict[str, np.ndarray]
    fonts: dict[str, str]
    mix: list[MixSettings]
    master_gain_db: float

    @property
    def mixture(self) -> np.ndarray:
        return np.sum([self.stems[s] for s in STEMS], axis=0, dtype=np.float32)

    def metadata(self) -> dict:
        return {
            "fonts": self.fonts,
            "mix": [asdict(m) for m in self.mix],
            "master_gain_db": round(self.master_gain_db, 2),
        }


def _fit(audio: np.ndarray, frames: int) -> np.ndarray:
    """Trim or zero-pad (…, n) to `frames` samples, with short fades at both ends."""
    out = np.zeros((*audio.shape[:-1], frames), dtype=np.float32)
    n = min(frames, audio.shape[-1])
    out[..., :n] = audio[..., :n]
    fade = int(FADE_SECONDS * RATE)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    out[..., :fade] *= ramp
    out[..., -fade:] *= ramp[::-1]
    return out


def render_song(
    song: Song, sound_set: SoundSet, seconds: float, rng: np.random.Generator
) -> RenderedSong:
    """Render `song` to exactly `seconds` of audio with fonts drawn from `sound_set`."""
    from stemdeck.training.synth.vocals import render_vocal_part

    frames = round(seconds * RATE)
    fonts = {
        "melodic": str(rng.choice(sound_set.melodic)),
        "drums": str(rng.choice(sound_set.drums)),
    }
    stems = {s: np.zeros((2, frames), dtype=np.float32) for s in STEMS}
    settings: list[MixSettings] = []
    with FontSynth() as synth:
        for part in song.parts:
            if not part.notes:
                continue
            if part.stem == "vocals":
                raw = render_vocal_part(part, song, RATE)
            else:
                raw = synth.render(part, song, fonts["drums" if part.is_drums else "melodic"])
            mixed, setting = mix_part(_fit(raw, frames), part.name, part.role, song.genre, rng)
            stems[part.stem] += mixed
            settings.append(setting)
    for name in STEMS:
        stems[name] = _fit(stems[name], frames)
    gain_db = _master_gain_db(stems, rng)
    gain = np.float32(10 ** (gain_db / 20))
    return RenderedSong({k: v * gain for k, v in stems.items()}, fonts, settings, gain_db)


def _master_gain_db(stems: dict[str, np.ndarray], rng: np.random.Generator) -> float:
    """One gain for every stem: a mixture RMS of -18 to -12 dBFS, capped so that neither the
    mixture nor any stem peaks above -1 dBFS (no limiter: it would break the exact sum)."""
    mixture = np.sum(list(stems.values()), axis=0)
    rms = math.sqrt(float(np.mean(mixture.astype(np.float64) ** 2)))
    if rms == 0:
        return 0.0
    gain_db = float(rng.uniform(-18, -12)) - 20 * math.log10(rms)
    peak = max(float(np.abs(a).max()) for a in (mixture, *stems.values()))
    return min(gain_db, 20 * math.log10(PEAK_CEILING / peak))
