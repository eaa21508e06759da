"""GTZAN-layout genre datasets: ROOT/genres_original/<genre>/<genre>.000NN.wav (as on Kaggle and
as the synthetic corpus exports it) or ROOT/<genre>/*.wav (the original tarball).

The split is fixed and deterministic: per genre, in file-name order, the first 80 % of clips
train, the next 10 % validate and the last 10 % test. Contiguous blocks rather than interleaving,
because neighbouring GTZAN clips often come from the same artist or album; interleaving would put
near-copies on both sides of the split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stemdeck.common.audio import read_audio
from stemdeck.training.datasets import DatasetError

GENRES = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)
GTZAN_RATE = 22050
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class GenreClip:
    """One labelled clip; `load` decodes it."""

    path: Path
    genre: str

    def load(self, sample_rate: int = GTZAN_RATE) -> np.ndarray:
        """The clip as mono float32 (frames,) at `sample_rate`."""
        return load_clip(self, sample_rate)


def load_clip(clip: GenreClip, sample_rate: int = GTZAN_RATE) -> np.ndarray:
    """Mono float32 (frames,) at `sample_rate`, whatever the file's rate and channel count."""
    return read_audio(clip.path, sample_rate=sample_rate, channels=1)[0]


def gtzan_folder(root: Path | str) -> Path:
    """The folder holding the genre folders: ROOT/genres_original if there is one, else ROOT."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"GTZAN folder {root} does not exist")
    nested = root / "genres_original"
    return nested if nested.is_dir() else root


def find_gtzan(root: Path | str, genres: tuple[str, ...] = GENRES) -> list[GenreClip]:
    """Every clip of `genres` under `root`, sorted by genre then file name.

    DatasetError for a folder whose name is not one of `genres`, a genre without a folder, or a
    genre folder without .wav clips; other files (.DS_Store, spreadsheets) are ignored.
    """
    folder = gtzan_folder(root)
    found = {e.name: e for e in folder.iterdir() if e.is_dir() and not e.name.startswith(".")}
    unknown = sorted(set(found) - set(genres))
    if unknown:
        raise DatasetError(
            f"unknown genre folder(s) under {folder}: {', '.join(unknown)} "
            f"(expected GTZAN's {', '.join(genres)})"
        )
    missing = [g for g in genres if g not in found]
    if missing:
        raise DatasetError(
            f"no folder for genre(s) {', '.join(missing)} under {folder} "
            "(expected ROOT/genres_original/<genre>/*.wav or ROOT/<genre>/*.wav)"
        )
    clips = []
    for genre in genres:
        wavs = sorted(p for p in found[genre].glob("*.wav") if not p.name.startswith("."))
        if not wavs:
            raise DatasetError(f"genre folder {found[genre]} holds no .wav clips")
        clips += [GenreClip(path, genre) for path in wavs]
    return clips


def split_clips(
    clips: list[GenreClip], split: str, valid: float = 0.1, test: float = 0.1
) -> list[GenreClip]:
    """The clips of `split` under the fixed per-genre split (see the module docstring), sorted by
    genre and file name whatever the order of `clips`.

    A genre with at least 3 clips gives each split at least one, so tiny corpora still validate.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be train, valid or test, not {split!r}")
    chosen = []
    for genre in dict.fromkeys(c.genre for c in clips):
        group = sorted((c for c in clips if c.genre == genre), key=lambda c: c.path.name)
        n = len(group)
        n_valid, n_test = (_share(n, f) for f in (valid, test))
        bounds = {"train": (0, n - n_valid - n_test), "valid": (n - n_valid - n_test, n - n_test)}
        lo, hi = bounds.get(split, (n - n_test, n))
        chosen += group[lo:hi]
    return sorted(chosen, key=lambda c: (c.genre, c.path.name))


def _share(n: int, fraction: float) -> int:
    count = int(n * fraction + 0.5)
    return max(count, 1) if fraction > 0 and n >= 3 else count


