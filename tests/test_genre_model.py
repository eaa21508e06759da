"""GenreNet end to end on a tiny generated GTZAN-layout folder: `train genre` (skipping an
unreadable clip, scaler fitted on training rows only), `eval genre`, and `stemdeck genre` on
short, silent and unreadable input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from stemdeck.cli.main import app
from stemdeck.genre.model import HIDDEN, load_artefact
from stemdeck.training.gtzan import GENRES, GenreClip, find_gtzan, split_clips
from tests.genre_audio import genre_clip, write_gtzan

pytestmark = pytest.mark.unit

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = write_gtzan(tmp_path_factory.mktemp("gtzan"))
    out = tmp_path_factory.mktemp("runs") / "genre"
    args = ["train", "genre", "--data", str(root), "--out", str(out), "--epochs", "40"]
    result = runner.invoke(app, [*args, "--batch", "16", "--seed", "1"])
    assert result.exit_code == 0, result.output
    return root, out, result.stderr


@pytest.mark.slow
def test_training_writes_one_artefact_folder(trained: tuple[Path, Path, str]) -> None:
    _, out, log = trained
    for name in ("genrenet.keras", "scaler.json", "labels.json", "metadata.json", "loss.png"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.pkl")) and not list(out.glob("*.pickle"))
    assert json.loads((out / "labels.json").read_text()) == list(GENRES)
    artefact = load_artefact(out)
    dense = [layer.units for layer in artefact.model.layers if hasattr(layer, "units")]
    assert dense == [*HIDDEN, 10]
    assert "warning: skipping" in log and "jazz.00054.wav" in log
    meta = json.loads((out / "metadata.json").read_text())
    assert [s["path"].endswith("jazz.00054.wav") for s in meta["skipped"]] == [True]
    # The split is decided by file name: jazz.00054.wav was jazz's test clip, so jazz keeps
    # four training clips and loses its test row.
    assert meta["rows"] == {"train": 31, "valid": 10, "test": 9}


def test_scaler_is_fitted_on_training_rows_only(trained: tuple[Path, Path, str]) -> None:
    root, out, _ = trained
    with (out / "features.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    features = {r["path"]: np.array([float(v) for v in list(r.values())[3:]]) for r in rows}
    clips = [GenreClip(c.path.resolve(), c.genre) for c in find_gtzan(root)]
    train = np.stack([features[str(c.path)] for c in split_clips(clips, "train")])
    everything = np.stack(list(features.values()))
    scaler = json.loads((out / "scaler.json").read_text())
    assert scaler["fitted_rows"] == len(train) == 31
    np.testing.assert_allclose(scaler["mean"], train.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(scaler["scale"], train.std(axis=0), rtol=1e-9)
    assert not np.allclose(scaler["mean"], everything.mean(axis=0), rtol=1e-3)


def test_eval_reports_accuracy_f1_and_figures(
    trained: tuple[Path, Path, str], tmp_path: Path
) -> None:
    root, model, _ = trained
    out = tmp_path / "eval"
    args = ["eval", "genre", "--data", str(root), "--model", str(model), "--out", str(out)]
    result = runner.invoke(app, [*args, "--split", "all"])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.stdout and "| genre | precision | recall | F1 |" in result.stdout
    for name in ("confusion.png", "pca.png", "results.json", "predictions.csv"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "results.json").read_text())
    assert summary["clips"] == 50
    assert np.array(summary["confusion"]).sum() == 50
    assert summary["accuracy"] >= 0.8  # ten well-separated tones; the network must learn them


def test_genre_command_on_a_five_second_clip(
    trained: tuple[Path, Path, str], tmp_path: Path
) -> None:
    _, model, _ = trained
    path = tmp_path / "clip.wav"
    sf.write(path, genre_clip("metal", 2, seconds=5.0), 22050)
    result = runner.invoke(app, ["genre", str(path), "--model", str(model)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["label"] in GENRES and len(data["top3"]) == 3
    assert data["top3"][0]["label"] == data["label"]
    assert sum(data["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert len(data["windows"]) == 1 and data["duration_s"] == pytest.approx(5.0)
    assert data["tags"] == [] and data["uncertain"] is False  # GenreNet: no tags, no threshold


def test_genre_json_keeps_its_shape_and_gains_tags(tmp_path: Path) -> None:
    """The default (the music tagger, or GenreNet on GTZAN features without its wheel)."""
    path = tmp_path / "clip.wav"
    sf.write(path, genre_clip("rock", 3, seconds=7.0, sr=44100), 44100)
    result = runner.invoke(app, ["genre", str(path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("label", "confidence", "top3", "probabilities", "windows", "tags", "uncertain"):
        assert key in data, key
    assert data["model"] in ("musicnn", "gtzan")
    if data["model"] == "musicnn":
        assert len(data["tags"]) == 10
        assert all(0 <= t["probability"] <= 1 and t["source"] for t in data["tags"])
        assert data["uncertain"] == (data["confidence"] < 0.5)


def test_the_bundled_model_tags_a_five_second_clip(tmp_path: Path) -> None:
    path = tmp_path / "clip.wav"
    t = np.arange(5 * 44100) / 44100
    sf.write(path, 0.3 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 2 * t)), 44100)
    result = runner.invoke(app, ["genre", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["label"] in GENRES


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: sf.write(p, np.zeros(10 * 22050), 22050), "silent"),
        (lambda p: sf.write(p, 0.3 * np.ones(2 * 22050), 22050), "too short"),
        (lambda p: p.write_bytes(b"\x00" * 512), "not an audio file"),
    ],
)
def test_genre_command_refuses_bad_input(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "input.wav"
    make(path)
    result = runner.invoke(app, ["genre", str(path)])
    assert result.exit_code == 1
    assert "error:" in result.stderr and message in result.stderr


def test_dropout_and_l2_are_built_and_survive_saving(tmp_path: Path) -> None:
    from stemdeck.genre.model import build_genrenet, keras_module

    keras = keras_module()
    model = build_genrenet(dropout=0.5, l2=1e-3)
    path = tmp_path / "genrenet.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    dropouts = [layer.rate for layer in loaded.layers if isinstance(layer, keras.layers.Dropout)]
    penalties = [
        float(layer.kernel_regularizer.l2)
        for layer in loaded.layers
        if isinstance(layer, keras.layers.Dense) and layer.name != "genre"
    ]
    assert dropouts == [0.5] * len(HIDDEN)
    assert penalties == pytest.approx([1e-3] * len(HIDDEN))
    assert build_genrenet().layers[0].kernel_regularizer is None  # the seed's: no penalty


def test_input_noise_and_label_smoothing_are_built_and_survive_saving(tmp_path: Path) -> None:
    from stemdeck.genre.model import build_genrenet, keras_module

    keras = keras_module()
    model = build_genrenet(noise=0.1, smoothing=0.1)
    assert model.loss.get_config()["label_smoothing"] == pytest.approx(0.1)
    path = tmp_path / "genrenet.keras"
    model.save(path)
    loaded = keras.models.load_model(path, compile=False, safe_mode=True)
    noise = [layer for layer in loaded.layers if isinstance(layer, keras.layers.GaussianNoise)]
    assert [layer.stddev for layer in noise] == pytest.approx([0.1])
    assert [layer.units for layer in loaded.layers if hasattr(layer, "units")] == [*HIDDEN, 10]
    x = np.ones((4, 26), dtype="float32")
    np.testing.assert_allclose(loaded.predict_on_batch(x), loaded.predict_on_batch(x))  # off
    seed = build_genrenet()
    assert not any(isinstance(layer, keras.layers.GaussianNoise) for layer in seed.layers)
    assert seed.loss == "sparse_categorical_crossentropy"
