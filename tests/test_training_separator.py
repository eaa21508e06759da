"""Separator training on a tiny multitrack set in MUSDB layouts: runs, validates, resumes."""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from stemdeck.common.audio import write_audio
from stemdeck.separator.checkpoints import CheckpointError, load_model
from stemdeck.separator.config import load_config
from stemdeck.training.musdb import SOURCES, find_tracks
from stemdeck.training.sampling import open_split
from stemdeck.training.separator import TrainSettings, pick_device, steps_for_epochs, train
from tests.conftest import TINY

pytestmark = pytest.mark.unit

RATE = 44100


def make_stems(seconds: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * RATE)) / RATE
    tones = {
        "drums": rng.normal(0, 0.1, t.size) * (np.sin(2 * np.pi * 3 * t) > 0.8),
        "bass": 0.2 * np.sin(2 * np.pi * 55 * t),
        "other": 0.1 * np.sin(2 * np.pi * 330 * t),
        "vocals": 0.1 * np.sin(2 * np.pi * 440 * t + np.sin(2 * np.pi * 5 * t)),
    }
    return {k: np.stack([v, v]).astype(np.float32) for k, v in tones.items()}


def make_musdb_hq(root: Path, names: dict[str, str], seconds: float = 1.5) -> Path:
    """ROOT/train/<track>/{mixture,drums,bass,other,vocals}.wav and a tracks.csv split."""
    for i, name in enumerate(names):
        folder = root / "train" / name
        folder.mkdir(parents=True)
        stems = make_stems(seconds, i)
        for stem, audio in stems.items():
            write_audio(folder / f"{stem}.wav", audio, bit_depth=32)
        write_audio(folder / "mixture.wav", sum(stems.values()), bit_depth=32)
    rows = "".join(f"{name},{split}\n" for name, split in names.items())
    (root / "tracks.csv").write_text("track,split\n" + rows)
    return root


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_musdb_hq(
        tmp_path / "data", {"A - One": "train", "B - Two": "train", "C - Three": "valid"}
    )


def test_split_comes_from_tracks_csv(dataset: Path) -> None:
    assert [t.name for t in find_tracks(dataset, "train")] == ["A - One", "B - Two"]
    assert [t.name for t in find_tracks(dataset, "valid")] == ["C - Three"]
    stems = find_tracks(dataset, "valid")[0].load()
    assert stems.shape == (4, 2, round(1.5 * RATE))


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_stem_mp4_streams_load_in_musdb_order(tmp_path: Path) -> None:
    stems = make_stems(1.0, 0)
    inputs = []
    for name in ("mixture", *SOURCES):
        audio = sum(stems.values()) if name == "mixture" else stems[name]
        write_audio(tmp_path / f"{name}.wav", audio)
        inputs += ["-i", str(tmp_path / f"{name}.wav")]
    target = tmp_path / "musdb" / "test" / "Artist - Song.stem.mp4"
    target.parent.mkdir(parents=True)
    maps = [arg for i in range(5) for arg in ("-map", str(i))]
    subprocess.run(
        ["ffmpeg", "-v", "error", *inputs, *maps, "-c:a", "aac", "-b:a", "256k", str(target)],
        check=True,
    )
    (track,) = find_tracks(tmp_path / "musdb", "test")
    assert track.name == "Artist - Song"
    loaded = track.load()
    for i, name in enumerate(SOURCES):  # each stream is the right instrument (AAC is lossy)
        n = min(loaded.shape[-1], stems[name].shape[-1])
        corr = np.corrcoef(loaded[i, 0, 3000 : n - 3000], stems[name][0, 3000 : n - 3000])[0, 1]
        assert corr > 0.9, name


def test_training_writes_a_usable_model_and_history(tmp_path: Path, dataset: Path) -> None:
    settings = TrainSettings(steps=4, batch=2, segment=0.5, valid_every=2, bf16=False)
    best = train(dataset, tmp_path / "run", TINY, settings, log=lambda _: None)
    loaded = load_model(best)
    assert loaded.config == TINY
    assert loaded.metadata["training"]["train_tracks"] == 2
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert history[0].startswith("step,loss,lr,seconds,cpu_seconds,valid_sdr,sdr_drums")
    assert len(history) == 3
    assert (tmp_path / "run" / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_fine_tuning_starts_from_the_given_weights(tmp_path: Path, dataset: Path) -> None:
    settings = TrainSettings(steps=2, batch=2, segment=0.5, valid_every=2, bf16=False)
    first = train(dataset, tmp_path / "first", TINY, settings, log=lambda _: None)
    logs: list[str] = []
    tuned = train(dataset, tmp_path / "tuned", TINY, settings, log=logs.append, init=first)
    assert any("starting from the weights" in line for line in logs)
    assert load_model(tuned).metadata["training"]["init"] == str(first)
    wrong = replace(TINY, H=48)
    with pytest.raises(CheckpointError, match="not the requested"):
        train(dataset, tmp_path / "wrong", wrong, settings, log=lambda _: None, init=first)


def test_a_stopped_run_resumes_exactly(tmp_path: Path, dataset: Path) -> None:
    settings = TrainSettings(steps=4, batch=2, segment=0.5, valid_every=2, bf16=False)
    train(dataset, tmp_path / "straight", TINY, settings, log=lambda _: None)

    def stop_after_step_three(step: int, total: int, loss: float) -> None:
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(
            dataset,
            tmp_path / "resumed",
            TINY,
            settings,
            log=lambda _: None,
            progress=stop_after_step_three,
        )
    messages: list[str] = []
    train(dataset, tmp_path / "resumed", TINY, settings, log=messages.append)
    assert any("resumed at step 2" in m for m in messages)
    straight = torch.load(tmp_path / "straight" / "state.pt", weights_only=True)["model"]
    resumed = torch.load(tmp_path / "resumed" / "state.pt", weights_only=True)["model"]
    for key, value in straight.items():
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=0)


