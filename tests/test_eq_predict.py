"""Whole-stem EQ recommendation: windows, aggregation, clear refusals, the CLI, and the undo
property of the bundled model on held-out stems."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from stemdeck.cli.main import app
from stemdeck.common.audio import write_audio
from stemdeck.eq.checkpoints import EqCheckpointError, open_model, save_checkpoint
from stemdeck.eq.features import WINDOW_SECONDS
from stemdeck.eq.model import EqConfig, EqNet
from stemdeck.eq.predict import EqInputError, predict_eq
from stemdeck.eq.restraint import Restraint
from stemdeck.training.eq_eval import evaluate_cases, spectral_distance, summarise
from tests.conftest import SHARED_AUDIO

pytestmark = pytest.mark.unit

RATE = 44100
MUSDB7 = SHARED_AUDIO / "musdb18-7"
SYNTH = Path(__file__).resolve().parents[1] / "data" / "synth"


@pytest.fixture(scope="module")
def random_model() -> EqNet:
    torch.manual_seed(0)
    return EqNet(EqConfig(variant="stem-aware")).eval()


def noise(seconds: float, seed: int = 0, rate: int = RATE) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.1, (2, round(seconds * rate))).astype(np.float32)


def test_windows_cover_the_whole_stem(random_model: EqNet) -> None:
    result = predict_eq(noise(10.0), RATE, "vocals", random_model)
    assert result.windows == 6  # every 1.5 s, the last one flush with the end
    assert result.window_starts[0] == 0.0
    assert result.window_starts[-1] == pytest.approx(10.0 - WINDOW_SECONDS)
    assert set(result.gains_db) == set(result.spread_db) == {"low", "mid", "high"}
    assert all(s is not None and s >= 0 for s in result.spread_db.values())
    median = np.median(result.window_gains_db, axis=0)
    np.testing.assert_allclose(list(result.gains_db.values()), median, atol=0.006)


def test_long_stems_are_sampled_evenly_up_to_the_cap(random_model: EqNet) -> None:
    result = predict_eq(noise(60.0)[0], RATE, "bass", random_model, max_windows=8)
    assert result.windows == 8
    assert result.window_starts[0] == 0.0
    assert result.window_starts[-1] == pytest.approx(60.0 - WINDOW_SECONDS)


def test_silent_windows_are_skipped(random_model: EqNet) -> None:
    audio = noise(12.0)
    audio[:, : 6 * RATE] = 0.0
    result = predict_eq(audio, RATE, "drums", random_model)
    assert result.window_starts == [4.5, 6.0, 7.5, 9.0]  # those wholly in the silence left out


def test_restraint_holds_the_median_back() -> None:
    """Per-stem offset and factor, then the spread shrink, then the dead zone, in that order;
    the defaults return the median."""
    median, spread = np.array([4.0, -1.0, 2.5]), np.array([1.0, 0.5, 4.0])
    np.testing.assert_array_equal(Restraint().apply(median, spread, "bass"), median)
    prior = Restraint(stem_offset_db={"bass": (2.0, 0.0, 0.0)}, stem_scale={"bass": (0.5, 1, 1)})
    np.testing.assert_allclose(prior.apply(median, spread, "bass"), [1.0, -1.0, 2.5])
    np.testing.assert_allclose(prior.apply(median, spread, "drums"), median)  # other stems
    shrink = Restraint(spread_shrink=1.0)
    np.testing.assert_allclose(shrink.apply(median, spread, "bass"), [3.0, -0.5, 0.0])
    np.testing.assert_allclose(shrink.apply(median, None, "bass"), median)  # one window
    zone = Restraint(dead_zone_db=2.0)
    np.testing.assert_allclose(zone.apply(median, spread, "bass"), [4.0, 0.0, 2.5])
    with pytest.raises(ValueError, match="must lie in"):
        Restraint(stem_scale={"bass": (1.5, 1, 1)})
    with pytest.raises(ValueError, match=">= 0"):
        Restraint(dead_zone_db=-1.0)


def test_a_models_restraint_travels_in_its_checkpoint(tmp_path: Path, random_model: EqNet) -> None:
    """`predict_eq` applies the restraint stored with the model; the raw windows stay raw."""
    plain = predict_eq(noise(6.0), RATE, "vocals", random_model)
    model = EqNet(EqConfig(variant="stem-aware"))
    model.load_state_dict(random_model.state_dict())
    model.restraint = Restraint(dead_zone_db=100.0)
    path = save_checkpoint(tmp_path / "held.pt", model)
    loaded = open_model(path)
    assert loaded.model.restraint == Restraint(dead_zone_db=100.0)
    held = predict_eq(noise(6.0), RATE, "vocals", loaded)
    assert held.gains_db == {"low": 0.0, "mid": 0.0, "high": 0.0}
    np.testing.assert_allclose(held.window_gains_db, plain.window_gains_db, atol=1e-5)
    # an explicit restraint overrides the model's
    free = predict_eq(noise(6.0), RATE, "vocals", loaded, restraint=Restraint())
    assert free.gains_db == pytest.approx(plain.gains_db, abs=0.011)
    bad = torch.load(path, weights_only=True)
    bad["metadata"]["restraint"]["dead_zone_db"] = -3
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(EqCheckpointError, match="invalid restraint"):
        open_model(tmp_path / "bad.pt")


def test_single_window_has_no_spread_and_gains_are_clamped() -> None:
    torch.manual_seed(0)
    model = EqNet(EqConfig(variant="seed")).eval()
    with torch.no_grad():
        model.head[3].bias[:] = torch.tensor([40.0, -40.0, 3.0])
        model.head[3].weight.zero_()
    result = predict_eq(noise(3.0, rate=48000), 48000, "other", model)
    assert result.windows == 1
    assert result.gains_db == {"low": 15.0, "mid": -15.0, "high": 3.0}
    assert result.spread_db == {"low": None, "mid": None, "high": None}


@pytest.mark.parametrize(
    ("audio", "stem", "message"),
    [
        (noise(2.5), "vocals", "2.50 s long; Auto-EQ needs at least 3 s"),
        (np.zeros((2, 5 * RATE), np.float32), "vocals", "silent"),
        (noise(1e-3) * 1e-4, "bass", "at least 3 s"),
        (noise(5.0), "guitar", "unknown stem 'guitar'"),
        (np.full((2, 4 * RATE), np.nan, np.float32), "drums", "NaN"),
    ],
)
def test_unusable_input_is_a_clear_error(
    random_model: EqNet, audio: np.ndarray, stem: str, message: str
) -> None:
    with pytest.raises(EqInputError, match=message):
        predict_eq(audio, RATE, stem, random_model)


def test_cli_prints_json(tmp_path: Path) -> None:
    path = tmp_path / "vocals.wav"
    write_audio(path, noise(5.0))
    result = CliRunner().invoke(app, ["eq", str(path), "--stem", "vocals"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["stem"] == "vocals" and out["windows"] == 3  # at 0, 1.5 and 2 s
    assert set(out["gains_db"]) == set(out["spread_db"]) == {"low", "mid", "high"}
    assert all(abs(g) <= 15 for g in out["gains_db"].values())
    assert [b["type"] for b in out["bands"]] == ["lowshelf", "peaking", "highshelf"]


def test_cli_takes_a_model_path(tmp_path: Path, random_model: EqNet) -> None:
    model = save_checkpoint(tmp_path / "m.pt", random_model)
    path = tmp_path / "bass.flac"
    write_audio(path, noise(4.0))
    result = CliRunner().invoke(app, ["eq", str(path), "--stem", "bass", "--model", str(model)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stem"] == "bass"


@pytest.mark.parametrize(
    ("audio", "stem", "message"),
    [
        (noise(1.0), "vocals", "1.00 s long; Auto-EQ needs at least 3 s"),
        (np.zeros((2, 4 * RATE), np.float32), "drums", "is silent"),
        (noise(4.0), "piano", "unknown stem 'piano'"),
    ],
)
def test_cli_refuses_unusable_files_with_a_message(
    tmp_path: Path, audio: np.ndarray, stem: str, message: str
) -> None:
    path = tmp_path / "stem.wav"
    write_audio(path, audio)
    result = CliRunner().invoke(app, ["eq", str(path), "--stem", stem])
    assert result.exit_code == 1
    assert "error:" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_cli_refuses_a_file_that_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("not audio")
    result = CliRunner().invoke(app, ["eq", str(path), "--stem", "vocals"])
    assert result.exit_code == 1
    assert "not an audio file" in result.output


def test_spectral_distance_sees_the_damage() -> None:
    from stemdeck.eq.filters import apply_eq

    clean = noise(4.0)[0]
    assert spectral_distance(clean, clean) == 0.0
    small = spectral_distance(clean, apply_eq(clean, RATE, [2.0, 0.0, 0.0]))
    large = spectral_distance(clean, apply_eq(clean, RATE, [8.0, -8.0, 8.0]))
    assert 0 < small < large


@pytest.mark.parametrize(
    ("root", "split", "tracks", "seconds"),
    [
        pytest.param(MUSDB7, "valid", 8, None, id="musdb18-7-valid"),
        pytest.param(
            SYNTH,
            "test",
            8,
            9.0,
            id="synth-test",
            marks=pytest.mark.xfail(
                strict=True,
                reason="issue #5 open: the delivery-robust model undoes 79.1 % of the full "
                "synthetic test cases and 72 % of this 8-song subset, under the 80 % bar",
            ),
        ),
    ],
)
@pytest.mark.slow
def test_bundled_model_undoes_damage_on_held_out_stems(
    root: Path, split: str, tracks: int | None, seconds: float | None
) -> None:
    """Applying the recommended correction brings a damaged held-out stem closer to the clean
    stem (third-octave band levels, `spectral_distance`) in at least 80 % of cases."""
    if not (root / "tracks.csv").is_file():
        pytest.skip(f"held-out data not on this machine: {root} is absent")
    model = open_model("default").model
    cases = evaluate_cases(
        root, split, model, draws=1, seed=7, max_seconds=seconds, max_tracks=tracks,
        log=lambda _: None,
    )  # fmt: skip
    summary = summarise(cases)
    assert summary["cases"] >= 25
    assert summary["undo_rate"] >= 0.8, summary
    if root == MUSDB7:  # issue #22: a stem that needs nothing is left nearly flat (all 14: <= 1.5)
        assert max(summary["clean_error"][b] for b in ("low", "mid", "high")) <= 1.8, summary
    assert summary["mae_per_stem"]["overall"] < summary["zero_prediction_mae"]["overall"]


@pytest.mark.slow
def test_bundled_model_ignores_how_a_held_out_stem_was_delivered(tmp_path: Path) -> None:
    """The same damaged stem as a float file, a 16-bit WAV and with hiss 70 dB under it gets
    nearly the same recommendation (the bundled model once read a 16-bit file's quantisation
    noise above 16 kHz as a +14 dB high shelf)."""
    from stemdeck.common.audio import read_audio
    from stemdeck.eq.filters import apply_eq
    from stemdeck.training.eq_eval import damage_draws
    from stemdeck.training.musdb import find_tracks

    if not (MUSDB7 / "tracks.csv").is_file():
        pytest.skip(f"held-out data not on this machine: {MUSDB7} is absent")
    model = open_model("default").model
    shifts = []
    for index, track in enumerate(find_tracks(MUSDB7, "valid")[:4]):
        for stem_index, stem in enumerate(("drums", "bass", "other", "vocals")):
            clean = track.read(stem, 0, None).mean(axis=0, dtype=np.float32)
            gains = damage_draws(0, index, stem_index, 1)[0]
            damaged = apply_eq(clean, RATE, gains).astype(np.float32)
            if np.sqrt(np.mean(damaged**2)) < 1e-3:
                continue
            write_audio(tmp_path / "16.wav", damaged[None], RATE, bit_depth=16)
            hiss = np.random.default_rng(index).normal(0, 1, damaged.shape).astype(np.float32)
            hiss *= np.sqrt(np.mean(damaged**2)) * 10 ** (-70 / 20)
            floats = predict_eq(damaged, RATE, stem, model).gains_db
            for delivered in (read_audio(tmp_path / "16.wav", RATE, 1), damaged + hiss):
                other = predict_eq(delivered, RATE, stem, model).gains_db
                shifts.append([abs(other[b] - floats[b]) for b in ("low", "mid", "high")])
    shifts = np.array(shifts)
    assert len(shifts) >= 24
    assert shifts.mean() < 0.5 and shifts.max() < 3.0, shifts.max(axis=0)
