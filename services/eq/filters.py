"""The one 3-band EQ of StemDeck: training damage, server-side rendering and the browser mixer.

Bands: a low shelf at 100 Hz, a peaking filter at 1 kHz (Q 1.0) and a high shelf at 10 kHz, each
with a gain in dB. The coefficients are the Audio EQ Cookbook (Robert Bristow-Johnson) formulas
exactly as the Web Audio specification writes them for `BiquadFilterNode`
(https://webaudio.github.io/web-audio-api/#filters-characteristics):

    A = 10^(G/40),  w0 = 2 pi f0 / Fs,  alpha_Q = sin(w0) / (2 Q),
    alpha_S = sin(w0) / 2 * sqrt((A + 1/A) (1/S - 1) + 2)   with S = 1 in Web Audio,

so a gain computed here is the gain a browser applies with a `lowshelf` / `peaking` /
`highshelf` node of the same frequency, Q and gain (Web Audio ignores Q for shelves). The seed
trained on three peaking filters but corrected with shelves; having one definition is what makes
a predicted correction undo the damage it was trained on.

Arrays follow the spec's naming: six raw coefficients (b0, b1, b2, a0, a1, a2), a0 not
normalised; `sections` gives normalised second-order sections for filtering.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported where it runs: the API renders EQ with numpy alone
    import torch

#: Web Audio BiquadFilterType names this module implements.
KINDS = ("lowshelf", "peaking", "highshelf")
#: Predicted and applied gains are kept within +-GAIN_LIMIT_DB.
GAIN_LIMIT_DB = 15.0
#: Training damage is drawn uniformly from +-DAMAGE_RANGE_DB per band.
DAMAGE_RANGE_DB = 10.0
SPEC_URL = "https://webaudio.github.io/web-audio-api/#filters-characteristics"


@dataclass(frozen=True)
class Band:
    """One band of the EQ, in Web Audio terms.

    Attributes:
        name: "low", "mid" or "high" (the key of its gain everywhere).
        kind: the BiquadFilterNode type: "lowshelf", "peaking" or "highshelf".
        frequency: f0 in Hz (shelf midpoint, or peak centre).
        q: Q of a peaking filter (Web Audio's `Q` AudioParam); None for shelves.
        slope: shelf slope S of a shelf (Web Audio fixes S = 1); None for peaking.
    """

    name: str
    kind: str
    frequency: float
    q: float | None = None
    slope: float | None = None


BANDS: tuple[Band, ...] = (
    Band("low", "lowshelf", 100.0, slope=1.0),
    Band("mid", "peaking", 1000.0, q=1.0),
    Band("high", "highshelf", 10000.0, slope=1.0),
)
BAND_NAMES: tuple[str, ...] = tuple(band.name for band in BANDS)


def biquad_coefficients(
    kind: str,
    frequency: float,
    gain_db: float | np.ndarray,
    sample_rate: float,
    q: float = 1.0,
    slope: float = 1.0,
) -> np.ndarray:
    """Raw (b0, b1, b2, a0, a1, a2) of one cookbook filter, float64, shape gain.shape + (6,).

    `gain_db` may be an array (one filter per gain). `q` is used by "peaking" only, `slope` (S)
    by the shelves only, as in Web Audio. The frequency must lie strictly between 0 and the
    Nyquist frequency (Web Audio special-cases the ends; StemDeck never uses them).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown filter kind {kind!r}; use one of {', '.join(KINDS)}")
    if not 0 < frequency < sample_rate / 2:
        raise ValueError(
            f"{kind} at {frequency} Hz needs a sample rate above {2 * frequency:g} Hz, "
            f"not {sample_rate:g} Hz"
        )
    gain = np.asarray(gain_db, dtype=np.float64)
    a = 10.0 ** (gain / 40.0)
    w0 = 2.0 * np.pi * frequency / sample_rate
    cos_w0, sin_w0 = np.cos(w0), np.sin(w0)
    if kind == "peaking":
        if q <= 0:
            raise ValueError(f"peaking Q must be positive, not {q}")
        alpha = sin_w0 / (2.0 * q)
        one = np.ones_like(a)
        coeffs = (
            1.0 + alpha * a,
            -2.0 * cos_w0 * one,
            1.0 - alpha * a,
            1.0 + alpha / a,
            -2.0 * cos_w0 * one,
            1.0 - alpha / a,
        )
        return np.stack(coeffs, axis=-1)
    if slope <= 0:
        raise ValueError(f"shelf slope S must be positive, not {slope}")
    alpha_s = sin_w0 / 2.0 * np.sqrt((a + 1.0 / a) * (1.0 / slope - 1.0) + 2.0)
    k = 2.0 * alpha_s * np.sqrt(a)
    sign = 1.0 if kind == "lowshelf" else -1.0  # the high shelf mirrors the cos(w0) terms
    coeffs = (
        a * ((a + 1.0) - sign * (a - 1.0) * cos_w0 + k),
        sign * 2.0 * a * ((a - 1.0) - sign * (a + 1.0) * cos_w0),
        a * ((a + 1.0) - sign * (a - 1.0) * cos_w0 - k),
        (a + 1.0) + sign * (a - 1.0) * cos_w0 + k,
        -sign * 2.0 * ((a - 1.0) + sign * (a + 1.0) * cos_w0),
        (a + 1.0) + sign * (a - 1.0) * cos_w0 - k,
    )
    return np.stack(coeffs, axis=-1)


def band_coefficients(band: Band, gain_db: float | np.ndarray, sample_rate: float) -> np.ndarray:
    """`biquad_coefficients` for one of the EQ's bands."""
    return biquad_coefficients(
        band.kind,
        band.frequency,
        gain_db,
        sample_rate,
        q=band.q if band.q is not None else 1.0,
        slope=band.slope if band.slope is not None else 1.0,
    )


def _gains(gains_db: Sequence[float] | np.ndarray | dict[str, float]) -> np.ndarray:
    """Gains as a float64 array (..., 3) in band order; a dict is keyed by band name."""
    if isinstance(gains_db, dict):
        unknown = set(gains_db) - set(BAND_NAMES)
        if unknown:
            raise ValueError(f"unknown band(s) {sorted(unknown)}; the bands are {BAND_NAMES}")
        gains_db = [float(gains_db.get(name, 0.0)) for name in BAND_NAMES]
    gains = np.asarray(gains_db, dtype=np.float64)
    if gains.shape[-1:] != (len(BANDS),):
        raise ValueError(f"need {len(BANDS)} gains (low, mid, high), got shape {gains.shape}")
    if not np.isfinite(gains).all():
        raise ValueError("EQ gains must be finite numbers")
    return gains


def sections(
    gains_db: Sequence[float] | np.ndarray | dict[str, float], sample_rate: float
) -> np.ndarray:
    """Normalised second-order sections (..., 3 bands, 6) = [b0, b1, b2, 1, a1, a2] / a0,
    the layout scipy.signal.sosfilt uses."""
    gains = _gains(gains_db)
    raw = np.stack(
        [band_coefficients(band, gains[..., i], sample_rate) for i, band in enumerate(BANDS)],
        axis=-2,
    )
    return raw / raw[..., 3:4]


def biquad_response(coefficients: np.ndarray, freqs: np.ndarray, sample_rate: float) -> np.ndarray:
    """Complex H(e^{jw}) of raw (..., 6) coefficients at `freqs` Hz (shape coeffs[..., 0] +
    freqs.shape); NaN outside [0, Nyquist], as BiquadFilterNode.getFrequencyResponse says."""
    coefficients = np.asarray(coefficients, dtype=np.float64)
    f = np.asarray(freqs, dtype=np.float64)
    z1 = np.exp(-1j * 2.0 * np.pi * f / sample_rate)  # z^-1 on the unit circle
    c = coefficients.reshape(coefficients.shape[:-1] + (1,) * f.ndim + (6,))
    num = c[..., 0] + c[..., 1] * z1 + c[..., 2] * z1**2
    den = c[..., 3] + c[..., 4] * z1 + c[..., 5] * z1**2
    out = num / den
    outside = (f < 0) | (f > sample_rate / 2)
    return np.where(outside, np.nan + 1j * np.nan, out)


def frequency_response(
    gains_db: Sequence[float] | np.ndarray | dict[str, float],
    freqs: np.ndarray | Sequence[float],
    sample_rate: float,
) -> np.ndarray:
    """Complex response of the whole EQ (the three bands in series) at `freqs` Hz.

    Shape: gains.shape[:-1] + freqs.shape. `20 * log10(abs(...))` is the curve the browser's
    getFrequencyResponse draws for the same settings.
    """
    gains = _gains(gains_db)
    f = np.asarray(freqs, dtype=np.float64)
    total = np.ones(gains.shape[:-1] + f.shape, dtype=np.complex128)
    for i, band in enumerate(BANDS):
        total = total * biquad_response(
            band_coefficients(band, gains[..., i], sample_rate), f, sample_rate
        )
    return total


#: lfilter's cost per time step: fixed overhead about this many times the cost per row.
_STEP_OVERHEAD_ROWS = 25
#: A chunk's filter state is rebuilt from the frames before it until the past it forgets
#: weighs less than this (relative), far below float32 resolution.
_FORGET = 1e-12


def settle_frames(sos: np.ndarray) -> int:
    """Frames after which the cascade of normalised sections `sos` (..., 6) has forgotten its
    past input to 1e-12: the sum over sections of log(1e-12) / log(largest pole radius)."""
    total = 0
    for row in np.asarray(sos, dtype=np.float64).reshape(-1, 6):
        radius = float(np.abs(np.roots(row[3:])).max()) if row[4] or row[5] else 0.0
        if not radius < 1.0:
            raise ValueError("unstable EQ section (a pole on or outside the unit circle)")
        total = (
            max(total, 1)
            if radius == 0.0
            else total + int(np.ceil(np.log(_FORGET) / np.log(radius)))
        )
    return total


def chunk_frames(frames: int, warm: int) -> int:
    """Chunk length that minimises (chunk + warm) * (overhead + rows): about
    sqrt(frames * warm / overhead), never shorter than the warm-up itself."""
    return max(warm, math.isqrt(frames * warm // _STEP_OVERHEAD_ROWS), 1)


def _lfilter_rows(rows: torch.Tensor, sos: torch.Tensor) -> torch.Tensor:
    """Each row of (rows, frames) through its own cascade sos (rows, 3, 6), side by side:
    torchaudio's lfilter steps through time once for all rows of its filter dimension."""
    import torchaudio.functional as AF

    for band in range(sos.shape[-2]):
        b, a = sos[:, band, :3].contiguous(), sos[:, band, 3:].contiguous()
        rows = AF.lfilter(rows, a, b, clamp=False, batching=True)
    return rows


def apply_eq(
    audio: np.ndarray | torch.Tensor,
    sample_rate: float,
    gains_db: Sequence[float] | np.ndarray | torch.Tensor | dict[str, float],
) -> np.ndarray | torch.Tensor:
    """Filter `audio` (..., frames) through the three bands with torchaudio's lfilter.

    `gains_db` is three gains (one EQ for every row), or (rows, 3) gains for audio of shape
    (rows, frames), one EQ per row (a training batch). The result has the input's type and
    dtype; the filter runs in float64 for float64 input, else in float32 (within about 1e-4 of
    full scale of exact, at low frequencies, 65 dB or more below the signal). Never clips.

    lfilter is fast across rows but slow along time, so a long signal is cut into chunks that
    are filtered side by side, each preceded by the frames before it for as long as the filters
    remember (`settle_frames`, a few thousand frames); the result equals one pass over the
    whole signal to 1e-12 of its level, and the first chunk starts from rest, as one pass does.
    """
    import torch

    as_numpy = not isinstance(audio, torch.Tensor)
    signal = (
        audio if isinstance(audio, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(audio))
    )
    if signal.ndim == 0 or signal.shape[-1] == 0:
        raise ValueError("apply_eq needs audio shaped (..., frames) with at least one frame")
    if isinstance(gains_db, torch.Tensor):
        gains_db = gains_db.detach().cpu().double().numpy()
    sos = sections(gains_db, sample_rate)
    work = torch.float64 if signal.dtype == torch.float64 else torch.float32
    frames = signal.shape[-1]
    rows = signal.to(work).reshape(-1, frames)
    if sos.ndim == 3:  # one EQ per row: filtered side by side as they are
        if signal.ndim != 2 or signal.shape[0] != sos.shape[0]:
            raise ValueError(
                f"{sos.shape[0]} sets of gains need audio shaped ({sos.shape[0]}, frames), "
                f"not {tuple(signal.shape)}"
            )
        out = _lfilter_rows(rows, torch.from_numpy(sos).to(work))
    elif sos.ndim != 2:
        raise ValueError("gains must be 3 values or one row of 3 per audio row")
    else:
        warm = settle_frames(sos)
        chunk = chunk_frames(frames, warm)
        count = -(-frames // chunk)
        if count < 2:
            chunks, warm = rows, 0
        else:
            padded = torch.nn.functional.pad(rows, (warm, count * chunk - frames))
            chunks = padded.unfold(-1, warm + chunk, chunk).reshape(-1, warm + chunk)
        cascade = torch.from_numpy(sos).to(work).expand(len(chunks), -1, -1)
        out = _lfilter_rows(chunks, cascade)[:, warm:].reshape(len(rows), -1)[:, :frames]
    out = out.reshape(signal.shape).to(signal.dtype)
    return out.numpy() if as_numpy else out


def band_definition() -> dict[str, Any]:
    """The EQ as data, for the browser (build three BiquadFilterNodes from it) and the API."""
    bands = []
    for band in BANDS:
        entry: dict[str, Any] = {"name": band.name, "type": band.kind, "frequency": band.frequency}
        if band.q is not None:
            entry["Q"] = band.q
        if band.slope is not None:
            entry["S"] = band.slope
        bands.append(entry)
    return {
        "version": 1,
        "gain_unit": "dB",
        "gain_limit_db": GAIN_LIMIT_DB,
        "formulas": f"Audio EQ Cookbook as specified for Web Audio BiquadFilterNode ({SPEC_URL})",
        "order": "in series: " + " -> ".join(BAND_NAMES),
        "bands": bands,
    }


#: The committed copy of `band_definition()` the frontend imports (a test keeps them equal).
BANDS_JSON = Path(__file__).with_name("bands.json")


def write_band_definition(path: Path = BANDS_JSON) -> Path:
    path.write_text(json.dumps(band_definition(), indent=2) + "\n")
    return path


if __name__ == "__main__":  # regenerate bands.json: python -m stemdeck.eq.filters
    print(write_band_definition())