# ---- GTZAN's published feature table and the fault-filtered split ---------------------------

#: The per-clip feature table of the Kaggle GTZAN edition (../shared/data/gtzan-features).
FEATURE_TABLE = "features_30_sec.csv"
#: Kereliuk, Sturm & Larsen (2015): faulty clips removed, no artist on two sides.
FILTERED_SPLITS = {s: f"{s}_filtered.txt" for s in SPLITS}


@dataclass(frozen=True)
class FeatureTable:
    """Rows of GTZAN's feature table: clip ids ("blues.00012"), genres, (n, 26) features."""

    ids: tuple[str, ...]
    genres: tuple[str, ...]
    features: np.ndarray

    def rows(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(features, label indices into GENRES) of `ids`, in that order."""
        index = {c: i for i, c in enumerate(self.ids)}
        chosen = [index[c] for c in ids]
        labels = np.array([GENRES.index(self.genres[i]) for i in chosen], dtype=np.int64)
        return self.features[chosen], labels


def clip_id(name: str) -> str:
    """The clip id of a file name: blues/blues.00012.wav or blues.00012.au -> blues.00012."""
    stem = Path(name.strip()).name
    return stem.rsplit(".", 1)[0] if stem.endswith((".wav", ".au")) else stem


def read_feature_table(folder: Path | str, names: tuple[str, ...]) -> FeatureTable:
    """The `names` columns (GenreNet's 26 `*_mean` features, in order) of FEATURE_TABLE.

    DatasetError when the folder or a column is missing or a label is not a GTZAN genre.
    """
    import csv

    path = Path(folder) / FEATURE_TABLE
    if not path.is_file():
        raise DatasetError(f"{path} does not exist (GTZAN's feature table, {FEATURE_TABLE})")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [n for n in (*names, "filename", "label") if n not in (reader.fieldnames or ())]
        if missing:
            raise DatasetError(f"{path} lacks column(s) {', '.join(missing)}")
        rows = list(reader)
    unknown = sorted({r["label"] for r in rows} - set(GENRES))
    if unknown:
        raise DatasetError(f"{path}: labels {', '.join(unknown)} are not GTZAN genres")
    features = np.array([[float(r[n]) for n in names] for r in rows], dtype=np.float64)
    return FeatureTable(
        tuple(clip_id(r["filename"]) for r in rows), tuple(r["label"] for r in rows), features
    )


def filtered_split(folder: Path | str, table: FeatureTable) -> dict[str, list[str]]:
    """Clip ids of each split of the fault-filtered lists, kept when the table has the clip
    (the table withholds one clip); DatasetError when a list is missing."""
    known = set(table.ids)
    split = {}
    for name, file in FILTERED_SPLITS.items():
        path = Path(folder) / file
        if not path.is_file():
            raise DatasetError(f"{path} does not exist (the fault-filtered {name} list)")
        ids = [clip_id(line) for line in path.read_text().splitlines() if line.strip()]
        split[name] = [c for c in ids if c in known]
    return split


def random_split(table: FeatureTable, test: float = 0.2, seed: int = 0) -> dict[str, list[str]]:
    """A clip-level random split stratified by genre (the seed's method: the same artist, often
    the same recording, lands on both sides, so its accuracy is inflated). "valid" is a tenth of
    the training part, for choosing the epoch."""
    rng = np.random.default_rng(seed)
    split: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for genre in GENRES:
        ids = [c for c, g in zip(table.ids, table.genres, strict=True) if g == genre]
        order = [ids[i] for i in rng.permutation(len(ids))]
        n_test = round(len(ids) * test)
        n_valid = round((len(ids) - n_test) * 0.1)
        split["test"] += order[:n_test]
        split["valid"] += order[n_test : n_test + n_valid]
        split["train"] += order[n_test + n_valid :]
    return split
