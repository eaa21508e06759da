"""A spectrogram of the mixture and of each stem of a track, to look at before training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from stemdeck.training.synth.score import STEMS


def log_spectrogram(mono: np.ndarray, size: int = 2048, hop: int = 512) -> np.ndarray:
    """dB magnitude (bins, frames) of a Hann-windowed STFT."""
    frames = max(1, 1 + (len(mono) - size) // hop)
    index = np.arange(size)[None, :] + hop * np.arange(frames)[:, None]
    padded = np.pad(mono, (0, max(0, index.max() + 1 - len(mono))))
    spectrum = np.abs(np.fft.rfft(padded[index] * np.hanning(size), axis=1)).T
    return 20 * np.log10(np.maximum(spectrum, 1e-6))


def write_preview(folder: Path, out: Path | None = None) -> Path:
    """Write `preview.png` in the track folder (or `out`): one row per signal, with its
    RMS and peak in the title, so levels can be checked at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = json.loads((folder / "metadata.json").read_text())
    names = ("mixture", *STEMS)
    figure, axes = plt.subplots(len(names), 1, figsize=(12, 2.2 * len(names)), sharex=True)
    for axis, name in zip(axes, names, strict=True):
        audio, rate = sf.read(folder / f"{name}.wav", dtype="float32")
        mono = audio.mean(1)
        rms = 20 * np.log10(max(float(np.sqrt(np.mean(mono**2))), 1e-10))
        peak = float(np.abs(audio).max())
        image = log_spectrogram(mono)
        axis.imshow(image, origin="lower", aspect="auto", vmin=-80, vmax=40, cmap="magma",
                    extent=(0, len(mono) / rate, 0, rate / 2000))  # fmt: skip
        axis.set_ylim(0, 11)
        axis.set_ylabel("kHz")
        axis.set_title(f"{name}: RMS {rms:.1f} dBFS, peak {peak:.2f}", fontsize=9, loc="left")
    axes[-1].set_xlabel("seconds")
    figure.suptitle(
        f"{meta['title']} — {meta['genre']}, {meta['tempo']} BPM, {meta['key']}, "
        f"{meta['time_signature']}, fonts {meta['fonts']['melodic']} / {meta['fonts']['drums']}",
        fontsize=10,
    )
    figure.tight_layout()
    target = out or folder / "preview.png"
    figure.savefig(target, dpi=72)
    plt.close(figure)
    return target
