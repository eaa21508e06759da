"""The shared 3-band EQ against the Web Audio spec's cookbook formulas, written out again here."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from stemdeck.eq import filters
from stemdeck.eq.filters import (
    BANDS,
    apply_eq,
    band_definition,
    biquad_coefficients,
    frequency_response,
)

pytestmark = pytest.mark.unit

RATES = (22050, 44100, 48000)
GAINS = (-15.0, -10.0, -6.5, -1.0, 0.0, 0.25, 3.0, 9.5, 15.0)
#: Each kind at the frequency the EQ uses it, plus a few others.
KIND_FREQUENCIES = {
    "lowshelf": (100.0, 40.0, 250.0),
    "peaking": (1000.0, 60.0, 4000.0),
    "highshelf": (10000.0, 3000.0, 8000.0),
}


def cookbook(kind: str, f0: float, gain: float, fs: float, q: float = 1.0) -> list[float]:
    """b0, b1, b2, a0, a1, a2 as the Web Audio spec lists them ("Filters Characteristics")."""
    a = 10 ** (gain / 40)
    w0 = 2 * math.pi * f0 / fs
    alpha_q = math.sin(w0) / (2 * q)
    s = 1.0
    alpha_s = math.sin(w0) / 2 * math.sqrt((a + 1 / a) * (1 / s - 1) + 2)
    cos = math.cos(w0)
    if kind == "peaking":
        return [
            1 + alpha_q * a,
            -2 * cos,
            1 - alpha_q * a,
            1 + alpha_q / a,
            -2 * cos,
            1 - alpha_q / a,
        ]
    root = 2 * alpha_s * math.sqrt(a)
    if kind == "lowshelf":
        return [
            a * ((a + 1) - (a - 1) * cos + root),
            2 * a * ((a - 1) - (a + 1) * cos),
            a * ((a + 1) - (a - 1) * cos - root),
            (a + 1) + (a - 1) * cos + root,
            -2 * ((a - 1) + (a + 1) * cos),
            (a + 1) + (a - 1) * cos - root,
        ]
    assert kind == "highshelf"
    return [
        a * ((a + 1) + (a - 1) * cos + root),
        -2 * a * ((a - 1) + (a + 1) * cos),
        a * ((a + 1) + (a - 1) * cos - root),
        (a + 1) - (a - 1) * cos + root,
        2 * ((a - 1) - (a + 1) * cos),
        (a + 1) - (a - 1) * cos - root,
    ]


def response(coeffs: list[float], f: float, fs: float) -> complex:
    """H(z) = (b0 + b1 z^-1 + b2 z^-2) / (a0 + a1 z^-1 + a2 z^-2) at z = exp(j 2 pi f / fs)."""
    z = complex(math.cos(2 * math.pi * f / fs), math.sin(2 * math.pi * f / fs))
    b0, b1, b2, a0, a1, a2 = coeffs
    return (b0 + b1 / z + b2 / z**2) / (a0 + a1 / z + a2 / z**2)


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("kind", list(KIND_FREQUENCIES))
def test_coefficients_match_the_cookbook(kind: str, fs: int) -> None:
    for f0 in KIND_FREQUENCIES[kind]:
        got = biquad_coefficients(kind, f0, np.array(GAINS), fs)
        assert got.shape == (len(GAINS), 6)
        for gain, row in zip(GAINS, got, strict=True):
            np.testing.assert_allclose(row, cookbook(kind, f0, gain, fs), rtol=1e-6, atol=1e-6)
        scalar = biquad_coefficients(kind, f0, 4.0, fs)
        np.testing.assert_allclose(scalar, cookbook(kind, f0, 4.0, fs), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fs", RATES)
def test_eq_response_is_the_product_of_the_three_cookbook_filters(fs: int) -> None:
    freqs = np.concatenate([np.geomspace(10, fs / 2 * 0.999, 60), [0.0, 100, 1000, 10000]])
    rng = np.random.default_rng(fs)
    grid = [(g, -g, g / 2) for g in GAINS] + [tuple(rng.uniform(-15, 15, 3)) for _ in range(5)]
    for gains in grid:
        got = frequency_response(gains, freqs, fs)
        want = [
            np.prod(
                [
                    response(cookbook(b.kind, b.frequency, g, fs, b.q or 1.0), f, fs)
                    for b, g in zip(BANDS, gains, strict=True)
                ]
            )
            for f in freqs
        ]
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    batch = frequency_response(np.array(grid), freqs, fs)
    assert batch.shape == (len(grid), len(freqs))


@pytest.mark.parametrize("fs", RATES)
def test_known_gains_at_the_band_frequencies(fs: int) -> None:
    """Cookbook facts: a peak reaches its full gain at f0, a shelf half of it (in dB) at f0 and
    all of it at DC (low shelf) or Nyquist (high shelf)."""
    for gain in (-12.0, 7.0):
        db = {
            kind: 20
            * np.log10(
                np.abs(
                    filters.biquad_response(
                        biquad_coefficients(kind, f0, gain, fs), np.array([0.0, f0, fs / 2]), fs
                    )
                )
            )
            for kind, f0 in (("lowshelf", 100.0), ("peaking", 1000.0), ("highshelf", 10000.0))
        }
        np.testing.assert_allclose(db["peaking"][1], gain, atol=1e-9)
        np.testing.assert_allclose(db["lowshelf"][[0, 1]], [gain, gain / 2], atol=1e-9)
        np.testing.assert_allclose(db["highshelf"][[1, 2]], [gain / 2, gain], atol=1e-9)


def test_response_is_nan_outside_the_audible_range_like_web_audio() -> None:
    out = frequency_response([3, 3, 3], [-1.0, 30000.0], 44100)
    assert np.isnan(out).all()


def test_filtering_a_sine_scales_it_by_the_response() -> None:
    fs, seconds = 44100, 2.0
    gains = [9.0, -7.0, 11.0]
    t = np.arange(round(fs * seconds)) / fs
    for f in (60.0, 100.0, 700.0, 1000.0, 5000.0, 10000.0, 15000.0):
        sine = np.sin(2 * np.pi * f * t)
        out = apply_eq(sine, fs, gains)
        tail = slice(len(t) // 2, None)  # after the filters have settled
        basis = np.exp(-2j * np.pi * f * t[tail])
        measured = 2 * np.mean(out[tail] * basis) / (2 * np.mean(sine[tail] * basis))
        expected = frequency_response(gains, f, fs)
        np.testing.assert_allclose(abs(measured), abs(expected), rtol=1e-3)
        np.testing.assert_allclose(np.angle(measured / expected), 0.0, atol=1e-3)


def test_apply_eq_equals_one_pass_of_the_difference_equation() -> None:
    """Long signals are filtered in chunks side by side: the result is one pass's."""
    fs = 48000
    rng = np.random.default_rng(1)
    x = rng.normal(0, 0.1, (2, fs // 2))
    gains = [-15.0, 12.0, 15.0]
    sos = filters.sections(gains, fs)
    y = x.copy()
    for b0, b1, b2, _, a1, a2 in sos:  # direct form I, written out
        inp, out = y, np.zeros_like(y)
        x1 = x2 = y1 = y2 = np.zeros(len(y))
        for n in range(inp.shape[1]):
            v = b0 * inp[:, n] + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            x2, x1, y2, y1 = x1, inp[:, n], y1, v
            out[:, n] = v
        y = out
    warm = filters.settle_frames(sos)
    assert x.shape[1] > filters.chunk_frames(x.shape[1], warm)  # so it is filtered in chunks
    got = apply_eq(x, fs, gains)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, y, atol=1e-9)
    single = apply_eq(x.astype(np.float32), fs, gains)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, y, atol=1e-4)


