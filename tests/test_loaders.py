"""Dataset loaders: real MUSDB data from ../shared, generated .stem.mp4 files, synthetic-corpus
and GTZAN layouts, refusals of malformed layouts, and the weighted multi-dataset sampler."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from stemdeck.separator.checkpoints import load_model
from stemdeck.training.datasets import DatasetError
from stemdeck.training.gtzan import GENRES, GenreClip, find_gtzan, split_clips
from stemdeck.training.musdb import RATE, SOURCES, STEMS, find_tracks, read_splits
from stemdeck.training.sampling import ExcerptSampler, open_split, validation_tracks
from stemdeck.training.separator import TrainSettings, train
from tests.conftest import SHARED_AUDIO, TINY

pytestmark = pytest.mark.unit

MUSDB_HQ = SHARED_AUDIO / "musdb18hq-sample"
MUSDB_7 = SHARED_AUDIO / "musdb18-7"
HAS_FFMPEG = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def write_track(folder: Path, seconds: float, seed: int, level: float | None = None) -> None:
    """Five float WAVs; `level` makes every source a constant (so tests can tell sets apart)."""
    rng = np.random.default_rng(seed)
    frames = round(seconds * RATE)
    folder.mkdir(parents=True)
    stems = {}
    for name in SOURCES:
        if level is None:
            stems[name] = rng.uniform(-0.3, 0.3, (frames, 2)).astype(np.float32)
        else:
            stems[name] = np.full((frames, 2), level, np.float32)
    stems["mixture"] = sum(stems.values())
    for name, audio in stems.items():
        sf.write(folder / f"{name}.wav", audio, RATE, subtype="FLOAT")
    (folder / "metadata.json").write_text(json.dumps({"seed": seed}))


def make_corpus(
    root: Path, splits: dict[str, str], seconds: float = 1.0, level: float | None = None
) -> Path:
    """The synthetic corpus layout: train and valid tracks in train/, test tracks in test/."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed, (name, split) in enumerate(splits.items()):
        folder = root / ("test" if split == "test" else "train") / name
        write_track(folder, seconds, seed, level)
        rows.append([name, split, "rock", 120, "C", "gm", seed, seconds])
    with (root / "tracks.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["track", "split", "genre", "tempo", "key", "sound_set", "seed", "seconds"])
        writer.writerows(rows)
    return root


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return make_corpus(
        tmp_path / "synth",
        {"synth-000": "train", "synth-001": "valid", "synth-002": "train", "synth-003": "test"},
    )


# --- real data ------------------------------------------------------------------------------------


@pytest.mark.skipif(not MUSDB_HQ.exists(), reason="../shared/audio/musdb18hq-sample not present")
def test_musdb18hq_sample_reads_by_excerpt() -> None:
    (track,) = find_tracks(MUSDB_HQ, "train")
    assert track.name == "Music Delta - 80s Rock"
    assert find_tracks(MUSDB_HQ, "valid") == []
    assert track.frames == sf.info(str(track.path / "drums.wav")).frames
    expected = sf.read(str(track.path / "bass.wav"), start=1000, frames=4410, dtype="float32")[0]
    np.testing.assert_array_equal(track.read("bass", 1000, 4410), expected.T)
    stems = track.load()
    assert stems.shape == (4, 2, track.frames) and stems.dtype == np.float32
    assert all(np.abs(stems[i]).max() > 0.01 for i in range(4))


@pytest.mark.skipif(not MUSDB_7.exists(), reason="../shared/audio/musdb18-7 not present")
@pytest.mark.skipif(not HAS_FFMPEG, reason="ffmpeg is not installed (needed for .stem.mp4)")
def test_musdb18_7_reads_as_is_with_its_split() -> None:
    train_refs, valid_refs = find_tracks(MUSDB_7, "train"), find_tracks(MUSDB_7, "valid")
    assert (len(train_refs), len(valid_refs)) == (80, 14)
    table = read_splits(MUSDB_7)
    assert {r.name for r in valid_refs} == {n for n, s in table.items() if s == "valid"}
    assert table["Jokers, Jacks & Kings - Sea Of Leaves"] == "train"  # unquoted comma, as-is
    track = valid_refs[0]
    stems = track.load()
    assert stems.shape == (4, 2, track.frames)
    assert 6.0 * RATE < track.frames < 7.5 * RATE  # 6.8 s previews
    energies = [float(np.sqrt(np.mean(stems[i] ** 2))) for i in range(4)]
    assert len({round(e, 5) for e in energies}) == 4  # four distinct streams, not one repeated
    np.testing.assert_array_equal(track.read("vocals", 500, 1000), stems[3, :, 500:1500])


@pytest.mark.skipif(not HAS_FFMPEG, reason="ffmpeg is not installed")
def test_generated_stem_mp4_gives_sources_in_order(tmp_path: Path) -> None:
    """Stream 0 is the mixture, then drums, bass, other, vocals; each a distinct tone."""
    tones = {"mixture": 1000.0, "drums": 150.0, "bass": 300.0, "other": 600.0, "vocals": 1200.0}
    t = np.arange(RATE) / RATE
    inputs: list[str] = []
    for name in STEMS:
        wave = (0.3 * np.sin(2 * np.pi * tones[name] * t)).astype(np.float32)
        sf.write(tmp_path / f"{name}.wav", np.stack([wave, wave], 1), RATE)
        inputs += ["-i", str(tmp_path / f"{name}.wav")]
    target = tmp_path / "musdb" / "train" / "Band - Tune.stem.mp4"
    target.parent.mkdir(parents=True)
    maps = [arg for i in range(len(STEMS)) for arg in ("-map", f"{i}:a")]
    subprocess.run(
        ["ffmpeg", "-v", "error", *inputs, *maps, "-c:a", "aac", "-b:a", "128k", str(target)],
        check=True,
        timeout=60,
    )
    (track,) = find_tracks(tmp_path / "musdb", "train")
    assert track.name == "Band - Tune"
    stems = track.load()
    for i, name in enumerate(SOURCES):
        window = RATE // 2
        spectrum = np.abs(np.fft.rfft(stems[i, 0, 4096 : 4096 + window]))
        peak = np.argmax(spectrum) * RATE / window
        assert abs(peak - tones[name]) < 10, name

    single = tmp_path / "broken" / "train" / "Solo - Mix.stem.mp4"
    single.parent.mkdir(parents=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(tmp_path / "mixture.wav"), "-c:a", "aac", str(single)],
        check=True,
        timeout=60,
    )
    with pytest.raises(DatasetError, match=re.escape("Solo - Mix.stem.mp4 could not be decoded")):
        open_split(tmp_path / "broken", "train")


