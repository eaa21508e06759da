"""Scoring GenreNet on GTZAN-layout clips: accuracy, per-class precision/recall/F1, the
confusion matrix, and a PCA of the test features coloured by genre (the seed's
"Genre_clustering" figure). Each clip is judged on its first 30 s, as in training."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from stemdeck.genre.model import GenreArtefact
from stemdeck.genre.predict import predict_features
from stemdeck.training.datasets import DatasetError
from stemdeck.training.genre import extract_features, split_rows
from stemdeck.training.genre_plots import confusion_png, pca_png
from stemdeck.training.gtzan import GENRES, find_gtzan, split_clips

Log = Callable[[str], None]


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """(classes, classes) counts: row = true class, column = predicted."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    return matrix


def per_class(matrix: np.ndarray, labels: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each class from a confusion matrix (0 where
    undefined, as scikit-learn's zero_division=0)."""
    scores = {}
    for i, label in enumerate(labels):
        tp = float(matrix[i, i])
        predicted, actual = float(matrix[:, i].sum()), float(matrix[i].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[label] = {"precision": precision, "recall": recall, "f1": f1,
                         "support": int(actual)}  # fmt: skip
    return scores


def evaluate_genre(
    artefact: GenreArtefact,
    data: Path,
    split: str,
    out: Path,
    title: str,
    jobs: int = 1,
    log: Log = print,
) -> dict:
    """Score `artefact` on the `split` clips of `data` ("all" for every clip, e.g. a held-out
    corpus); write results.json, results.md, predictions.csv, confusion.png and pca.png."""
    if tuple(artefact.labels) != GENRES:
        raise DatasetError(f"the model's labels {artefact.labels} are not GTZAN's ten genres")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    found = find_gtzan(data)
    chosen = found if split == "all" else split_clips(found, split)
    rows = extract_features(chosen, jobs, None, log)
    x, y, clips = split_rows(rows, "all", chosen)
    if len(x) == 0:
        raise DatasetError(f"no readable clips in the {split} split of {data}")
    skipped = [{"path": p, "reason": r} for p, r in rows.skipped]
    names = [str(c.path) for c in clips]
    return score_rows(artefact, x, y, names, out, title, str(data), split, skipped)


def evaluate_table(
    artefact: GenreArtefact, folder: Path, split: str, out: Path, title: str
) -> dict:
    """Score `artefact` on a split of GTZAN's published feature table (the fault-filtered,
    artist-conditional split; `gtzan.read_feature_table`). The random-split accuracy the
    artefact's training recorded (`train_genre_table`) is copied beside it, labelled."""
    from stemdeck.genre.features import FEATURE_NAMES
    from stemdeck.training.gtzan import filtered_split, read_feature_table

    if tuple(artefact.labels) != GENRES:
        raise DatasetError(f"the model's labels {artefact.labels} are not GTZAN's ten genres")
    table = read_feature_table(folder, FEATURE_NAMES)
    splits = filtered_split(folder, table)
    ids = [c for part in splits.values() for c in part] if split == "all" else splits[split]
    x, y = table.rows(ids)
    summary = score_rows(
        artefact,
        x,
        y,
        ids,
        Path(out),
        title,
        str(folder),
        f"fault-filtered {split}",
        [],
        write=False,
    )
    recorded = artefact.metadata.get("random_split_accuracy")
    if recorded:
        summary["random_split"] = recorded
    _write(summary, Path(out))
    return summary


def score_rows(
    artefact: GenreArtefact,
    x: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    out: Path,
    title: str,
    data: str,
    split: str,
    skipped: list[dict],
    write: bool = True,
) -> dict:
    """Accuracy, per-class scores and the confusion matrix of (features, labels) rows; writes
    predictions.csv, confusion.png, pca.png (and results.json / results.md when `write`)."""
    out.mkdir(parents=True, exist_ok=True)
    probabilities = predict_features(artefact, x)
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(y, predicted, len(GENRES))
    classes = per_class(matrix, GENRES)
    present = [g for g in GENRES if classes[g]["support"]]
    summary = {
        "title": title,
        "data": data,
        "split": split,
        "clips": len(x),
        "skipped": skipped,
        "accuracy": float(np.mean(predicted == y)),
        "macro_f1": float(np.mean([classes[g]["f1"] for g in present])),
        "per_class": classes,
        "labels": list(GENRES),
        "confusion": matrix.tolist(),
    }
    with (out / "predictions.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["file", "genre", "predicted", "confidence"])
        for name, label, p in zip(names, y, probabilities, strict=True):
            writer.writerow([name, GENRES[int(label)], GENRES[int(p.argmax())], f"{p.max():.4f}"])
    confusion_png(
        matrix, GENRES, out / "confusion.png", f"{title}\naccuracy {summary['accuracy']:.1%}"
    )
    pca_png(
        artefact.scaler.transform(x),
        [GENRES[i] for i in y],
        GENRES,
        out / "pca.png",
        f"PCA of the 26 standardised features, {len(x)} clips, coloured by true genre",
    )
    if write:
        _write(summary, out)
    return summary


def _write(summary: dict, out: Path) -> None:
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "results.md").write_text(results_markdown(summary))


def results_markdown(summary: dict) -> str:
    """Accuracy, the per-class table and the confusion matrix as Markdown."""
    labels = summary["labels"]
    lines = [
        f"## {summary['title']}",
        "",
        f"{summary['clips']} clips ({summary['split']} split of `{summary['data']}`): "
        f"accuracy **{summary['accuracy']:.1%}**, macro F1 {summary['macro_f1']:.3f}.",
        "",
    ]
    if "random_split" in summary:
        recorded = summary["random_split"]
        lines += [
            f"Random clip-level split, for comparison only: test accuracy {recorded['test']:.1%} "
            f"({recorded['note']}).",
            "",
        ]
    lines += [
        "| genre | precision | recall | F1 | clips |",
        "|---|---|---|---|---|",
    ]
    for g in labels:
        c = summary["per_class"][g]
        lines.append(
            f"| {g} | {c['precision']:.2f} | {c['recall']:.2f} | {c['f1']:.2f} | {c['support']} |"
        )
    lines += ["", "Confusion matrix (rows: true genre, columns: predicted):", ""]
    lines.append("| true \\ predicted | " + " | ".join(labels) + " |")
    lines.append("|---" * (len(labels) + 1) + "|")
    for g, row in zip(labels, summary["confusion"], strict=True):
        lines.append(f"| {g} | " + " | ".join(str(v) for v in row) + " |")
    if summary["skipped"]:
        lines += ["", f"Skipped {len(summary['skipped'])} unreadable clip(s):"]
        lines += [f"- `{s['path']}`: {s['reason']}" for s in summary["skipped"]]
    return "\n".join(lines) + "\n"
