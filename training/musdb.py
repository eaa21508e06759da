"""Multitrack datasets in MUSDB18 layouts: the folders a user has after downloading them.

- MUSDB18-HQ (and StemDeck's synthetic corpus): ROOT/<split>/<track>/{mixture,drums,...}.wav
- MUSDB18 (compressed): ROOT/<split>/<track>.stem.mp4, streams mixture, drums, bass, other, vocals

MUSDB's validation tracks are a subset of its `train` folder. The split comes from a
`tracks.csv` beside `train/` (columns `track`, `split` with values train, valid or test; other
columns are ignored), as in `../shared/audio/musdb18-7`; without one, every track in `train/` is
a training track, and so is a track in `train/` that the table does not list.

WAV tracks are read by excerpt straight from disk, so a corpus of many long songs never sits in
memory; `.stem.mp4` files (short previews) are decoded once by ffmpeg and kept in memory.
A wrong or incomplete layout raises `DatasetError` naming what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from stemdeck.common.audio import TARGET_RATE, AudioError, read_audio, to_channels
from stemdeck.training.datasets import DatasetError, read_table

SOURCES = ("drums", "bass", "other", "vocals")
STEMS = ("mixture", *SOURCES)
SPLITS = ("train", "valid", "test")
STEM_SUFFIX = ".stem.mp4"
RATE = TARGET_RATE
LAYOUT = (
    "ROOT/train/<track>/{mixture,drums,bass,other,vocals}.wav (MUSDB18-HQ) or "
    "ROOT/train/<track>.stem.mp4 (MUSDB18), test tracks likewise under ROOT/test/"
)

__all__ = [
    "RATE",
    "SOURCES",
    "SPLITS",
    "STEMS",
    "STEM_SUFFIX",
    "DatasetError",
    "TrackRef",
    "find_tracks",
    "read_splits",
]


@dataclass(frozen=True)
class TrackRef:
    """Where one multitrack song lives; `read` cuts excerpts of its stems, `load` all of them."""

    name: str
    path: Path  # a folder of WAVs, or a .stem.mp4 file
    # Probed WAV headers, the length, and (for .stem.mp4 or off-rate WAVs) the decoded stems.
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def frames(self) -> int:
        """Length of the shortest source at 44.1 kHz: what `load` trims to. Probing it checks
        that every source is readable (DatasetError otherwise)."""
        if "frames" not in self._cache:
            if self._lazy():
                self._cache["frames"] = min(self._info(s)[0] for s in SOURCES)
            else:
                self._cache["frames"] = self._decoded().shape[-1]
        return self._cache["frames"]

    def read(self, source: str, start: int = 0, frames: int | None = None) -> np.ndarray:
        """float32 (2, n) of `source` from frame `start`, n = `frames` or up to the end (fewer
        near the end of the track: callers pad)."""
        index = SOURCES.index(source)
        stop = self.frames if frames is None else min(start + frames, self.frames)
        start = min(max(start, 0), stop)
        if not self._lazy():
            return self._decoded()[index, :, start:stop]
        path = self.path / f"{source}.wav"
        try:
            block = sf.read(
                str(path), frames=stop - start, start=start, dtype="float32", always_2d=True
            )
        except (sf.SoundFileError, RuntimeError) as exc:
            raise DatasetError(f"{path} could not be read: {exc}") from exc
        return to_channels(np.ascontiguousarray(block[0].T), 2)

    def load(self, sources: tuple[str, ...] = SOURCES) -> np.ndarray:
        """The stems as float32 (sources, 2, frames) at 44.1 kHz, trimmed to a common length."""
        return np.stack([self.read(name) for name in sources])

    def _info(self, source: str) -> tuple[int, int]:
        """(frames, sample rate) of a source WAV, from its header."""
        key = f"info:{source}"
        if key not in self._cache:
            path = self.path / f"{source}.wav"
            if not path.is_file():
                raise DatasetError(f"track folder {self.path} lacks {path.name}")
            try:
                info = sf.info(str(path))
            except (sf.SoundFileError, RuntimeError) as exc:
                raise DatasetError(f"{path} is not a readable WAV file ({exc})") from exc
            if info.frames <= 0 or info.channels <= 0:
                raise DatasetError(f"{path} holds no audio (0 frames)")
            self._cache[key] = (int(info.frames), int(info.samplerate))
        return self._cache[key]

    def _lazy(self) -> bool:
        """WAVs at 44.1 kHz are read by excerpt; anything else is decoded whole once."""
        if "lazy" not in self._cache:
            folder = self.path.is_dir()
            self._cache["lazy"] = folder and all(self._info(s)[1] == RATE for s in SOURCES)
        return self._cache["lazy"]

    def _decoded(self) -> np.ndarray:
        if "audio" not in self._cache:
            try:
                if self.path.is_dir():
                    stems = [read_audio(self.path / f"{name}.wav") for name in SOURCES]
                else:
                    stems = [read_audio(self.path, stream=1 + i) for i in range(len(SOURCES))]
            except AudioError as exc:
                what = "MUSDB18 track" if self.path.is_dir() else "MUSDB18 stem file"
                raise DatasetError(
                    f"{self.path} could not be decoded as a {what} "
                    f"(streams {', '.join(STEMS)}): {exc}"
                ) from exc
            frames = min(s.shape[1] for s in stems)
            self._cache["audio"] = np.stack([s[:, :frames] for s in stems])
        return self._cache["audio"]


def read_splits(root: Path | str) -> dict[str, str]:
    """Track name -> split from ROOT/tracks.csv ({} without one); DatasetError for a table
    without `track`/`split` columns or with a split other than train, valid or test."""
    table = Path(root) / "tracks.csv"
    if not table.is_file():
        return {}
    splits = {}
    for line, row in enumerate(read_table(table, ("track", "split"), spill="track"), start=2):
        if not row["track"]:
            continue
        if row["split"] not in SPLITS:
            raise DatasetError(
                f"{table} line {line}: split {row['split']!r} of {row['track']!r} is not "
                "train, valid or test"
            )
        splits[row["track"]] = row["split"]
    return splits


def find_tracks(root: Path | str, split: str) -> list[TrackRef]:
    """Tracks of `split` ("train", "valid" or "test") under `root`, sorted by name.

    An empty train or test split is a DatasetError; an empty valid split is just [] (a dataset
    need not have validation tracks). Stems are not opened here: see `TrackRef.frames`.
    """
    root = Path(root)
    if split not in SPLITS:
        raise ValueError(f"split must be train, valid or test, not {split!r}")
    folder = root / ("test" if split == "test" else "train")
    if not folder.is_dir():
        raise DatasetError(_no_folder(root, folder.name))
    refs = _scan(folder)
    splits = read_splits(root)
    _check_listed(root, folder, splits, refs)
    if split != "test":
        refs = [r for r in refs if splits.get(r.name, "train") == split]
    if not refs and split != "valid":
        raise DatasetError(
            f"no {split} tracks under {root}: every track in {folder} is marked otherwise "
            f"in {root / 'tracks.csv'}"
        )
    return refs


def _no_folder(root: Path, name: str) -> str:
    if not root.exists():
        return f"no '{name}' folder under {root}: {root} does not exist"
    if not (root / "train").is_dir() and not (root / "test").is_dir():
        return f"no '{name}' folder under {root} (nor a 'test' folder); expected {LAYOUT}"
    return f"no '{name}' folder under {root}; expected {LAYOUT}"


def _scan(folder: Path) -> list[TrackRef]:
    """Every track in a split folder; a track folder lacking a stem is refused."""
    refs = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            missing = [f"{s}.wav" for s in STEMS if not (entry / f"{s}.wav").is_file()]
            if missing:
                raise DatasetError(
                    f"track folder {entry} lacks {', '.join(missing)} "
                    f"(a MUSDB18-HQ track holds {', '.join(s + '.wav' for s in STEMS)})"
                )
            refs.append(TrackRef(entry.name, entry))
        elif entry.name.endswith(STEM_SUFFIX):
            refs.append(TrackRef(entry.name[: -len(STEM_SUFFIX)], entry))
    if not refs:
        raise DatasetError(f"{folder} holds no tracks; expected {LAYOUT}")
    return refs


def _check_listed(root: Path, folder: Path, splits: dict[str, str], refs: list[TrackRef]) -> None:
    """Every track that tracks.csv places in `folder` must be there."""
    present = {r.name for r in refs}
    absent = [
        name
        for name, split in splits.items()
        if ("test" if split == "test" else "train") == folder.name and name not in present
    ]
    if absent:
        shown = ", ".join(repr(n) for n in absent[:5]) + (" ..." if len(absent) > 5 else "")
        raise DatasetError(
            f"{root / 'tracks.csv'} names {len(absent)} track(s) missing from {folder} "
            f"(neither <track>/ nor <track>{STEM_SUFFIX}): {shown}"
        )