# --- synthetic corpus layout ----------------------------------------------------------------------


def test_synthetic_corpus_round_trips_with_split_from_tracks_csv(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_whole_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("a 44.1 kHz WAV track must be read by excerpt, not decoded whole")

    monkeypatch.setattr("stemdeck.training.musdb.read_audio", no_whole_decode)
    assert [t.name for t in find_tracks(corpus, "train")] == ["synth-000", "synth-002"]
    assert [t.name for t in find_tracks(corpus, "valid")] == ["synth-001"]
    assert [t.name for t in find_tracks(corpus, "test")] == ["synth-003"]
    track = find_tracks(corpus, "valid")[0]
    assert track.frames == RATE
    written = sf.read(str(track.path / "other.wav"), dtype="float32")[0].T
    np.testing.assert_array_equal(track.read("other", 2000, 300), written[:, 2000:2300])
    assert track.read("other", RATE - 100, 300).shape == (2, 100)  # callers pad at the end
    np.testing.assert_array_equal(track.load()[2], written)


def test_unquoted_comma_in_a_track_name_reads_as_is(tmp_path: Path) -> None:
    root = make_corpus(tmp_path / "c", {"Jokers, Jacks & Kings - Sea": "valid", "b": "train"})
    (root / "tracks.csv").write_text(
        "track,split,genre\nJokers, Jacks & Kings - Sea,valid,Pop/Rock\nb,train,Rock\n"
    )
    assert read_splits(root) == {"Jokers, Jacks & Kings - Sea": "valid", "b": "train"}
    assert [t.name for t in find_tracks(root, "valid")] == ["Jokers, Jacks & Kings - Sea"]


def test_off_rate_and_mono_wavs_are_converted(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "train" / "song"
    folder.mkdir(parents=True)
    for name in STEMS:
        sf.write(folder / f"{name}.wav", np.full(22050, 0.1, np.float32), 22050)
    (track,) = find_tracks(tmp_path / "data", "train")
    assert track.frames == RATE
    assert track.load().shape == (4, 2, RATE)


# --- GTZAN layout ---------------------------------------------------------------------------------


def make_gtzan(root: Path, clips: int = 10, genres: tuple[str, ...] = GENRES) -> Path:
    for g, genre in enumerate(genres):
        folder = root / genre
        folder.mkdir(parents=True)
        for i in range(clips):
            tone = np.sin(2 * np.pi * (100 + 10 * g) * np.arange(2205) / 22050).astype(np.float32)
            sf.write(folder / f"{genre}.{i:05d}.wav", 0.5 * tone, 22050, subtype="PCM_16")
    return root


def test_gtzan_layouts_split_and_load(tmp_path: Path) -> None:
    make_gtzan(tmp_path / "kaggle" / "genres_original")
    (tmp_path / "kaggle" / "features_30_sec.csv").write_text("filename,label\n")
    clips = find_gtzan(tmp_path / "kaggle")
    assert len(clips) == 100 and {c.genre for c in clips} == set(GENRES)
    parts = {s: split_clips(clips, s) for s in ("train", "valid", "test")}
    assert [len(p) for p in parts.values()] == [80, 10, 10]
    assert sorted(c.path for p in parts.values() for c in p) == sorted(c.path for c in clips)
    assert {c.path.name for c in parts["test"] if c.genre == "jazz"} == {"jazz.00009.wav"}
    assert split_clips(list(reversed(clips)), "valid") == parts["valid"]  # order-independent
    audio = clips[0].load(16000)
    assert audio.dtype == np.float32 and audio.shape == (1600,)

    flat = make_gtzan(tmp_path / "flat", clips=3)
    assert [len(split_clips(find_gtzan(flat), s)) for s in ("train", "valid", "test")] == [10] * 3
    assert isinstance(find_gtzan(flat)[0], GenreClip)


# --- malformed layouts ----------------------------------------------------------------------------


def _drop_vocals(root: Path) -> None:
    (root / "train" / "synth-000" / "vocals.wav").unlink()


def _garble_drums(root: Path) -> None:
    (root / "train" / "synth-002" / "drums.wav").write_bytes(b"not a wav file at all" * 10)


def _rename_csv_column(root: Path) -> None:
    table = root / "tracks.csv"
    table.write_text(table.read_text().replace("split", "subset", 1))


def _list_absent_track(root: Path) -> None:
    with (root / "tracks.csv").open("a") as handle:
        handle.write("Ghost - Track,train,rock,120,C,gm,9,1.0\n")


def _bad_split_value(root: Path) -> None:
    table = root / "tracks.csv"
    table.write_text(table.read_text().replace("synth-002,train", "synth-002,bogus"))


def _all_valid(root: Path) -> None:
    table = root / "tracks.csv"
    table.write_text(table.read_text().replace(",train,", ",valid,"))


def _empty_train(root: Path) -> None:
    shutil.rmtree(root / "train")
    (root / "train").mkdir()
    (root / "tracks.csv").unlink()


def _no_split_folders(root: Path) -> None:
    shutil.rmtree(root / "train")
    shutil.rmtree(root / "test")


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (_drop_vocals, "lacks vocals.wav"),
        (_garble_drums, "drums.wav"),
        (_rename_csv_column, "'split'"),
        (_list_absent_track, "'Ghost - Track'"),
        (_bad_split_value, "'bogus'"),
        (_all_valid, "no train tracks"),
        (_empty_train, "holds no tracks"),
        (_no_split_folders, "no 'train' folder"),
    ],
)
def test_malformed_musdb_layouts_are_refused(
    corpus: Path, damage: Callable[[Path], None], named: str
) -> None:
    damage(corpus)
    with pytest.raises(DatasetError, match=re.escape(named)) as caught:
        open_split(corpus, "train")
    assert isinstance(caught.value, ValueError)


