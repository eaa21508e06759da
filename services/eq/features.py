"""What the Auto-EQ model sees: 3 s of mono audio as a 64-band log-mel spectrogram.

Every model takes 3 s windows at 44.1 kHz, the mixer's rate, and turns them into a log-mel
spectrogram with one of two front ends:

- "seed": the seed's (resampled to 22.05 kHz inside the model, n_fft 400, hop 200, power 2, HTK
  mel, dB with a 1e-10 floor), so its checkpoint's `to_spec.*` buffers fit. It ends at 11 kHz,
  where the 10 kHz high shelf has reached only about half its gain, and its 55 Hz FFT bins give
  the 100 Hz low shelf's region two or three bins.
- "full-band": the same 64 HTK mel bands over 20 Hz-16 kHz of the 44.1 kHz signal, from a
  4096-point FFT (10.8 Hz bins, hop 1024), so all three bands' regions are in sight (the 10 kHz
  shelf has 9.7 of its 10 dB at 16 kHz). It stops at 16 kHz because what lies above is the
  delivery, not the stem: lossy codecs cut there (MP3 at 16-17 kHz, AAC at 19-20 kHz) and a
  model that saw 16-22 kHz learned the codec's edge as its high-shelf cue. For the same reason
  its dB scale ends 80 dB under the window's loudest bin, so a 16-bit file's quantisation noise
  or a recording's hiss looks the same as digital silence.

Training and inference both go through `to_model_rate` (soxr) and `split_windows`, so the model
meets the same resampler, window placement and level in use as in training.
"""

from __future__ import annotations

import numpy as np
import soxr
import torch

from stemdeck.common.audio import TARGET_RATE

#: Rate of the windows every model takes (the mixer's).
MODEL_RATE = TARGET_RATE
WINDOW_SECONDS = 3.0
WINDOW_FRAMES = round(WINDOW_SECONDS * MODEL_RATE)
N_MELS = 64
FRONT_ENDS: tuple[str, ...] = ("seed", "full-band")
#: The seed's front end: its rate and STFT.
SEED_RATE = 22050
SEED_N_FFT = 400
SEED_HOP = 200
#: The full-band front end's STFT and mel range at MODEL_RATE.
FULL_N_FFT = 4096
FULL_HOP = 1024
FULL_F_MIN = 20.0
FULL_F_MAX = 16000.0
#: Range of the full-band front end's dB scale under each window's loudest bin.
FULL_TOP_DB = 80.0
DB_FLOOR = 1e-10
#: Windows quieter than this RMS (dBFS, after mono downmix) are silence: skipped in use,
#: never drawn in training.
SILENCE_DB = -60.0
#: Level every window is scaled to before the mel (when the model's config asks for it):
#: stems arrive at any level, and the EQ is about balance, not loudness.
TARGET_RMS_DB = -20.0


def mel_spectrogram(front_end: str = "seed") -> torch.nn.Module:
    """A torchaudio MelSpectrogram (buffers `spectrogram.window` and `mel_scale.fb`): the seed's
    at 22.05 kHz, or the full-band one at MODEL_RATE."""
    import torchaudio

    if front_end == "seed":
        settings: dict[str, float] = {
            "sample_rate": SEED_RATE,
            "n_fft": SEED_N_FFT,
            "hop_length": SEED_HOP,
        }
    elif front_end == "full-band":
        settings = {
            "sample_rate": MODEL_RATE,
            "n_fft": FULL_N_FFT,
            "hop_length": FULL_HOP,
            "f_min": FULL_F_MIN,
            "f_max": FULL_F_MAX,
        }
    else:
        raise ValueError(f"unknown Auto-EQ front end {front_end!r}; use one of {FRONT_ENDS}")
    return torchaudio.transforms.MelSpectrogram(
        n_mels=N_MELS, power=2.0, mel_scale="htk", **settings
    )


def to_front_end_rate(windows: torch.Tensor, front_end: str) -> torch.Tensor:
    """MODEL_RATE windows at the rate the front end reads (the seed's 22.05 kHz: a 2:1
    resample with torchaudio's windowed sinc, inside the model so every caller feeds 44.1 kHz)."""
    if front_end != "seed":
        return windows
    import torchaudio

    return torchaudio.functional.resample(windows, MODEL_RATE, SEED_RATE)


def power_to_db(power: torch.Tensor, front_end: str = "seed") -> torch.Tensor:
    """dB of a (batch, mels, frames) power spectrogram: the seed's absolute 1e-10 floor, and
    for the full-band front end also a floor FULL_TOP_DB under each window's loudest bin."""
    db = 10.0 * torch.log10(power.clamp_min(DB_FLOOR))
    if front_end == "full-band":
        db = torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True) - FULL_TOP_DB)
    return db


def to_mono(audio: np.ndarray) -> np.ndarray:
    """float32 (frames,) from (frames,) or (channels, frames) audio: the mean of the channels."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        return audio.mean(axis=0)
    if audio.ndim != 1:
        raise ValueError(f"expected (frames,) or (channels, frames) audio, got {audio.shape}")
    return audio


def to_model_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float32 at MODEL_RATE (soxr HQ, as StemDeck's audio reader uses)."""
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
    """(n, WINDOW_FRAMES) windows of a MODEL_RATE mono signal that are louder than SILENCE_DB,
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
