"""Pitch- and tempo-shifted copies of the training songs: rendered once, valid songs never."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from stemdeck.training.musdb import SOURCES, find_tracks
from stemdeck.training.shifted import draw_shifts, make_shifted_copies
from tests.test_training_separator import make_musdb_hq

pytestmark = pytest.mark.unit


def test_shifts_are_distinct_and_never_the_original() -> None:
    shifts = draw_shifts(6, 2, 0.08, np.random.default_rng(0))
    assert len({(s.semitones, s.tempo) for s in shifts}) == 6
    for s in shifts:
        assert -2 <= s.semitones <= 2 and 0.92 <= s.tempo <= 1.08
        assert s.semitones != 0 or abs(s.tempo - 1) >= 0.02


def test_copies_of_training_songs_form_a_dataset(tmp_path: Path) -> None:
    source = make_musdb_hq(tmp_path / "src", {"A - One": "train", "B - Two": "valid"}, 1.5)
    out = tmp_path / "shifted"
    logs: list[str] = []
    assert make_shifted_copies(source, out, copies=2, log=logs.append) == 2
    copies = find_tracks(out, "train")
    assert len(copies) == 2 and all(c.name.startswith("A - One (") for c in copies)
    with (out / "tracks.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["source_track"] for r in rows} == {"A - One"}
    for copy, row in zip(
        sorted(copies, key=lambda c: c.name), sorted(rows, key=lambda r: r["track"]), strict=True
    ):
        stems = copy.load()
        assert stems.shape[0] == len(SOURCES)
        expected = 1.5 * 44100 / float(row["tempo"])
        assert abs(stems.shape[-1] - expected) < 0.02 * expected  # faster songs are shorter
    # A second run keeps what is there and renders nothing.
    assert make_shifted_copies(source, out, copies=2, log=logs.append) == 0
