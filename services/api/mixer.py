"""Server-side remix: the job's stems summed with per-stem gains, optionally through each
stem's recommended EQ, written to one file (karaoke = vocals at 0).

Rendering streams: every stem is decoded in blocks side by side, so memory holds one block per
stem whatever the song's length. The EQ is the shared definition in `stemdeck.eq.filters`
(the same bands the training damage and the browser use): its normalised second-order
sections filtered with scipy's `sosfilt`, whose state `zi` is carried from block to block, so
the blockwise result equals filtering the whole stem at once. (`apply_eq` itself filters whole
arrays only, so it is not used for streaming; a test checks the two agree.)
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path
from typing import Any

import numpy as np

from stemdeck.common.audio import TARGET_CHANNELS, TARGET_RATE, AudioWriter, iter_blocks
from stemdeck.common.storage import Storage

BLOCK_FRAMES = 1 << 16
MAX_GAIN = 2.0
#: Output bit depth per format (MP3 ignores it).
BIT_DEPTHS = {"wav": 24, "flac": 24, "mp3": 16}


class EqNotReady(LookupError):
    """EQ asked for, but a stem has no recommendation (yet)."""


def eq_gains(results: dict[str, Any], stems: list[str]) -> dict[str, dict[str, float]]:
    """Each stem's recommended gain per band (dB) from the job's EQ results."""
    from stemdeck.eq.filters import BAND_NAMES  # the one band definition (lazy, as below)

    found = results.get("eq") or {}
    gains: dict[str, dict[str, float]] = {}
    for stem in stems:
        values = (found.get(stem) or {}).get("gains_db")
        if values is None:
            raise EqNotReady(stem)
        gains[stem] = {band: float(values.get(band, 0.0)) for band in BAND_NAMES}
    return gains


class _StemEq:
    """One stem's EQ cascade with its filter state, carried across blocks."""

    def __init__(self, gains_db: dict[str, float], rate: int) -> None:
        from stemdeck.eq.filters import sections  # the shared band definition (lazy: torch)

        self.sos = np.asarray(sections(gains_db, rate), dtype=np.float64)
        self.state = np.zeros((self.sos.shape[0], TARGET_CHANNELS, 2))

    def __call__(self, block: np.ndarray) -> np.ndarray:
        from scipy.signal import sosfilt

        out, self.state = sosfilt(self.sos, block, axis=-1, zi=self.state)
        return out


def _blocks(path: Path) -> Iterator[np.ndarray]:
    return iter_blocks(path, BLOCK_FRAMES, TARGET_RATE, TARGET_CHANNELS)


def render_mix(
    storage: Storage,
    stems: dict[str, dict[str, Any]],
    gains: dict[str, float],
    eq: dict[str, dict[str, float]] | None,
    fmt: str,
    folder: Path,
) -> Path:
    """Write the mix to `folder/mix.<fmt>` and return its path; stems at gain 0 are not even
    read (one is, when all are 0, for the song's length)."""
    folder.mkdir(parents=True, exist_ok=True)
    used = [name for name in stems if gains.get(name, 1.0) > 0] or list(stems)[:1]
    paths: dict[str, Path] = {}
    for name in used:
        entry = stems[name]
        path = folder / f"{name}.{entry.get('format', 'wav')}"
        storage.get_file(entry["key"], path)
        paths[name] = path
    filters = {name: _StemEq(eq[name], TARGET_RATE) for name in used if eq and name in eq}
    out = folder / f"mix.{fmt}"
    sources = [_blocks(paths[name]) for name in used]
    with AudioWriter(out, TARGET_RATE, TARGET_CHANNELS, fmt, BIT_DEPTHS[fmt]) as writer:
        for blocks in zip_longest(*sources):
            length = max(b.shape[1] for b in blocks if b is not None)
            total = np.zeros((TARGET_CHANNELS, length), dtype=np.float64)
            for name, block in zip(used, blocks, strict=True):
                if block is None:
                    continue
                signal = filters[name](block) if name in filters else block
                total[:, : block.shape[1]] += gains.get(name, 1.0) * signal
            writer.write(total.astype(np.float32))
    for path in paths.values():
        path.unlink(missing_ok=True)
    return out


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
