"""The synthetic corpus end to end: `stemdeck synth`, `synth-genres` and `synth-check` render
real songs with FluidSynth and Festival (skipped where those are not installed)."""

from __future__ import annotations

import ctypes.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from stemdeck.cli.main import app
from stemdeck.training.gtzan import find_gtzan
from stemdeck.training.musdb import SOURCES, find_tracks

FONTS = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
requires_synth = pytest.mark.skipif(
    ctypes.util.find_library("fluidsynth") is None
    or shutil.which("text2wave") is None
    or not FONTS.is_file(),
    reason="FluidSynth, Festival or the SoundFonts are missing: run scripts/install-synth-deps",
)
pytestmark = [pytest.mark.unit, pytest.mark.slow, requires_synth]
SMALL = ["--tracks", "2", "--seconds", "4", "--genres", "rock,classical", "-j", "1"]


def synth(out: Path, *args: str) -> None:
    result = CliRunner().invoke(app, ["synth", str(out), *args])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "corpus"
    synth(out, "--split", "train", "--seed", "3", *SMALL)
    synth(out, "--split", "test", "--seed", "3", "--tracks", "1", "--seconds", "4",
          "--genres", "pop")  # fmt: skip
    return out


def test_layout_metadata_and_index(corpus: Path) -> None:
    names = sorted(p.name for p in (corpus / "train").iterdir())
    assert names == ["train-3-0000-rock", "train-3-0001-classical"]
    for folder in [*(corpus / "train").iterdir(), *(corpus / "test").iterdir()]:
        assert sorted(p.name for p in folder.glob("*.wav")) == sorted(
            f"{s}.wav" for s in ("mixture", *SOURCES)
        )
        meta = json.loads((folder / "metadata.json").read_text())
        for key in ("genre", "tempo", "key", "time_signature", "chord_progression",
                    "instruments", "sound_set", "seed", "sections"):  # fmt: skip
            assert key in meta, key
    index = (corpus / "tracks.csv").read_text().splitlines()
    assert index[0].split(",")[:3] == ["track", "split", "genre"]
    assert len(index) == 4 and index[1].startswith("test-3-0000-pop,test,pop,")


def test_mixture_is_the_exact_sum_and_nothing_clips(corpus: Path) -> None:
    for folder in (corpus / "train").iterdir():
        mixture, rate = sf.read(folder / "mixture.wav", dtype="float32")
        assert rate == 44100 and mixture.shape == (4 * 44100, 2)
        stems = [sf.read(folder / f"{s}.wav", dtype="float32")[0] for s in SOURCES]
        residual = np.sqrt(np.mean((mixture - np.sum(stems, axis=0)) ** 2))
        assert 20 * np.log10(residual / np.sqrt(np.mean(mixture**2)) + 1e-30) < -60
        assert np.abs(mixture).max() < 1.0 and max(np.abs(s).max() for s in stems) < 1.0


def test_classical_has_no_drums_and_test_set_uses_other_fonts(corpus: Path) -> None:
    classical = corpus / "train" / "train-3-0001-classical"
    assert not np.any(sf.read(classical / "drums.wav")[0])
    train_fonts = json.loads((classical / "metadata.json").read_text())["fonts"]
    test_fonts = json.loads((corpus / "test/test-3-0000-pop/metadata.json").read_text())["fonts"]
    assert set(train_fonts.values()) <= {"FluidR3_GM.sf2", "TimGM6mb.sf2"}
    assert test_fonts["melodic"] == "MuseScore_General.sf3"
    assert "LV2" in test_fonts["drums"]


def test_same_seed_same_bytes(corpus: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    synth(again, "--split", "train", "--seed", "3", *SMALL[:-1], "2")  # two workers this time
    for path in sorted((corpus / "train").rglob("*")):
        if path.is_file() and path.suffix in (".wav", ".json"):
            twin = again / path.relative_to(corpus)
            assert twin.read_bytes() == path.read_bytes(), path.name
    other = tmp_path / "other"
    synth(other, "--split", "train", "--seed", "4", "--tracks", "1", "--seconds", "4",
          "--genres", "rock")  # fmt: skip
    assert (other / "train/train-4-0000-rock/mixture.wav").read_bytes() != (
        corpus / "train/train-3-0000-rock/mixture.wav"
    ).read_bytes()


def test_round_trip_through_the_musdb_hq_loader(corpus: Path) -> None:
    train = find_tracks(corpus, "train")
    test = find_tracks(corpus, "test")
    assert [t.name for t in train] == ["train-3-0000-rock", "train-3-0001-classical"]
    assert [t.name for t in test] == ["test-3-0000-pop"]
    stems = train[0].load()
    expected = np.stack(
        [sf.read(train[0].path / f"{s}.wav", dtype="float32")[0].T for s in SOURCES]
    )
    np.testing.assert_array_equal(stems, expected)


def test_check_passes_then_catches_a_corrupted_stem(corpus: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["synth-check", str(corpus), "--preview"])
    assert result.exit_code == 0, result.output
    assert "no clipping" in result.output
    png = corpus / "train/train-3-0000-rock/preview.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    broken = tmp_path / "broken"
    shutil.copytree(corpus, broken)
    bass = broken / "train/train-3-0000-rock/bass.wav"
    audio, rate = sf.read(bass, dtype="float32")
    sf.write(bass, audio * 0.5, rate, subtype="FLOAT")
    result = CliRunner().invoke(app, ["synth-check", str(broken)])
    assert result.exit_code == 1
    assert "train-3-0000-rock" in result.output and "sum of stems" in result.output


def test_gtzan_layout_export(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["synth-genres", str(tmp_path), "--per-genre", "1", "--genres", "jazz,metal"]
    )
    assert result.exit_code == 0, result.output
    for genre in ("jazz", "metal"):
        clip, rate = sf.read(tmp_path / f"genres_original/{genre}/{genre}.00000.wav")
        assert rate == 22050 and clip.ndim == 1 and len(clip) == 30 * 22050
        assert np.sqrt(np.mean(clip**2)) > 0.01
    clips = find_gtzan(tmp_path, genres=("jazz", "metal"))
    assert sorted(c.genre for c in clips) == ["jazz", "metal"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--split", "valid"], "split must be train or test"),
        (["--split", "train", "--genres", "polka"], "unknown genre polka"),
        (["--split", "train", "--sound-set", "nope"], "unknown sound set 'nope'"),
    ],
)
def test_bad_options_are_refused_clearly(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "c"), *args])
    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "c").exists()


def test_missing_soundfont_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stemdeck.training.synth import soundsets

    monkeypatch.setattr(soundsets, "FONT_DIRS", ())
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "c"), "--split", "test"])
    assert result.exit_code == 1
    assert "MuseScore_General.sf3 is not installed" in result.output
    assert "install-synth-deps" in result.output