def test_missing_test_folder_and_missing_root_are_named(tmp_path: Path) -> None:
    root = make_corpus(tmp_path / "c", {"a": "train"})
    with pytest.raises(DatasetError, match="no 'test' folder"):
        find_tracks(root, "test")
    with pytest.raises(DatasetError, match="does not exist"):
        find_tracks(tmp_path / "nowhere", "train")


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda g: (g / "polka").mkdir(), "unknown genre folder.*polka"),
        (lambda g: shutil.rmtree(g / "reggae"), "no folder for genre.*reggae"),
        (lambda g: (g / "jazz" / "jazz.00000.wav").unlink(), "jazz holds no .wav clips"),
    ],
)
def test_malformed_gtzan_layouts_are_refused(
    tmp_path: Path, damage: Callable[[Path], None], named: str
) -> None:
    root = tmp_path / "gtzan"
    damage(make_gtzan(root / "genres_original", clips=1))
    with pytest.raises(DatasetError, match=named):
        find_gtzan(root)
    with pytest.raises(DatasetError, match="does not exist"):
        find_gtzan(tmp_path / "nowhere")


# --- sampling and training ------------------------------------------------------------------------


@pytest.fixture
def two_sets(tmp_path: Path) -> tuple[Path, Path]:
    """Set A's sources are all 0.5, set B's 0.05: after gains of 0.25-1.25 they cannot overlap."""
    real = make_corpus(tmp_path / "a", {"a1": "train", "a2": "train", "a3": "valid"}, 0.2, 0.5)
    synth = make_corpus(tmp_path / "b", {"b1": "train", "b2": "train", "b3": "valid"}, 0.2, 0.05)
    return real, synth