@pytest.mark.slow
def test_cli_trains_and_reports_missing_data(tmp_path: Path, dataset: Path) -> None:
    cli = [sys.executable, "-m", "stemdeck.cli.main", "train", "separator"]
    missing = subprocess.run(
        [*cli, "--data", str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 1
    assert "no 'train' folder" in missing.stderr
    done = subprocess.run(
        [
            *cli,
            "--data",
            str(dataset),
            "--out",
            str(tmp_path / "run"),
            "--steps",
            "2",
            "--batch",
            "1",
            "--segment",
            "0.5",
            "--valid-every",
            "1",
            "--config",
            "compact",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "best.pt").is_file()


def tiny_config_file(folder: Path) -> Path:
    path = folder / "tiny.json"
    path.write_text(json.dumps(TINY.to_dict()))
    return path


def train_cli(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
    cli = [sys.executable, "-m", "stemdeck.cli.main", "train", "separator"]
    return subprocess.run([*cli, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def loss_curve(run: Path) -> list[tuple[str, str]]:
    with (run / "history.csv").open(newline="") as handle:
        return [(row["step"], row["loss"]) for row in csv.DictReader(handle)]


@pytest.mark.slow
def test_a_killed_run_resumes_on_the_same_loss_curve(tmp_path: Path, dataset: Path) -> None:
    """SIGKILL mid-run, start the same command again: the history matches an unbroken run."""
    common = ["--data", dataset, "--config", tiny_config_file(tmp_path), "--steps", "120",
              "--batch", "1", "--segment", "0.5", "--valid-every", "4", "--no-bf16",
              "--device", "cpu"]  # fmt: skip
    straight = train_cli(*common, "--out", tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr
    run = tmp_path / "killed"
    cli = [sys.executable, "-m", "stemdeck.cli.main", "train", "separator"]
    process = subprocess.Popen(
        [*cli, *map(str, common), "--out", str(run)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (run / "state.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    resumed = train_cli(*common, "--out", run)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed at step" in resumed.stderr
    assert loss_curve(run) == loss_curve(tmp_path / "straight")


@pytest.mark.slow
def test_resume_from_an_explicit_checkpoint(tmp_path: Path, dataset: Path) -> None:
    settings = TrainSettings(steps=2, batch=1, segment=0.5, valid_every=2, bf16=False)
    train(dataset, tmp_path / "first", TINY, settings, log=lambda _: None)
    more = replace(settings, steps=4)
    messages: list[str] = []
    train(dataset, tmp_path / "next", TINY, more, resume=tmp_path / "first", log=messages.append)
    assert any("resumed at step 2" in m for m in messages)
    assert [step for step, _ in loss_curve(tmp_path / "next")] == ["4"]
    missing = train_cli("--data", dataset, "--out", tmp_path / "x", "--resume", tmp_path / "no.pt")
    assert missing.returncode == 1
    assert "no training state to resume" in missing.stderr


def test_epochs_set_the_step_count_from_the_training_audio(dataset: Path) -> None:
    tracks = [open_split(dataset, "train")]  # two songs of 1.5 s
    settings = TrainSettings(batch=2, segment=0.5, epochs=2.0)
    assert steps_for_epochs(settings, tracks) == 6
    assert steps_for_epochs(replace(settings, epochs=None, steps=9), tracks) == 9


def test_config_from_a_json_file(tmp_path: Path) -> None:
    assert load_config(str(tiny_config_file(tmp_path))) == TINY
    assert load_config("compact").R == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"N": 16, "wings": 2}')
    with pytest.raises(ValueError, match="unknown Conv-TasNet settings: wings"):
        load_config(str(bad))
    with pytest.raises(ValueError, match="no configuration file"):
        load_config(str(tmp_path / "absent.json"))
    with pytest.raises(ValueError, match=r"or a \.json file"):
        load_config("huge")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error(tmp_path: Path, dataset: Path) -> None:
    result = train_cli("--data", dataset, "--out", tmp_path / "run", "--device", "cuda")
    assert result.returncode == 1
    assert "sees no CUDA GPU" in result.stderr
    assert pick_device("auto").type == "cpu"
