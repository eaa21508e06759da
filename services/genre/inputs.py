"""Reading a file for genre tagging or analysis, and refusing input that cannot be judged.

Both the classifier and the analysis need a few seconds of actual sound: a beat tracker and a
26-feature mean over 2 s of audio, or over digital silence, would return confident nonsense.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stemdeck.common.audio import AudioError, probe, read_audio

#: Shortest input judged at all; GTZAN clips are 30 s, MUSDB previews 6.8 s, 5 s still works.
MIN_SECONDS = 3.0
#: Below this RMS (dBFS) the whole input counts as silence (16-bit dither sits near -98 dBFS).
SILENCE_DBFS = -70.0


class InputError(ValueError):
    """Audio that decodes but cannot be classified or analysed (too short, silent)."""


def rms_dbfs(audio: np.ndarray) -> float:
    """RMS level of all samples in dBFS (-inf for digital silence)."""
    power = float(np.mean(np.square(audio, dtype=np.float64))) if audio.size else 0.0
    return 10 * np.log10(power) if power > 0 else -np.inf


def check_signal(audio: np.ndarray, sample_rate: int, min_seconds: float = MIN_SECONDS) -> None:
    """InputError for audio shorter than `min_seconds` or quieter than SILENCE_DBFS."""
    seconds = audio.shape[-1] / sample_rate
    if seconds < min_seconds:
        raise InputError(
            f"too short: {seconds:.1f} s of audio, at least {min_seconds:g} s are needed"
        )
    level = rms_dbfs(audio)
    if level < SILENCE_DBFS:
        shown = "digital silence" if level == -np.inf else f"{level:.0f} dBFS RMS"
        raise InputError(f"silent ({shown}): nothing to classify or analyse")


def load_checked(
    path: Path | str, sample_rate: int, channels: int = 1, stream: int = 0
) -> np.ndarray:
    """float32 (channels, frames) at `sample_rate`; AudioError if unreadable, InputError if it
    is too short or silent."""
    audio = read_audio(path, sample_rate=sample_rate, channels=channels, stream=stream)
    check_signal(audio, sample_rate)
    return audio


def native_layout(path: Path | str) -> tuple[int, int]:
    """(sample rate, channels ≤ 2) of a file as stored: loudness is measured there, because a
    mono file duplicated to stereo would read 3 LU louder under BS.1770's channel sum."""
    info = probe(path)
    return info.sample_rate, min(info.channels, 2)


__all__ = ["MIN_SECONDS", "AudioError", "InputError", "check_signal", "load_checked"]