def test_boost_then_cut_restores_the_signal() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(0, 0.1, 44100 * 3)
    gains = {"low": 8.0, "mid": -10.0, "high": 6.5}
    back = apply_eq(apply_eq(x, 44100, gains), 44100, {k: -v for k, v in gains.items()})
    np.testing.assert_allclose(back, x, atol=1e-9)


def test_batched_gains_filter_each_row_with_its_own_eq() -> None:
    rng = np.random.default_rng(3)
    rows = torch.from_numpy(rng.normal(0, 0.1, (3, 20000)))
    gains = torch.tensor([[1.0, 2.0, 3.0], [-9.0, 0.0, 9.0], [5.0, -5.0, 0.0]])
    together = apply_eq(rows, 44100, gains)
    assert isinstance(together, torch.Tensor)
    for i in range(3):
        alone = apply_eq(rows[i].numpy(), 44100, gains[i].numpy())
        np.testing.assert_allclose(together[i].numpy(), alone, atol=1e-10)


def test_bad_inputs_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="sample rate above 20000"):
        biquad_coefficients("highshelf", 10000.0, 3.0, 16000)
    with pytest.raises(ValueError, match="unknown filter kind"):
        biquad_coefficients("lowpass", 100.0, 3.0, 44100)
    with pytest.raises(ValueError, match="need 3 gains"):
        apply_eq(np.zeros(100), 44100, [1.0, 2.0])
    with pytest.raises(ValueError, match="unknown band"):
        apply_eq(np.zeros(100), 44100, {"bass": 3.0})
    with pytest.raises(ValueError, match="finite"):
        apply_eq(np.zeros(100), 44100, [math.nan, 0.0, 0.0])


def test_bands_json_is_the_band_definition() -> None:
    """The committed file the browser imports is what the Python code uses."""
    definition = band_definition()
    assert json.loads(filters.BANDS_JSON.read_text()) == definition
    assert [(b["type"], b["frequency"]) for b in definition["bands"]] == [
        ("lowshelf", 100.0),
        ("peaking", 1000.0),
        ("highshelf", 10000.0),
    ]
    assert definition["bands"][1]["Q"] == 1.0
    assert definition["bands"][0]["S"] == definition["bands"][2]["S"] == 1.0
