"""BSSEval v4 evaluation: museval scores, four- and two-stem references, the CLI's tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from stemdeck.cli.main import app
from stemdeck.training.evaluate import bsseval, markdown_table
from stemdeck.training.musdb import SOURCES

pytestmark = pytest.mark.unit

RATE = 44100


def stems(seconds: float = 3.0, seed: int = 0) -> dict[str, np.ndarray]:
    """Four distinct stereo signals: tones, a bass, noise bursts, a gliding 'voice'."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    mono = {
        "drums": (np.sin(2 * np.pi * 4 * t) > 0.9) * rng.normal(0, 0.3, t.size),
        "bass": 0.3 * np.sin(2 * np.pi * 55 * t),
        "other": 0.2 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)),
        "vocals": 0.2 * np.sin(2 * np.pi * (440 + 60 * np.sin(2 * np.pi * t)) * t),
    }
    return {k: np.stack([v, 0.8 * v]).astype(np.float32) for k, v in mono.items()}


def write_tracks(root: Path, two_stem: bool = False, count: int = 2) -> Path:
    for n in range(count):
        folder = root / "test" / f"song {n}"
        folder.mkdir(parents=True)
        song = stems(seed=n)
        if two_stem:
            song = {"vocals": song["vocals"], "accompaniment": sum(song[s] for s in SOURCES[:3])}
        for name, audio in song.items():
            sf.write(folder / f"{name}.wav", audio.T, RATE, subtype="FLOAT")
        sf.write(folder / "mixture.wav", sum(song.values()).T, RATE, subtype="FLOAT")
    return root


@pytest.mark.slow
def test_perfect_estimates_beat_the_quarter_mixture() -> None:
    refs = stems()
    mixture = sum(refs.values())
    perfect = bsseval(refs, {k: v + 1e-4 * np.random.default_rng(1).normal(size=v.shape)
                             for k, v in refs.items()})  # fmt: skip
    quarter = bsseval(refs, {k: mixture / 4 for k in refs})
    for name in SOURCES:
        assert set(perfect[name]) == {"SDR", "SIR", "SAR", "ISR"}
        assert perfect[name]["SDR"] > 30 > quarter[name]["SDR"]


def test_a_silent_stem_is_left_unscored() -> None:
    refs = stems()
    refs["drums"] = np.zeros_like(refs["drums"])
    scores = bsseval(refs, {k: v + 0.01 for k, v in refs.items()})
    assert scores["drums"] == dict.fromkeys(("SDR", "SIR", "SAR", "ISR"))
    assert scores["vocals"]["SDR"] is not None


def test_table_has_the_seed_reports_columns() -> None:
    scores = {s: {"SDR": 1.0, "SIR": 2.0, "SAR": 3.0, "ISR": 4.0} for s in SOURCES}
    table = markdown_table({"model": scores, "baseline": scores, "tracks": 3})
    assert table.startswith("| Stem | SDR (dB) | SIR (dB) | SAR (dB) | ISR (dB) |")
    assert "| Vocals | +1.00 | +2.00 | +3.00 | +4.00 | +1.00 |" in table
    assert "median over 3 tracks" in table


@pytest.mark.slow
def test_cli_scores_four_stems(tmp_path: Path, tiny_model_path: Path) -> None:
    data = write_tracks(tmp_path / "data")
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        app, ["eval", "separator", "--data", str(data), "--model", str(tiny_model_path),
              "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "| Drums |" in result.output and "mixture/4" in result.output
    track = json.loads((out / "song 0.json").read_text())
    assert set(track) == {"model", "baseline"} and set(track["model"]) == set(SOURCES)
    summary = json.loads((out / "results.json").read_text())
    assert summary["tracks"] == 2
    shifted = tmp_path / "eval-shifted"
    result = CliRunner().invoke(
        app, ["eval", "separator", "--data", str(data), "--model", str(tiny_model_path),
              "--out", str(shifted), "--shifts", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    again = json.loads((shifted / "results.json").read_text())
    assert again["baseline"] == summary["baseline"] and again["model"] != summary["model"]


def test_cli_scores_two_stem_references(tmp_path: Path, tiny_model_path: Path) -> None:
    data = write_tracks(tmp_path / "data", two_stem=True, count=1)
    result = CliRunner().invoke(
        app, ["eval", "separator", "--data", str(data), "--model", str(tiny_model_path),
              "--out", str(tmp_path / "eval")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "| Vocals |" in result.output and "| Accompaniment |" in result.output
    assert "| Drums |" not in result.output


@pytest.mark.parametrize("remove", ["mixture.wav", "vocals.wav"])
def test_incomplete_two_stem_folder_is_named(
    tmp_path: Path, tiny_model_path: Path, remove: str
) -> None:
    data = write_tracks(tmp_path / "data", two_stem=True, count=1)
    (data / "test" / "song 0" / remove).unlink()
    result = CliRunner().invoke(
        app, ["eval", "separator", "--data", str(data), "--model", str(tiny_model_path)]
    )
    assert result.exit_code == 1
    assert remove in result.output


def test_missing_split_is_a_clear_error(tmp_path: Path, tiny_model_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["eval", "separator", "--data", str(tmp_path), "--model", str(tiny_model_path)]
    )
    assert result.exit_code == 1
    assert "no 'test' folder" in result.output
