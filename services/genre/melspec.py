"""The music tagger's input: log-compressed mel spectrogram patches of 16 kHz mono audio.

musicnn (Pons & Serra 2019) was trained on `log10(10000 * mel + 1)` of a power mel spectrogram
with n_fft 512, hop 256 and 96 mel bands at 16 kHz, cut into patches of 187 frames (3 s). The
mel spectrogram is librosa's of the time it was trained (librosa 0.6-0.7): a centred STFT with
*reflect* padding (librosa 0.10 changed its default to zero padding), a periodic Hann window,
power 2, and Slaney's mel filterbank (`htk=False`, area-normalised "slaney"/`norm=1`, 0 Hz to
Nyquist), which librosa 0.11's `filters.mel` defaults still give.

Everything is computed in float32. The package's own extractor casts the mel spectrogram to
float16 before `10000 * mel + 1`: any bin above 6.55 then overflows float16's 65,504 (loud
modern masters have many), reads log10(inf), and the network sees the same saturated input for
every loud song. No TensorFlow here.
"""

from __future__ import annotations

import functools

import numpy as np

TAGGER_RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
#: Frames of one patch: librosa.time_to_frames(3 s) + 1, the input length the models trained on.
PATCH_FRAMES = 187
PATCH_SECONDS = PATCH_FRAMES * HOP / TAGGER_RATE
#: Most patches judged per track, spread evenly over its whole length (12 s of a long song):
#: the network's time grows with patches, and the genre stage must stay within 2 s a song.
MAX_PATCHES = 4


@functools.cache
def mel_filterbank() -> np.ndarray:
    """(96, 257) Slaney mel filterbank at 16 kHz, n_fft 512, as float32."""
    import librosa

    return librosa.filters.mel(
        sr=TAGGER_RATE, n_fft=N_FFT, n_mels=N_MELS, htk=False, norm="slaney", dtype=np.float32
    )


def log_mel(y: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """(frames, 96) float32 `log10(10000 * mel + 1)` of mono 16 kHz audio `y` (samples,); with
    `rows`, only those frames (indices into the `frame_count(len(y))` frames), each exactly as
    the whole spectrogram has it - `patches` needs a few patches of a long song, not all of it."""
    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected mono audio (samples,), got shape {y.shape}")
    if len(y) <= N_FFT // 2:
        raise ValueError(f"{len(y)} samples are too few for a {N_FFT}-point STFT")
    padded = np.pad(y, N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.as_strided(
        padded, (frame_count(len(y)), N_FFT), (padded.strides[0] * HOP, padded.strides[0]),
        writeable=False,
    )  # fmt: skip
    if rows is not None:
        frames = frames[rows]
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann
    spectrum = np.fft.rfft(frames * window, axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    mel = power @ mel_filterbank().T
    return np.log10(np.float32(10000) * mel + np.float32(1))


def frame_count(samples: int) -> int:
    """Frames of the centred STFT (hop 256) of `samples` samples: 1 + samples // HOP."""
    return 1 + samples // HOP


def patch_starts(frames: int, max_patches: int | None = MAX_PATCHES) -> list[int]:
    """First frames of the patches a track of `frames` mel frames is judged on.

    Back-to-back patches from the start (what the tagger's authors average into a track's tags);
    when there are more than `max_patches`, that many are spread evenly from the first frame to
    the last, so a long song is heard from intro to outro at a bounded cost. A track shorter
    than one patch gives none.
    """
    if frames < PATCH_FRAMES:
        return []
    count = frames // PATCH_FRAMES
    if max_patches is None or count <= max_patches:
        return [i * PATCH_FRAMES for i in range(count)]
    return [int(s) for s in np.linspace(0, frames - PATCH_FRAMES, max_patches).round()]


def patches(y: np.ndarray, max_patches: int | None = MAX_PATCHES) -> tuple[np.ndarray, list[int]]:
    """((n, 187, 96) float32 patches, their first frames) of mono 16 kHz audio `y`; a track
    shorter than one patch is repeated to fill one (the authors' training pads short clips by
    repetition too). Only the frames of the chosen patches are computed: 4 patches of a 60 s
    song are a fifth of its frames."""
    count = frame_count(len(y))
    if count < PATCH_FRAMES:
        spectrogram = log_mel(y)
        reps = -(-PATCH_FRAMES // len(spectrogram))
        return np.tile(spectrogram, (reps, 1))[None, :PATCH_FRAMES], [0]
    starts = patch_starts(count, max_patches)
    rows = np.concatenate([np.arange(s, s + PATCH_FRAMES) for s in starts])
    return log_mel(y, rows).reshape(len(starts), PATCH_FRAMES, N_MELS), starts
