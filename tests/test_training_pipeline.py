"""CI's proof of the whole separator pipeline: render a tiny synthetic corpus, train a tiny model
on it for a few steps, and score it with BSSEval. It proves the pipeline, not the quality."""

from __future__ import annotations

import ctypes.util
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stemdeck.cli.main import app
from stemdeck.separator.checkpoints import load_model
from stemdeck.training.musdb import SOURCES
from tests.conftest import TINY

requires_synth = pytest.mark.skipif(
    ctypes.util.find_library("fluidsynth") is None or shutil.which("text2wave") is None,
    reason="FluidSynth or Festival is missing: run scripts/install-synth-deps",
)
pytestmark = [pytest.mark.unit, pytest.mark.slow, requires_synth]


def run(*args: str | Path) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def test_synth_train_and_evaluate_end_to_end(tmp_path: Path) -> None:
    corpus = tmp_path / "synth"
    # Ten rock songs: the tenth of each genre is a validation song, the rest train.
    run("synth", corpus, "--split", "train", "--tracks", "10", "--seconds", "2",
        "--genres", "rock", "--seed", "5", "-j", "2")  # fmt: skip
    run("synth", corpus, "--split", "test", "--tracks", "1", "--seconds", "3",
        "--genres", "pop", "--seed", "5")  # fmt: skip
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY.to_dict()))
    run("train", "separator", "--data", corpus, "--out", tmp_path / "run", "--config", config,
        "--steps", "3", "--batch", "2", "--segment", "0.5", "--valid-every", "3",
        "--device", "cpu")  # fmt: skip
    model = load_model(tmp_path / "run" / "best.pt")
    assert model.metadata["training"]["train_tracks"] == 9
    assert (tmp_path / "run" / "loss.png").is_file()

    output = run("eval", "separator", "--data", corpus, "--split", "test",
                 "--model", tmp_path / "run" / "best.pt", "--out", tmp_path / "eval")  # fmt: skip
    assert "| Drums |" in output and "mixture/4" in output
    summary = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert summary["tracks"] == 1
    assert set(summary["model"]) == set(SOURCES)
    assert (tmp_path / "eval" / "results.md").read_text().startswith("| Stem |")
