"""`stemdeck profile` on a generated MUSDB18-HQ-layout folder and on the real MUSDB18-7 previews
(a few of them; the full 94-track run is in services/genre/weights/musicnn.md)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import soundfile as sf
from typer.testing import CliRunner

from stemdeck.cli.main import app
from stemdeck.training.gtzan import GENRES
from stemdeck.training.profile import accepted_labels, find_mixtures
from tests.genre_audio import genre_clip

from .conftest import SHARED_AUDIO

pytestmark = pytest.mark.unit

runner = CliRunner()
OUTPUTS = ("profile.csv", "genre_distribution.png", "genre_features.png", "pca.png", "summary.md")


@pytest.fixture
def musdb_hq(tmp_path: Path) -> Path:
    """Four 5 s tracks in MUSDB18-HQ layout, one in test/, with SigSep-style genre labels."""
    root = tmp_path / "musdb18hq"
    tracks = [("train", "A - One", "Rock"), ("train", "B - Two", "Heavy Metal"),
              ("train", "C - Three", "Electronic"), ("test", "D - Four", "Pop/Rock")]  # fmt: skip
    for n, (split, name, _) in enumerate(tracks):
        folder = root / split / name
        folder.mkdir(parents=True)
        mono = genre_clip(GENRES[3 * n % 10], n, seconds=5.0, sr=44100)
        for stem in ("mixture", "drums", "bass", "other", "vocals"):
            sf.write(folder / f"{stem}.wav", mono[:, None].repeat(2, axis=1) * 0.5, 44100)
    with (root / "tracks.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["track", "split", "genre"])
        writer.writerows([(name, "valid" if n == 1 else split, genre)
                          for n, (split, name, genre) in enumerate(tracks)])  # fmt: skip
    return root


def test_finds_every_track_with_its_split(musdb_hq: Path) -> None:
    found = find_mixtures(musdb_hq)
    assert [(t.name, t.split) for t in found] == [
        ("A - One", "train"), ("B - Two", "valid"), ("C - Three", "train"), ("D - Four", "test"),
    ]  # fmt: skip
    assert accepted_labels("Pop/Rock") == {"pop", "rock"}
    assert accepted_labels("Rap") == {"hiphop"} and accepted_labels("Electronic") == {"disco"}
    assert accepted_labels("Ambient") == set()
    assert accepted_labels("metal") == {"metal"}  # the synthetic corpus writes GTZAN names


def test_profile_writes_csv_three_charts_and_summary(musdb_hq: Path, tmp_path: Path) -> None:
    out = tmp_path / "profile"
    result = runner.invoke(app, ["profile", str(musdb_hq), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 0, name
    with (out / "profile.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and all(r["label"] in GENRES for r in rows)
    assert rows[0]["reference_genre"] == "Rock" and float(rows[0]["tempo_bpm"]) > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] in ("musicnn", "gtzan")  # the default, or its fallback
    assert sum(summary["distribution"].values()) == 4
    assert summary["reference"]["mapped_tracks"] == 4  # Electronic counts as disco
    assert "Against the dataset's own genre labels" in result.stdout


def test_profile_refuses_a_folder_without_tracks(tmp_path: Path) -> None:
    result = runner.invoke(app, ["profile", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "neither a 'train' nor a 'test' folder" in result.stderr


@pytest.mark.skipif(
    not (SHARED_AUDIO / "musdb18-7" / "train").is_dir(),
    reason="the real MUSDB18-7 previews (../shared/audio/musdb18-7) are not on this machine",
)
@pytest.mark.slow
def test_profile_on_real_musdb_previews(tmp_path: Path) -> None:
    out = tmp_path / "musdb18-7"
    args = ["profile", str(SHARED_AUDIO / "musdb18-7"), "--out", str(out), "--limit", "4"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tracks"] == 4 and summary["reference"] is not None
