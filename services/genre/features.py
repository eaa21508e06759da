"""The seed's 26 GenreNet features (DESIGN §3.3), and the windows a whole track is cut into.

Order: mean chroma_stft (over all bins and frames), mean RMS, mean spectral centroid, mean
spectral bandwidth, mean rolloff (0.85), mean zero-crossing rate, means of MFCC 1-20 - all with
librosa's defaults (n_fft 2048, hop 512) on mono 22.05 kHz audio, as the seed computed them for
GTZAN. One magnitude STFT feeds every spectral feature; that is exactly what librosa computes
from `y` for each of them, only once instead of five times.

No TensorFlow here: the profiler, the analysis and the tests use these features without it.
"""

from __future__ import annotations

from typing import TypedDict, Unpack

import numpy as np

FEATURE_RATE = 22050
N_FFT = 2048
HOP = 512
#: The seed looked at the first 30 s; GTZAN clips are 30 s long.
WINDOW_SECONDS = 30.0
#: At most this many 30 s windows are averaged for a long track (spread over its whole length).
MAX_WINDOWS = 8
N_MFCC = 20
FEATURE_NAMES = (
    "chroma_stft_mean",
    "rms_mean",
    "spectral_centroid_mean",
    "spectral_bandwidth_mean",
    "rolloff_mean",
    "zero_crossing_rate_mean",
    *(f"mfcc{i}_mean" for i in range(1, N_MFCC + 1)),
)


def feature_vector(y: np.ndarray, sr: int = FEATURE_RATE) -> np.ndarray:
    """The 26 features of mono audio `y` (frames,) as float64, in FEATURE_NAMES order.

    `y` is used whole: cut it to a window first (see `window_bounds`). The means are over frames
    (and, for chroma, over the 12 bins too), as the seed took them.
    """
    import librosa

    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected mono audio (frames,), got shape {y.shape}")
    magnitude = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    power = magnitude**2
    chroma = librosa.feature.chroma_stft(S=power, sr=sr, n_fft=N_FFT, hop_length=HOP)
    rms = librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP)
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=sr, n_fft=N_FFT)
    bandwidth = librosa.feature.spectral_bandwidth(S=magnitude, sr=sr, n_fft=N_FFT)
    rolloff = librosa.feature.spectral_rolloff(S=magnitude, sr=sr, n_fft=N_FFT, roll_percent=0.85)
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP)
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sr, n_fft=N_FFT))
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=N_MFCC)
    scalars = [chroma.mean(), rms.mean(), centroid.mean(), bandwidth.mean(), rolloff.mean()]
    return np.array([*scalars, zcr.mean(), *mfcc.mean(axis=1)], dtype=np.float64)


class Windowing(TypedDict, total=False):
    """`window_bounds`' optional settings, passed on by the functions that cut a track."""

    seconds: float
    max_windows: int


def window_bounds(
    frames: int,
    sr: int = FEATURE_RATE,
    seconds: float = WINDOW_SECONDS,
    max_windows: int = MAX_WINDOWS,
) -> list[tuple[int, int]]:
    """(start, stop) frames of the windows a track is judged on.

    A track up to `seconds` long is one window, the whole of it. A longer one gets
    ceil(length / seconds) full windows (at most `max_windows`), evenly spaced from the first
    to the last second, so the verse, the chorus and the outro all count - not just the intro
    the seed looked at.
    """
    size = round(seconds * sr)
    if frames <= size:
        return [(0, frames)]
    count = min(max_windows, int(np.ceil(frames / size)))
    starts = np.linspace(0, frames - size, count).round().astype(int)
    return [(int(s), int(s) + size) for s in starts]


def track_features(
    y: np.ndarray, sr: int = FEATURE_RATE, **windowing: Unpack[Windowing]
) -> np.ndarray:
    """(windows, 26) features of mono audio `y`, one row per `window_bounds` window."""
    bounds = window_bounds(len(y), sr, **windowing)
    return np.stack([feature_vector(y[a:b], sr) for a, b in bounds])
