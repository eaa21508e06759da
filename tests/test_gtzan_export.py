"""`synth-genres` clip making when a synthesiser fails on one arrangement: the clip is retried
with other seeds, and a clip that never renders is reported without ending the run (the
rendering itself is replaced here; tests/test_synth_corpus.py renders for real)."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from stemdeck.training.synth import gtzan_export
from stemdeck.training.synth.gtzan_export import RENDER_TRIES, ClipJob, run_clips

pytestmark = pytest.mark.unit


def fake_render(bad_seeds: set[int]) -> Any:
    def render(genre: str, seconds: float, seed: int, name: str, sound_set: str) -> Any:
        if seed in bad_seeds:
            raise RuntimeError("festival failed on voice lp_diphone")
        song = SimpleNamespace(tempo=120.0, key="C major")
        mixture = 0.1 * np.ones((2, int(seconds * 44100)), dtype=np.float32)
        return song, SimpleNamespace(mixture=mixture)

    return render


def test_a_failing_render_is_retried_with_another_seed_and_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gtzan_export, "make_song", fake_render({11}))
    ((_job, row, _seconds, error),) = run_clips([ClipJob("rock", 18, 11, "train")], tmp_path)
    assert error is None and row is not None and row["seed"] != 11
    assert (tmp_path / "genres_original/rock/rock.00018.wav").is_file()


def test_a_clip_that_never_renders_is_reported_and_the_others_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hopeless = {5 + gtzan_export._RETRY_SEED_STEP * n for n in range(RENDER_TRIES)}
    monkeypatch.setattr(gtzan_export, "make_song", fake_render(hopeless))
    jobs = [ClipJob("rock", 0, 5, "train"), ClipJob("jazz", 0, 6, "train")]
    results = {job.genre: (row, error) for job, row, _, error in run_clips(jobs, tmp_path)}
    assert results["rock"][0] is None and "lp_diphone" in results["rock"][1]
    assert results["jazz"][1] is None
    with (tmp_path / "genres_original/clips.csv").open() as handle:
        assert [row["genre"] for row in csv.DictReader(handle)] == ["jazz"]
    assert not (tmp_path / "genres_original/rock").exists()