def test_mixed_sampler_draws_by_weight_and_is_deterministic(two_sets: tuple[Path, Path]) -> None:
    sampler = ExcerptSampler([open_split(r, "train") for r in two_sets], weights=[3, 1])
    stems, origin = sampler.sample(400, 64, torch.Generator().manual_seed(1))
    assert stems.shape == (400, 4, 2, 64)
    assert 0.68 < float((origin == 0).float().mean()) < 0.82
    level = stems.abs().amax(dim=(2, 3))  # (batch, sources)
    assert bool(((level > 0.1) == (origin == 0)[:, None]).all())  # every stem from its set
    assert level.min() >= 0.05 * 0.25 - 1e-6 and level.max() <= 0.5 * 1.25 + 1e-6
    again, origin_again = sampler.sample(400, 64, torch.Generator().manual_seed(1))
    assert torch.equal(stems, again) and torch.equal(origin, origin_again)
    other, _ = sampler.sample(400, 64, torch.Generator().manual_seed(2))
    assert not torch.equal(stems, other)
    with pytest.raises(ValueError, match="2 weights for 1 datasets"):
        ExcerptSampler([open_split(two_sets[0], "train")], weights=[1, 1])


def test_sampler_redraws_silent_excerpts(tmp_path: Path) -> None:
    root = make_corpus(tmp_path / "s", {"silent": "train", "loud": "train"}, 0.2)
    sf_path = root / "train" / "silent"
    for name in STEMS:
        sf.write(sf_path / f"{name}.wav", np.zeros((round(0.2 * RATE), 2), np.float32), RATE)
    sampler = ExcerptSampler([open_split(root, "train")])
    stems, _ = sampler.sample(64, 256, torch.Generator().manual_seed(0))
    assert bool((stems.abs().amax(dim=(1, 2, 3)) > 0).all())


def test_training_mixes_datasets_and_validates_on_the_first_alone(
    tmp_path: Path, two_sets: tuple[Path, Path]
) -> None:
    assert [t.name for t in validation_tracks(two_sets)] == ["a3"]
    assert [t.name for t in validation_tracks(two_sets[::-1])] == ["b3"]
    settings = TrainSettings(steps=2, batch=2, segment=0.1, valid_every=2, bf16=False)
    messages: list[str] = []
    train(list(two_sets), tmp_path / "run", TINY, settings, log=messages.append, weights=[1, 3])
    assert any("drawn 75% of the time" in m for m in messages)
    assert any(m.startswith("1 validation tracks") for m in messages)
    training = load_model(tmp_path / "run" / "best.pt").metadata["training"]
    assert training["data_weights"] == [0.25, 0.75]
    assert training["train_tracks"] == 4
    real_train_only = make_corpus(tmp_path / "c", {"c1": "train"}, 0.2, 0.5)
    with pytest.raises(DatasetError, match=r"no validation tracks.*first --data"):
        train([real_train_only, two_sets[1]], tmp_path / "run2", TINY, settings, log=lambda _: None)


def test_cli_checks_weights_and_reports_layout_errors(tmp_path: Path, corpus: Path) -> None:
    from stemdeck.cli.train import app

    runner = CliRunner()
    result = runner.invoke(
        app, ["separator", "--data", str(corpus), "--data", str(corpus), "--data-weight", "1"]
    )
    assert result.exit_code == 2
    assert "one weight per --data" in result.output
    _drop_vocals(corpus)
    result = runner.invoke(
        app, ["separator", "--data", str(corpus), "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 1
    assert "lacks vocals.wav" in result.output
