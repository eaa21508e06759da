"""What the Auto-EQ model sees: 3 s of mono audio at 22.05 kHz as a 64-band log-mel spectrogram.

The settings are the seed's (n_fft 400, hop 200, power 2, HTK mel, dB with a 1e-10 floor), so
its checkpoint's `to_spec.*` buffers fit. Training and inference both go through
`to_model_rate` (soxr) and `split_windows`, so the model meets the same resampler, window
placement and level in use as in training.
"""

from __future__ import annotations

import numpy as np
import soxr
import torch

MODEL_RATE = 22050
WINDOW_SECONDS = 3.0
WINDOW_FRAMES = round(WINDOW_SECONDS * MODEL_RATE)
N_FFT = 400
HOP = 200
N_MELS = 64
DB_FLOOR = 1e-10
#: Windows quieter than this RMS (dBFS, after mono downmix) are silence: skipped in use,
#: never drawn in training.
SILENCE_DB = -60.0
#: Level every window is scaled to before the mel (when the model's config asks for it):
#: stems arrive at any level, and the EQ is about balance, not loudness.
TARGET_RMS_DB = -20.0


def mel_spectrogram() -> torch.nn.Module:
    """The seed's front end (a torchaudio MelSpectrogram; its buffers are `window` and `fb`)."""
    import torchaudio

    return torchaudio.transforms.MelSpectrogram(
        sample_rate=MODEL_RATE,
        n_fft=N_FFT,
        hop_length=HOP,
        n_mels=N_MELS,
        power=2.0,
        mel_scale="htk",
    )


def power_to_db(power: torch.Tensor) -> torch.Tensor:
    return 10.0 * torch.log10(power.clamp_min(DB_FLOOR))


def to_mono(audio: np.ndarray) -> np.ndarray:
    """float32 (frames,) from (frames,) or (channels, frames) audio: the mean of the channels."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        return audio.mean(axis=0)
    if audio.ndim != 1:
        raise ValueError(f"expected (frames,) or (channels, frames) audio, got {audio.shape}")
    return audio


def to_model_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 at 22.05 kHz (soxr HQ, as StemDeck's audio reader uses)."""
    mono = to_mono(audio)
    if sample_rate == MODEL_RATE:
        return mono
    return soxr.resample(mono, sample_rate, MODEL_RATE, quality="HQ").astype(np.float32)


def rms_db(windows: torch.Tensor) -> torch.Tensor:
    """RMS level in dBFS of each row of (..., frames)."""
    power = windows.double().pow(2).mean(-1)
    return (10.0 * torch.log10(power.clamp_min(1e-20))).float()


def normalise_level(windows: torch.Tensor) -> torch.Tensor:
    """Rows of (..., frames) scaled to TARGET_RMS_DB (silent rows stay as they are)."""
    gain_db = (TARGET_RMS_DB - rms_db(windows)).clamp(max=120.0)
    return windows * (10.0 ** (gain_db / 20.0)).unsqueeze(-1)


def window_starts(frames: int, hop: int, window: int = WINDOW_FRAMES) -> list[int]:
    """Starts of full windows across `frames` every `hop`, the last one flush with the end."""
    if frames < window:
        return []
    starts = list(range(0, frames - window + 1, hop))
    if starts[-1] != frames - window:
        starts.append(frames - window)
    return starts


def split_windows(
    mono: np.ndarray, hop_seconds: float, max_windows: int | None = None
) -> tuple[torch.Tensor, list[int]]:
    """(n, WINDOW_FRAMES) windows of a 22.05 kHz mono signal that are louder than SILENCE_DB,
    and their starts; at most `max_windows`, spread evenly over the whole signal."""
    starts = window_starts(mono.shape[-1], max(1, round(hop_seconds * MODEL_RATE)))
    if not starts:
        return torch.zeros(0, WINDOW_FRAMES), []
    signal = torch.from_numpy(np.ascontiguousarray(mono, dtype=np.float32))
    windows = torch.stack([signal[s : s + WINDOW_FRAMES] for s in starts])
    loud = rms_db(windows) > SILENCE_DB
    windows = windows[loud]
    starts = [s for s, keep in zip(starts, loud.tolist(), strict=True) if keep]
    if max_windows is not None and len(starts) > max_windows:
        pick = np.unique(np.linspace(0, len(starts) - 1, max_windows).round().astype(int))
        windows = windows[torch.from_numpy(pick)]
        starts = [starts[i] for i in pick]
    return windows, starts
