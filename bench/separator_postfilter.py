"""Which inference-side post-processing helps the separator's BSSEval SDR, and by how much.

Why: the bundled compact Conv-TasNet leaks (negative SIR) and its stems do not add up to the
mixture. Cheap fixes after the model — test-time augmentation, mixture consistency, ratio masks
of several exponents and STFT sizes — were scored here on whole songs before one of them (the
magnitude-ratio mask, `stemdeck.separator.masking`) was built into the engine. The separation
is done once with the raw model (soft mask off) and cached; each variant then costs one BSSEval
pass (about 1.5 min on the 14 real previews on 2 cores).

    .venv/bin/python bench/separator_postfilter.py --data ../shared/audio/musdb18-7 --split valid \
        --variants plain,tta2,tta3,mc,w1,w0.5,w0.25,w0.75,w0.5@2048,tw0.5

Variants: plain (raw model); tta2 (average with the channel-swapped pass); tta3 (also the
sign-flipped pass); mc (mixture consistency: the residual shared equally); wA[@N] (mask
|S_j|^(2A) / sum_k |S_k|^(2A) on an N-point STFT, default 4096, hop N/4 — w1 is the Wiener
gain of power spectra, w0.5 the magnitude ratio); twA[@N] (the mask on tta3's estimates);
mwfN (Open-Unmix's multichannel Wiener filter, `norbert.wiener` with N EM iterations on the
estimates' magnitudes; mwf0 is the magnitude ratio mask); tmwfN (the same on tta3's estimates).
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np
import torch

from stemdeck.separator.checkpoints import load_model
from stemdeck.separator.engine import ChunkSettings
from stemdeck.separator.separate import Separator
from stemdeck.training.evaluate import bsseval, find_references
from stemdeck.training.musdb import SOURCES

Estimates = tuple[dict, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def separate_all(root: Path, split: str, model: str) -> dict[str, Estimates]:
    """Per track: references, mixture, and the raw model's plain, channel-swapped and
    sign-flipped estimates, each (sources, channels, frames)."""
    separator = Separator(load_model(model), "cpu", ChunkSettings(soft_mask=False))
    data = {}
    for ref in find_references(root, split):
        stems = ref.load()
        mix = np.sum(list(stems.values()), axis=0)
        plain = separator.separate_array(mix)
        swap = separator.separate_array(mix[::-1].copy())[:, ::-1]
        flip = -separator.separate_array(-mix)
        data[ref.name] = (stems, mix, plain, swap, flip)
        print("separated", ref.name, flush=True)
    return data


def _stft(signal: np.ndarray, n_fft: int) -> torch.Tensor:
    """Complex STFT (..., bins, frames) of (..., frames) audio: float64, Hann, hop n_fft/4."""
    flat = torch.from_numpy(signal.reshape(-1, signal.shape[-1]).astype(np.float64))
    window = torch.hann_window(n_fft, dtype=torch.float64)
    spec = torch.stft(flat, n_fft, n_fft // 4, window=window, return_complex=True)
    return spec.reshape(*signal.shape[:-1], *spec.shape[1:])


def _istft(spec: torch.Tensor, n_fft: int, shape: tuple[int, ...]) -> np.ndarray:
    """Audio of `shape` (..., frames) back from `_stft`'s (..., bins, frames) spectra."""
    window = torch.hann_window(n_fft, dtype=torch.float64)
    flat = spec.reshape(-1, *spec.shape[-2:])
    signal = torch.istft(flat, n_fft, n_fft // 4, window=window, length=shape[-1])
    return signal.reshape(shape).numpy()


def ratio_mask(est: np.ndarray, mix: np.ndarray, alpha: float, n_fft: int) -> np.ndarray:
    """Split the whole song's mixture STFT by |S_j|^(2 alpha) ratios of the estimates."""
    power = _stft(est, n_fft).abs() ** (2 * alpha)
    masks = power / (power.sum(0, keepdim=True) + 1e-12)
    return _istft(masks * _stft(mix, n_fft).unsqueeze(0), n_fft, est.shape)


def multichannel_wiener(est: np.ndarray, mix: np.ndarray, iterations: int) -> np.ndarray:
    """Open-Unmix's post-filter: `norbert.wiener` on a 4096-point STFT (hop 1024), the estimates'
    magnitudes as the sources' spectrograms; EM `iterations` refine each source's spatial
    covariance, which a per-channel ratio mask ignores (0 iterations is that ratio mask)."""
    import norbert  # the bench extra: pip install -e '.[bench]'

    n_fft = 4096
    mix_spec = _stft(mix, n_fft).permute(2, 1, 0).numpy()  # (frames, bins, channels)
    magnitudes = _stft(est, n_fft).abs().permute(3, 2, 1, 0).numpy()  # (..., channels, sources)
    out = norbert.wiener(magnitudes, mix_spec, iterations)
    return _istft(torch.from_numpy(out).permute(3, 2, 1, 0), n_fft, est.shape)


def apply_variant(name: str, mix: np.ndarray, plain, swap, flip) -> np.ndarray:
    if name == "plain":
        return plain
    if name == "tta2":
        return (plain + swap) / 2
    if name == "tta3":
        return (plain + swap + flip) / 3
    if name == "mc":
        return plain + (mix - plain.sum(0)) / plain.shape[0]
    for prefix, est in (("tmwf", (plain + swap + flip) / 3), ("mwf", plain)):
        if name.startswith(prefix):
            return multichannel_wiener(est, mix, int(name[len(prefix) :]))
    for prefix, est in (("tw", (plain + swap + flip) / 3), ("w", plain)):
        if name.startswith(prefix):
            alpha, _, n_fft = name[len(prefix) :].partition("@")
            return ratio_mask(est, mix, float(alpha), int(n_fft or 4096))
    raise SystemExit(f"unknown variant {name!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="valid")
    parser.add_argument("--model", default="services/separator/weights/default.pt")
    parser.add_argument("--variants", default="plain,tta3,mc,w1,w0.5")
    parser.add_argument(
        "--cache", type=Path, default=Path("bench/results/postfilter_estimates.pkl")
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    # the cache holds one separation; another model, dataset or split must not reuse it
    key = (str(args.data.resolve()), args.split, str(Path(args.model).resolve()))
    cached = pickle.loads(args.cache.read_bytes()) if args.cache.exists() else None
    if cached is not None and cached.get("key") == key:
        data = cached["data"]
    else:
        data = separate_all(args.data, args.split, args.model)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        args.cache.write_bytes(pickle.dumps({"key": key, "data": data}))
    for variant in args.variants.split(","):
        per_track = []
        for stems, mix, plain, swap, flip in data.values():
            out = apply_variant(variant, mix, plain, swap, flip)
            scores = bsseval(stems, dict(zip(SOURCES, out, strict=True)))
            per_track.append([scores[s]["SDR"] if scores[s]["SDR"] is not None else np.nan
                              for s in SOURCES])  # fmt: skip
        medians = np.nanmedian(np.array(per_track, float), axis=0)
        cells = " ".join(f"{s}={m:+.2f}" for s, m in zip(SOURCES, medians, strict=True))
        print(f"{variant:10s} {cells} mean={medians.mean():+.3f}", flush=True)


if __name__ == "__main__":
    main()
