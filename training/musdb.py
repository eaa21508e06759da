"""Multitrack datasets in MUSDB18 layouts: the folders a user has after downloading them.

- MUSDB18-HQ (and StemDeck's synthetic corpus): ROOT/<split>/<track>/{mixture,drums,...}.wav
- MUSDB18 (compressed): ROOT/<split>/<track>.stem.mp4, streams mixture, drums, bass, other, vocals

MUSDB's validation tracks are a subset of its `train` folder. The split comes from a
`tracks.csv` beside `train/` (columns `track`, `split`), as in `../shared/audio/musdb18-7`;
without one, every track in `train/` is a training track.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stemdeck.common.audio import read_audio

SOURCES = ("drums", "bass", "other", "vocals")
STEM_SUFFIX = ".stem.mp4"


@dataclass(frozen=True)
class TrackRef:
    """Where one multitrack song lives; `load` decodes its stems."""

    name: str
    path: Path  # a folder of WAVs, or a .stem.mp4 file

    def load(self, sources: tuple[str, ...] = SOURCES) -> np.ndarray:
        """The stems as float32 (sources, 2, frames) at 44.1 kHz, trimmed to a common length."""
        if self.path.is_dir():
            stems = [read_audio(self.path / f"{name}.wav") for name in sources]
        else:
            stems = [read_audio(self.path, stream=1 + SOURCES.index(name)) for name in sources]
        frames = min(s.shape[1] for s in stems)
        return np.stack([s[:, :frames] for s in stems])


def _csv_split(root: Path) -> dict[str, str]:
    table = root / "tracks.csv"
    if not table.is_file():
        return {}
    with table.open(newline="") as handle:
        return {row["track"]: row["split"] for row in csv.DictReader(handle) if "split" in row}


def find_tracks(root: Path | str, split: str) -> list[TrackRef]:
    """Tracks of `split` ("train", "valid" or "test") under `root`, sorted by name."""
    root = Path(root)
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be train, valid or test, not {split!r}")
    folder = root / ("test" if split == "test" else "train")
    if not folder.is_dir():
        raise FileNotFoundError(f"no '{folder.name}' folder under {root} (MUSDB18 layout)")
    refs = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and (entry / "mixture.wav").is_file():
            refs.append(TrackRef(entry.name, entry))
        elif entry.name.endswith(STEM_SUFFIX):
            refs.append(TrackRef(entry.name[: -len(STEM_SUFFIX)], entry))
    if split == "test":
        return refs
    splits = _csv_split(root)
    valid = {name for name, s in splits.items() if s == "valid"}
    return [r for r in refs if (r.name in valid) == (split == "valid")]
