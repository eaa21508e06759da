"""Shared fixtures: a tiny random separator, generated songs, and Redis and S3 servers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

# triton's extension segfaults when it first loads after TensorFlow's (torch 2.14, TF 2.21; the
# Adam constructor loads it). Loaded first, both work, and the suite imports both in one process.
with contextlib.suppress(ImportError):
    import triton  # noqa: F401

from stemdeck.common.audio import write_audio
from stemdeck.separator.checkpoints import save_checkpoint
from stemdeck.separator.config import TasNetConfig
from stemdeck.separator.model import ConvTasNet
from tests.servers import Server, moto_server, redis_server

#: Every test is exactly one of these kinds (a module-level `pytestmark`); `slow` is added to
#: those that take more than a few seconds. The fast lane: pytest -m "not slow and not browser".
TEST_KINDS = ("unit", "service", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a test that says no kind, or two: the fast lane must know what it leaves out."""
    for item in items:
        kinds = {mark.name for mark in item.iter_markers() if mark.name in TEST_KINDS}
        if len(kinds) != 1:
            raise pytest.UsageError(
                f"{item.nodeid} is marked {sorted(kinds) or 'with no kind'}: give its module "
                f"exactly one of {', '.join(TEST_KINDS)} (pytestmark = pytest.mark.unit, ...)"
            )


SHARED_AUDIO = Path(__file__).resolve().parents[1].parent / "shared" / "audio"
#: Small enough to run a minute of audio in a second or two; same architecture as the real one.
TINY = TasNetConfig(N=16, B=16, H=32, X=4, R=1)


def make_song(seconds: float, rate: int = 44100, channels: int = 2, seed: int = 0) -> np.ndarray:
    """A few seconds of tones, a bass line and noise hits: music-like, deterministic."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    song = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 55 * t)
    hits = (np.sin(2 * np.pi * 2 * t) > 0.95) * rng.normal(0, 0.2, t.size)
    mono = (song + hits).astype(np.float32)
    return np.stack([mono * (0.8 + 0.2 * c) for c in range(channels)])


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny.pt"
    return save_checkpoint(path, ConvTasNet(TINY), {"purpose": "tests (random weights)"})


@pytest.fixture(autouse=True)
def isolated_model_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test sees (or fills) the user's real model cache."""
    cache = tmp_path / "model-cache"
    monkeypatch.setenv("STEMDECK_MODEL_DIR", str(cache))
    return cache


@pytest.fixture
def song_wav(tmp_path: Path) -> Path:
    path = tmp_path / "song.wav"
    write_audio(path, make_song(3.0))
    return path


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real Redis server of the test module's own, on a free loopback port."""
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def s3() -> Iterator[Server]:
    """A real S3 endpoint (moto_server) of the test module's own, on a free loopback port."""
    with moto_server() as server:
        yield server
