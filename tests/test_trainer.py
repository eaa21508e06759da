"""The shared training loop: what a run carries to another machine, and its time limit."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch

from stemdeck.training.separator import TrainSettings, train
from tests.test_spectral_model import TINY_SPECTRAL
from tests.test_training_separator import make_musdb_hq

pytestmark = pytest.mark.unit


def test_a_run_continues_from_its_half_precision_carry_file(tmp_path: Path) -> None:
    """carry.pt (committable: no optimiser, half-precision weights) continues the step count,
    the EMA and the data stream on a new machine; Adam restarts with a warm-up."""
    data = make_musdb_hq(tmp_path / "data", {"A": "train", "B": "train", "C": "valid"})
    settings = TrainSettings(steps=2, batch=1, segment=0.5, valid_every=2, bf16=False, ema=0.9)
    train(data, tmp_path / "first", TINY_SPECTRAL, settings, log=lambda _: None)
    carry = torch.load(tmp_path / "first" / "carry.pt", weights_only=True)
    assert "optimiser" not in carry
    assert all(v.dtype == torch.float16 for v in carry["ema"]["model"].values())
    messages: list[str] = []
    more = replace(settings, steps=4, warmup=2)
    train(data, tmp_path / "next", TINY_SPECTRAL, more, resume=tmp_path / "first" / "carry.pt",
          log=messages.append)  # fmt: skip
    assert any("Adam restarts with a warm-up" in m for m in messages)
    state = torch.load(tmp_path / "next" / "state.pt", weights_only=True)
    assert state["step"] == 4 and state["restarted_at"] == 2 and state["ema"]["updates"] == 4
    assert state["cpu_seconds"] >= carry["cpu_seconds"]

    from typer.testing import CliRunner

    from stemdeck.cli.main import app
    from stemdeck.separator.checkpoints import load_model

    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(asdict(TINY_SPECTRAL)))
    exported = tmp_path / "exported.pt"
    args = ["train", "export-carry", str(tmp_path / "first" / "carry.pt"), str(exported)]
    result = CliRunner().invoke(app, [*args, "--config", str(config)])
    assert result.exit_code == 0, result.output
    best = load_model(tmp_path / "first" / "best.pt").model.state_dict()  # step 2, its last
    for name, value in load_model(exported).model.state_dict().items():
        torch.testing.assert_close(value, best[name].half().float())
    result = CliRunner().invoke(app, [*args, "--config", "compact"])
    assert result.exit_code == 1 and "does not fit" in result.output


def test_a_time_limit_stops_the_session_at_a_checkpoint(tmp_path: Path) -> None:
    data = make_musdb_hq(tmp_path / "data", {"A": "train", "B": "valid"})
    settings = TrainSettings(
        steps=50, batch=1, segment=0.5, valid_every=20, bf16=False, time_limit=0.0
    )
    messages: list[str] = []
    train(data, tmp_path / "run", TINY_SPECTRAL, settings, log=messages.append)
    assert any("stopped at step 1: the time limit" in m for m in messages)
    assert torch.load(tmp_path / "run" / "state.pt", weights_only=True)["step"] == 1
    assert (tmp_path / "run" / "best.pt").is_file()
    # The next session continues the same run.
    train(data, tmp_path / "run", TINY_SPECTRAL, replace(settings, steps=3, time_limit=None),
          log=messages.append)  # fmt: skip
    assert torch.load(tmp_path / "run" / "state.pt", weights_only=True)["step"] == 3
