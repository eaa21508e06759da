"""The 26 GenreNet features against values computed another way, and the track windows."""

from __future__ import annotations

import subprocess
import sys

import librosa
import numpy as np
import pytest

from stemdeck.genre.features import (
    FEATURE_NAMES,
    MAX_WINDOWS,
    feature_vector,
    track_features,
    window_bounds,
)
from stemdeck.genre.scaler import Scaler

pytestmark = pytest.mark.unit

SR = 22050


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    rng = np.random.default_rng(3)
    t = np.arange(4 * SR) / SR
    y = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1250 * t * (1 + 0.1 * t))
    y += 0.05 * rng.standard_normal(t.size)
    y *= 0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t) ** 2  # level changes across frames
    return y.astype(np.float32)


def _frames(y: np.ndarray, mode: str) -> np.ndarray:
    padded = np.pad(y.astype(np.float64), 1024, mode=mode)
    count = 1 + (len(padded) - 2048) // 512
    return np.stack([padded[i * 512 : i * 512 + 2048] for i in range(count)])


def test_order_and_names() -> None:
    assert len(FEATURE_NAMES) == 26
    assert FEATURE_NAMES[:6] == (
        "chroma_stft_mean",
        "rms_mean",
        "spectral_centroid_mean",
        "spectral_bandwidth_mean",
        "rolloff_mean",
        "zero_crossing_rate_mean",
    )
    assert FEATURE_NAMES[6] == "mfcc1_mean" and FEATURE_NAMES[-1] == "mfcc20_mean"


def test_time_domain_and_centroid_match_numpy_formulas(signal: np.ndarray) -> None:
    """RMS, centroid and ZCR written out in numpy from their definitions."""
    features = feature_vector(signal, SR)
    rms = np.sqrt(np.mean(_frames(signal, "constant") ** 2, axis=1)).mean()
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2048) / 2048)  # periodic Hann
    spectrum = np.abs(np.fft.rfft(_frames(signal, "constant") * window, axis=1))
    freqs = np.fft.rfftfreq(2048, 1 / SR)
    centroid = ((spectrum * freqs).sum(axis=1) / spectrum.sum(axis=1)).mean()
    frames = _frames(signal, "edge")
    signs = np.signbit(frames)
    zcr = (np.abs(np.diff(signs.astype(np.int8), axis=1)) > 0).sum(axis=1).mean() / 2048
    assert features[1] == pytest.approx(rms, rel=1e-4)
    assert features[2] == pytest.approx(centroid, rel=1e-4)
    assert features[5] == pytest.approx(zcr, rel=1e-3)


def test_matches_the_seeds_per_feature_librosa_calls(signal: np.ndarray) -> None:
    """Each feature as the seed computed it: a separate librosa call on y, then the mean."""
    y = signal
    expected = [
        librosa.feature.chroma_stft(y=y, sr=SR).mean(),
        librosa.feature.rms(y=y).mean(),
        librosa.feature.spectral_centroid(y=y, sr=SR).mean(),
        librosa.feature.spectral_bandwidth(y=y, sr=SR).mean(),
        librosa.feature.spectral_rolloff(y=y, sr=SR).mean(),
        librosa.feature.zero_crossing_rate(y).mean(),
        *librosa.feature.mfcc(y=y, sr=SR, n_mfcc=20).mean(axis=1),
    ]
    np.testing.assert_allclose(feature_vector(y, SR), expected, rtol=1e-4, atol=1e-4)


def test_a_pure_tone_has_its_frequency_as_centroid() -> None:
    t = np.arange(3 * SR) / SR
    features = feature_vector((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), SR)
    assert features[2] == pytest.approx(1000, rel=0.03)
    assert features[5] * SR == pytest.approx(2000, rel=0.02)  # two crossings per cycle
    assert features[1] == pytest.approx(0.5 / np.sqrt(2), rel=0.02)


def test_windows_cover_the_whole_track() -> None:
    assert window_bounds(10 * SR) == [(0, 10 * SR)]
    bounds = window_bounds(95 * SR)
    assert len(bounds) == 4 and bounds[0][0] == 0 and bounds[-1][1] == 95 * SR
    assert all(b - a == 30 * SR for a, b in bounds)
    assert len(window_bounds(600 * SR)) == MAX_WINDOWS
    five_seconds = 0.1 * np.sin(2 * np.pi * 220 * np.arange(5 * SR) / SR)
    assert track_features(five_seconds.astype(np.float32)).shape == (1, 26)


def test_scaler_round_trips_through_json() -> None:
    rows = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [5.0, 5.0, 9.0]])
    scaler = Scaler.fit(rows, ("a", "b", "c"))
    assert scaler.scale[1] == 1.0  # a constant feature is not divided by zero
    again = Scaler.from_json(scaler.to_json())
    np.testing.assert_allclose(again.transform(rows), scaler.transform(rows))
    np.testing.assert_allclose(scaler.transform(rows).mean(axis=0), 0, atol=1e-6)


def test_features_and_analysis_do_not_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "import stemdeck.genre.features, stemdeck.genre.analysis, stemdeck.genre.model\n"
        "import stemdeck.genre.predict, stemdeck.training.profile, stemdeck.cli.main\n"
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
