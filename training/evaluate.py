"""BSSEval v4 evaluation of a separator, the way the field reports it (museval).

Per track: SDR, SIR, SAR and ISR of each stem, median over 1 s frames (museval's default
window and hop). Over tracks: the median. The trivial estimate "mixture / 4 for every stem"
is scored beside the model on the same tracks, because BSSEval v4 is not scale-invariant and
that baseline already scores about +1 dB (DESIGN §6).

Two-stem references (ROOT/<split>/<track>/{mixture,vocals,accompaniment}.wav) score vocals
and the sum of the other three estimated stems as accompaniment.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stemdeck.common.audio import TARGET_RATE, read_audio
from stemdeck.training.datasets import DatasetError
from stemdeck.training.musdb import SOURCES, find_tracks

METRICS = ("SDR", "SIR", "SAR", "ISR")
TWO_STEMS = ("vocals", "accompaniment")
RATE = TARGET_RATE


@dataclass(frozen=True)
class Reference:
    """One song to score: its name and a loader of its reference stems {name: (2, frames)}."""

    name: str
    load: Callable[[], dict[str, np.ndarray]]


def find_references(root: Path, split: str) -> list[Reference]:
    """Four-stem tracks (MUSDB18, MUSDB18-HQ, synthetic) or two-stem folders of `split`."""
    folder = root / ("test" if split == "test" else "train")
    two_stem = sorted(
        p for p in folder.glob("*") if (p / "accompaniment.wav").is_file() and p.is_dir()
    )
    if two_stem:
        for track in two_stem:
            missing = [n for n in (*TWO_STEMS, "mixture") if not (track / f"{n}.wav").is_file()]
            if missing:
                raise DatasetError(f"{track} lacks {', '.join(m + '.wav' for m in missing)}")
        return [Reference(p.name, _two_stem_loader(p)) for p in two_stem]
    tracks = find_tracks(root, split)
    if not tracks:
        raise DatasetError(f"no {split} tracks under {root}")
    return [
        Reference(t.name, lambda t=t: dict(zip(SOURCES, t.load(), strict=True))) for t in tracks
    ]


def _two_stem_loader(folder: Path) -> Callable[[], dict[str, np.ndarray]]:
    def load() -> dict[str, np.ndarray]:
        stems = {n: read_audio(folder / f"{n}.wav", RATE, 2) for n in TWO_STEMS}
        frames = min(s.shape[1] for s in stems.values())
        return {n: s[:, :frames] for n, s in stems.items()}

    return load


def bsseval(references: dict[str, np.ndarray], estimates: dict[str, np.ndarray]) -> dict:
    """{stem: {metric: median over 1 s frames}} for (2, frames) arrays. Frames where a
    reference is silent give NaN in museval and are left out of the median; a stem that is
    silent throughout (the drums of a classical piece) cannot be scored and gets None."""
    import museval

    names = [n for n in references if np.any(references[n])]
    scores: dict[str, dict[str, float | None]] = {
        n: dict.fromkeys(METRICS) for n in references if n not in names
    }
    if names:
        refs = np.stack([references[n].T for n in names]).astype(np.float64)
        ests = np.stack([estimates[n].T for n in names]).astype(np.float64)
        sdr, isr, sir, sar = museval.evaluate(refs, ests, win=RATE, hop=RATE)
        values = {"SDR": sdr, "SIR": sir, "SAR": sar, "ISR": isr}
        for i, name in enumerate(names):
            scores[name] = {m: _nanmedian(values[m][i]) for m in METRICS}
    return {n: scores[n] for n in references}


def _nanmedian(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else None


def _as_references(stems: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Four estimated stems as the reference's stem set (two-stem: vocals, rest)."""
    if names == TWO_STEMS:
        vocals = stems[SOURCES.index("vocals")]
        return {"vocals": vocals, "accompaniment": stems.sum(axis=0) - vocals}
    return dict(zip(SOURCES, stems, strict=True))


def evaluate(
    root: Path,
    separate: Callable[[np.ndarray], np.ndarray],
    split: str,
    out: Path,
    log: Callable[[str], None] = print,
) -> dict:
    """Score `separate` ((2, frames) mixture -> (4, 2, frames) stems) and the mixture/4
    baseline on every track of `split`; write OUT/<track>.json, OUT/results.json and
    OUT/results.md; return the medians over tracks."""
    references = find_references(root, split)
    out.mkdir(parents=True, exist_ok=True)
    per_track = {}
    for count, ref in enumerate(references, start=1):
        stems = ref.load()
        names = tuple(stems)
        mixture = np.sum(list(stems.values()), axis=0)
        estimate = _as_references(separate(mixture), names)
        quarter = mixture / 4
        trivial = _as_references(np.stack([quarter] * len(SOURCES)), names)
        scores = {"model": bsseval(stems, estimate), "baseline": bsseval(stems, trivial)}
        per_track[ref.name] = scores
        (out / f"{_safe(ref.name)}.json").write_text(json.dumps(scores, indent=1) + "\n")
        sdr = " ".join(f"{n}={_fmt(scores['model'][n]['SDR'])}" for n in names)
        log(f"[{count}/{len(references)}] {ref.name}: SDR {sdr}")
    summary = {
        which: {
            name: {m: _nanmedian(np.array([t[which][name][m] for t in per_track.values()],
                                          dtype=float))
                   for m in METRICS}
            for name in next(iter(per_track.values()))[which]
        }
        for which in ("model", "baseline")
    }  # fmt: skip
    summary["tracks"] = len(per_track)
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "results.md").write_text(markdown_table(summary))
    return summary


def markdown_table(summary: dict) -> str:
    """The seed report's table (stem, SDR, SIR, SAR, ISR in dB), with the baseline's SDR."""
    lines = [
        "| Stem | SDR (dB) | SIR (dB) | SAR (dB) | ISR (dB) | mixture/4 SDR (dB) |",
        "| :--- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, scores in summary["model"].items():
        cells = " | ".join(_fmt(scores[m]) for m in METRICS)
        lines.append(
            f"| {name.capitalize()} | {cells} | {_fmt(summary['baseline'][name]['SDR'])} |"
        )
    mean = _mean([s["SDR"] for s in summary["model"].values()])
    base = _mean([s["SDR"] for s in summary["baseline"].values()])
    lines.append(f"| **Mean** | **{_fmt(mean)}** | | | | {_fmt(base)} |")
    lines.append("")
    lines.append(
        f"BSSEval v4 (museval), median over 1 s frames, then median over {summary['tracks']} "
        "tracks; higher is better."
    )
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None]
    return float(np.mean(finite)) if finite else None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_. " else "_" for c in name)
