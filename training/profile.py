"""Dataset profiling (seed §III.D / §IV.C): pseudo-label every track of a MUSDB18(-HQ)-layout
folder with a genre model (the default: the music tagger; or a GenreNet) and describe what the
dataset holds.

Outputs in OUT: profile.csv (one row per track: label, confidence, top-3, probabilities, tempo,
the 26 features), genre_distribution.png, genre_features.png (mean features per predicted genre,
in real units), pca.png (the feature space, coloured by predicted genre), summary.md and
summary.json.

Unlike the seed, each track is judged on its whole length (windowed, see `genre.predict`). When
the dataset's tracks.csv has a `genre` column (SigSep's labels in MUSDB18-7, GTZAN names in
StemDeck's synthetic corpus), the pseudo-labels are also scored against it where the label maps
onto GTZAN's ten genres (`genre_real.SIGSEP_TO_GTZAN`).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stemdeck.common.audio import AudioError, read_audio
from stemdeck.genre.analysis import beats
from stemdeck.genre.features import FEATURE_NAMES, FEATURE_RATE, feature_vector, window_bounds
from stemdeck.genre.inputs import InputError, check_signal
from stemdeck.genre.scaler import Scaler
from stemdeck.training.datasets import DatasetError, read_table
from stemdeck.training.genre_plots import distribution_png, feature_means_png, pca_png
from stemdeck.training.genre_real import accepted_labels
from stemdeck.training.gtzan import GENRES
from stemdeck.training.musdb import LAYOUT, STEM_SUFFIX, read_splits

Log = Callable[[str], None]

#: Mean-feature panels: (column of profile.csv, axis title), all in real units.
FEATURE_PANELS = (
    ("rms_dbfs", "RMS level (dBFS)"),
    ("spectral_centroid_mean", "spectral centroid (Hz)"),
    ("spectral_bandwidth_mean", "spectral bandwidth (Hz)"),
    ("rolloff_mean", "85 % rolloff (Hz)"),
    ("zero_crossings_per_s", "zero crossings per second"),
    ("tempo_bpm", "tempo (BPM, beat tracker)"),
)


@dataclass(frozen=True)
class TrackSource:
    """The mixture of one track: a MUSDB18-HQ mixture.wav or stream 0 of a .stem.mp4."""

    name: str
    split: str
    path: Path


def find_mixtures(root: Path) -> list[TrackSource]:
    """Every track under ROOT/train and ROOT/test, split from tracks.csv (valid tracks live in
    train/), sorted by split folder then name."""
    root = Path(root)
    folders = [root / s for s in ("train", "test") if (root / s).is_dir()]
    if not folders:
        raise DatasetError(f"{root} holds neither a 'train' nor a 'test' folder; expected {LAYOUT}")
    splits = read_splits(root)
    sources = []
    for folder in folders:
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_dir() and (entry / "mixture.wav").is_file():
                name, path = entry.name, entry / "mixture.wav"
            elif entry.is_file() and entry.name.endswith(STEM_SUFFIX):
                name, path = entry.name[: -len(STEM_SUFFIX)], entry
            else:
                continue
            split = "test" if folder.name == "test" else splits.get(name, "train")
            sources.append(TrackSource(name, split, path))
    if not sources:
        raise DatasetError(f"no tracks under {root}; expected {LAYOUT}")
    return sources


def reference_genres(root: Path) -> dict[str, str]:
    """Track -> genre from ROOT/tracks.csv when it has a `genre` column, else {}."""
    table = Path(root) / "tracks.csv"
    if not table.is_file():
        return {}
    try:
        rows = read_table(table, ("track", "genre"), spill="track")
    except DatasetError:
        return {}
    return {r["track"]: r["genre"] for r in rows if r["track"] and r["genre"]}


def profile_track(model, source: TrackSource) -> dict:
    """Pseudo-label (`model`: a classifier.GenreModel), tempo and mean features of one track
    (AudioError / InputError if bad)."""
    y = read_audio(source.path, sample_rate=FEATURE_RATE, channels=1)[0]
    check_signal(y, FEATURE_RATE)
    bounds = window_bounds(len(y), FEATURE_RATE)
    rows = np.stack([feature_vector(y[a:b], FEATURE_RATE) for a, b in bounds])
    if model.rate == FEATURE_RATE:
        prediction = model.classify(y)
    else:
        prediction = model.classify(read_audio(source.path, sample_rate=model.rate, channels=1)[0])
    features = rows.mean(axis=0)
    tempo, _ = beats(y, FEATURE_RATE)
    top = prediction.top(3)
    row = {
        "track": source.name,
        "split": source.split,
        "duration_s": round(len(y) / FEATURE_RATE, 2),
        "label": prediction.label,
        "confidence": round(prediction.confidence, 4),
        "second": top[1][0],
        "third": top[2][0],
        "uncertain": int(prediction.uncertain),
        "tags": " ".join(f"{tag}:{p:.2f}" for tag, p, _ in prediction.tags[:5]),
        "tempo_bpm": round(tempo, 1),
        "rms_dbfs": round(20 * np.log10(max(features[1], 1e-6)), 2),
        "zero_crossings_per_s": round(features[5] * FEATURE_RATE, 1),
    }
    row |= {
        f"p_{g}": round(float(p), 4)
        for g, p in zip(prediction.labels, prediction.probabilities, strict=True)
    }
    row |= {name: float(v) for name, v in zip(FEATURE_NAMES, features, strict=True)}
    return row


def profile_dataset(
    model,
    root: Path,
    out: Path,
    limit: int | None = None,
    model_name: str = "",
    log: Log = print,
) -> dict:
    """Profile every track (or the first `limit`) of `root` into `out`; return the summary."""
    root, out = Path(root), Path(out)
    sources = find_mixtures(root)[:limit]
    references = reference_genres(root)
    out.mkdir(parents=True, exist_ok=True)
    rows, skipped = [], []
    started = time.perf_counter()
    for n, source in enumerate(sources, start=1):
        try:
            row = profile_track(model, source)
        except (AudioError, InputError) as exc:
            log(f"warning: skipping {source.path}: {exc}")
            skipped.append({"track": source.name, "reason": str(exc)})
            continue
        row["reference_genre"] = references.get(source.name, "")
        rows.append(row)
        if n % 10 == 0 or n == len(sources):
            log(f"[{n}/{len(sources)}] {time.perf_counter() - started:.0f} s")
    if not rows:
        raise DatasetError(f"no readable track under {root}")
    labels = list(GENRES)
    _write_csv(out / "profile.csv", rows)
    counts = {g: sum(r["label"] == g for r in rows) for g in labels}
    means = {
        g: {
            key: float(np.mean([r[key] for r in rows if r["label"] == g]))
            for key, _ in FEATURE_PANELS
        }
        for g in labels
        if counts[g]
    }
    name = root.resolve().name
    distribution_png(
        counts,
        out / "genre_distribution.png",
        f"{model_name or 'genre model'} pseudo-labels of {name} ({len(rows)} tracks)",
    )
    feature_means_png(
        means,
        FEATURE_PANELS,
        counts,
        out / "genre_features.png",
        f"Mean features per pseudo-genre, {name}",
        labels,
    )
    matrix = np.array([[r[f] for f in FEATURE_NAMES] for r in rows])
    pca_png(
        Scaler.fit(matrix).transform(matrix),
        [r["label"] for r in rows],
        labels,
        out / "pca.png",
        f"{name}: PCA of the 26 features (standardised over the dataset), by pseudo-label",
    )
    summary = {
        "dataset": str(root),
        "model": model_name,
        "tracks": len(rows),
        "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 1),
        "distribution": counts,
        "mean_confidence": {
            g: round(float(np.mean([r["confidence"] for r in rows if r["label"] == g])), 3)
            for g in labels
            if counts[g]
        },
        "feature_means": means,
        "reference": reference_scores(rows, labels),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "summary.md").write_text(summary_markdown(summary))
    return summary


def reference_scores(rows: list[dict], labels: list[str]) -> dict | None:
    """Accuracy of the pseudo-labels on tracks whose reference genre maps onto GTZAN's, per
    reference genre and overall (top-1 and top-3), plus a reference x predicted table."""
    if not any(r["reference_genre"] for r in rows):
        return None
    mapped = [r for r in rows if accepted_labels(r["reference_genre"])]
    by_reference: dict[str, dict] = {}
    for reference in sorted({r["reference_genre"] for r in rows}):
        subset = [r for r in rows if r["reference_genre"] == reference]
        entry = {
            "tracks": len(subset),
            "predicted": {g: sum(r["label"] == g for r in subset) for g in labels},
        }
        accepted = accepted_labels(reference)
        if accepted:
            entry["accepts"] = sorted(accepted)
            entry["correct"] = sum(r["label"] in accepted for r in subset)
            entry["top3"] = sum(
                bool({r["label"], r["second"], r["third"]} & accepted) for r in subset
            )
        by_reference[reference] = entry
    correct = sum(r["label"] in accepted_labels(r["reference_genre"]) for r in mapped)
    top3 = sum(
        bool({r["label"], r["second"], r["third"]} & accepted_labels(r["reference_genre"]))
        for r in mapped
    )
    return {
        "mapped_tracks": len(mapped),
        "correct": correct,
        "accuracy": round(correct / len(mapped), 4) if mapped else None,
        "top3_correct": top3,
        "by_reference": by_reference,
    }


def summary_markdown(summary: dict) -> str:
    counts = summary["distribution"]
    total = summary["tracks"]
    lines = [
        f"# Genre profile of `{summary['dataset']}`",
        "",
        f"Genre model `{summary['model']}` pseudo-labelled {total} tracks in "
        f"{summary['seconds']} s (each judged over its whole length, window probabilities "
        "averaged).",
        "",
        "| pseudo-genre | tracks | share | mean confidence |",
        "|---|---|---|---|",
    ]
    for g, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        if n:
            conf = summary["mean_confidence"][g]
            lines.append(f"| {g} | {n} | {n / total:.0%} | {conf:.2f} |")
    lines += ["", "Mean features per pseudo-genre:", ""]
    lines.append("| pseudo-genre | " + " | ".join(label for _, label in FEATURE_PANELS) + " |")
    lines.append("|---" * (len(FEATURE_PANELS) + 1) + "|")
    for g, values in summary["feature_means"].items():
        lines.append(f"| {g} | " + " | ".join(f"{values[k]:.1f}" for k, _ in FEATURE_PANELS) + " |")
    ref = summary["reference"]
    if ref:
        lines += ["", "## Against the dataset's own genre labels", ""]
        if ref["mapped_tracks"]:
            lines.append(
                f"On the {ref['mapped_tracks']} tracks whose label maps onto a GTZAN genre "
                f"(Pop/Rock counts as right for pop or rock): top-1 accuracy "
                f"**{ref['correct']}/{ref['mapped_tracks']} = {ref['accuracy']:.1%}**, "
                f"right genre within the top 3: {ref['top3_correct']}/{ref['mapped_tracks']}."
            )
        present = [g for g in counts if counts[g]]
        lines += ["", "| label (tracks) | counts as | right | " + " | ".join(present) + " |"]
        lines.append("|---" * (len(present) + 3) + "|")
        for reference, entry in ref["by_reference"].items():
            accepts = "/".join(entry.get("accepts", [])) or "(unmapped)"
            right = f"{entry['correct']}/{entry['tracks']}" if "correct" in entry else "-"
            cells = " | ".join(str(entry["predicted"][g]) for g in present)
            lines.append(f"| {reference} ({entry['tracks']}) | {accepts} | {right} | {cells} |")
    if summary["skipped"]:
        lines += ["", f"Skipped {len(summary['skipped'])} track(s):"]
        lines += [f"- {s['track']}: {s['reason']}" for s in summary["skipped"]]
    lines += [
        "",
        "Figures: `genre_distribution.png`, `genre_features.png`, `pca.png`; per track: "
        "`profile.csv`.",
    ]
    return "\n".join(lines) + "\n"


def _write_csv(path: Path, rows: list[dict]) -> None:
    columns = list(rows[0])
    columns.insert(2, columns.pop(columns.index("reference_genre")))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
