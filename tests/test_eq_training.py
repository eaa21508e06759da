"""Auto-EQ training data and the `train eq` / `eval eq` commands on a tiny MUSDB-layout set."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from stemdeck.cli.main import app
from stemdeck.eq.checkpoints import load_model
from stemdeck.eq.features import WINDOW_FRAMES, rms_db, to_model_rate
from stemdeck.eq.filters import apply_eq
from stemdeck.training.eq_data import (
    PREROLL,
    SEGMENT,
    SOURCE_RATE,
    ExampleSampler,
    collect_windows,
    damage,
    deliver,
)
from stemdeck.training.eq_eval import damage_draws
from tests.test_training_separator import make_musdb_hq

pytestmark = pytest.mark.unit


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_musdb_hq(
        tmp_path / "data",
        {"A - One": "train", "B - Two": "train", "C - Three": "valid"},
        seconds=4.0,
    )


def test_training_damage_matches_damaging_the_whole_stem() -> None:
    """A training window is what inference sees of a stem damaged as a whole: the same
    filters at 44.1 kHz, settled by the pre-roll."""
    rng = np.random.default_rng(0)
    stem = rng.normal(0, 0.1, SEGMENT + SOURCE_RATE).astype(np.float32)
    gains = torch.tensor([[7.0, -9.0, 10.0]], dtype=torch.float64)
    window = damage(torch.from_numpy(stem[:SEGMENT])[None], gains)[0].numpy()
    whole = to_model_rate(apply_eq(stem, SOURCE_RATE, gains[0].numpy()), SOURCE_RATE)
    start = PREROLL
    reference = whole[start : start + WINDOW_FRAMES]
    assert window.shape == (WINDOW_FRAMES,)
    assert np.abs(window - reference).max() < 1e-3 * np.abs(reference).max()


def test_windows_skip_silent_stems_and_samples_are_reproducible(dataset: Path) -> None:
    silent = dataset / "train" / "A - One" / "vocals.wav"
    from stemdeck.common.audio import write_audio

    write_audio(silent, np.zeros((2, 4 * 44100), np.float32), bit_depth=32)
    bank = collect_windows([dataset], "train", 2, seed=0, log=lambda _: None)
    assert bank.audio.shape == (14, SEGMENT)  # 2 tracks x 4 stems, one silent; 2 slots each
    assert "A - One/vocals" not in bank.labels
    sampler = ExampleSampler(bank)
    first = sampler.draw(5, torch.Generator().manual_seed(3))
    again = sampler.draw(5, torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert first[1].abs().max() <= 10.0
    windows, _, targets = sampler.build(*first)
    assert windows.shape == (5, WINDOW_FRAMES) and torch.equal(targets, (-first[1]).float())
    assert torch.equal(windows, sampler.build(*again)[0])
    np.testing.assert_array_equal(damage_draws(1, 2, 3, 4), damage_draws(1, 2, 3, 4))
    assert not np.array_equal(damage_draws(1, 2, 3, 4), damage_draws(1, 2, 0, 4))


def test_a_share_of_examples_is_left_undamaged(dataset: Path) -> None:
    """`undamaged_share` keeps 0 dB gains (target 0) for about that share of the examples, and
    a share of 0 draws exactly what it drew before the option existed."""
    bank = collect_windows([dataset], "train", 2, seed=0, log=lambda _: None)
    _, gains, _ = ExampleSampler(bank, undamaged_share=0.3).draw(
        2000, torch.Generator().manual_seed(1)
    )
    flat = (gains == 0).all(dim=1).float().mean()
    assert 0.25 < float(flat) < 0.35
    old = ExampleSampler(bank).draw(50, torch.Generator().manual_seed(1))
    new = ExampleSampler(bank, undamaged_share=0.0).draw(50, torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) for a, b in zip(old, new, strict=True))
    with pytest.raises(ValueError, match="undamaged share"):
        ExampleSampler(bank, undamaged_share=1.0)


@pytest.mark.slow
def test_delivery_adds_a_noise_floor_or_a_codec_low_pass_to_some_windows() -> None:
    """About half the training windows get hiss 60-100 dB under them, about a third lose
    everything above an 11-20 kHz cut-off; the rest reach the model untouched."""
    clean = torch.randn(1, WINDOW_FRAMES).expand(400, -1) * 0.1
    seeds = torch.arange(400)
    delivered = deliver(clean, seeds)
    assert torch.equal(delivered, deliver(clean, seeds))
    spectrum = torch.fft.rfft(delivered.double()).abs().pow(2)
    top = spectrum[:, -spectrum.shape[-1] // 20 :].mean(-1)  # 20.9-22.05 kHz
    cut = top < 1e-4 * spectrum.mean(-1)
    residual_db = rms_db(delivered - clean) - rms_db(clean)
    noisy = ~cut & (residual_db > -150)
    assert 0.2 < float(cut.float().mean()) < 0.4
    assert 0.3 < float(noisy.float().mean()) / (1 - float(cut.float().mean())) < 0.7
    assert residual_db[noisy].min() > -101 and residual_db[noisy].max() < -59
    assert torch.equal(delivered[~cut & ~noisy], clean[~cut & ~noisy])


@pytest.mark.slow
def test_train_then_eval_from_the_command_line(dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["train", "eq", "--data", str(dataset), "--out", str(run), "--batch", "4",
            "--valid-every", "2", "--windows-per-stem", "1", "--no-bf16"]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--steps", "2"])
    assert result.exit_code == 0, result.output
    for name in ("best.pt", "state.pt", "history.csv", "loss.png"):
        assert (run / name).is_file(), name
    resumed = CliRunner().invoke(app, [*args, "--steps", "4"])
    assert resumed.exit_code == 0, resumed.output
    assert "resumed at step 2" in resumed.output
    with (run / "history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [2, 4]
    assert {"valid_mae", "mae_low", "mae_mid", "mae_high"} <= set(rows[0])
    loaded = load_model(run / "best.pt")
    assert loaded.config.variant == "full-band"
    assert loaded.metadata["history"]

    tuned = CliRunner().invoke(
        app, ["train", "eq", "--data", str(dataset), "--out", str(tmp_path / "tuned"),
              "--batch", "4", "--valid-every", "1", "--windows-per-stem", "1", "--no-bf16",
              "--steps", "1", "--undamaged-share", "0.5", "--init", str(run / "best.pt")],
    )  # fmt: skip
    assert tuned.exit_code == 0, tuned.output
    training = load_model(tmp_path / "tuned" / "best.pt").metadata["training"]
    assert training["undamaged_share"] == 0.5 and training["init"] == str(run / "best.pt")

    out = tmp_path / "eval"
    result = CliRunner().invoke(
        app, ["eval", "eq", "--data", str(dataset), "--split", "valid", "--model",
              str(run / "best.pt"), "--draws", "2", "--out", str(out),
              "--compare", str(tmp_path / "tuned" / "best.pt")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "per 3 s window" in result.output
    for figure in ("(a) MAE, damaged stems", "(b) clean-stem error", "(c) differential error"):
        assert result.output.count(f"| {figure} |") == 2, figure  # both models, same cases
    for name in ("band_errors.png", "loss.png", "results.md", "errors.csv"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "results.json").read_text())
    assert summary["cases"] == 8  # 4 stems x 2 draws
    for key in ("mae_per_stem", "clean_error", "differential_error"):
        assert set(summary[key]) == {"low", "mid", "high", "overall"}
    other = summary["compared"][str(tmp_path / "tuned" / "best.pt")]
    assert other["cases"] == 8 and other["zero_prediction_mae"] == summary["zero_prediction_mae"]


def test_train_eq_names_a_bad_dataset(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", "eq", "--data", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "error:" in result.output and "does not exist" in result.output
    bad = CliRunner().invoke(app, ["train", "eq", "--data", str(tmp_path), "--variant", "big"])
    flat = " ".join(bad.output.replace("│", " ").split())  # the error box wraps the line
    assert bad.exit_code == 2 and "seed, stem-aware, full-band, full-band-stems" in flat


def test_only_the_first_dataset_chooses_the_checkpoint(dataset: Path, tmp_path: Path) -> None:
    other = make_musdb_hq(tmp_path / "other", {"D - Four": "train", "E - Five": "valid"}, 4.0)
    args = ["train", "eq", "--batch", "4", "--valid-every", "1", "--windows-per-stem", "1",
            "--no-bf16", "--steps", "1"]  # fmt: skip
    both = CliRunner().invoke(
        app, [*args, "--data", str(dataset), "--data", str(other), "--out", str(tmp_path / "a")]
    )
    assert both.exit_code == 0, both.output
    alone = CliRunner().invoke(app, [*args, "--data", str(dataset), "--out", str(tmp_path / "b")])
    assert alone.exit_code == 0, alone.output
    mixed = load_model(tmp_path / "a" / "best.pt").metadata["training"]
    single = load_model(tmp_path / "b" / "best.pt").metadata["training"]
    assert mixed["train_windows"] > single["train_windows"]  # the second set trains...
    assert mixed["valid_windows"] == single["valid_windows"]  # ...but does not validate
    train_only = make_musdb_hq(tmp_path / "t", {"F - Six": "train"}, 4.0)
    refused = CliRunner().invoke(
        app, [*args, "--data", str(train_only), "--data", str(other), "--out", str(tmp_path / "c")]
    )
    assert refused.exit_code == 1 and "first --data" in refused.output
