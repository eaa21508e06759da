"""The figures of GenreNet's evaluation and of dataset profiling (the seed's Genre_clustering,
Genre_dist, Genre_feature and Genre_visual), drawn with matplotlib's Agg backend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Ten colours that stay apart (matplotlib's tab10), one per GTZAN genre in label order.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pca_2d(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first two principal components of `rows` (n, d) and their shares of the variance."""
    centred = rows - rows.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    variance = singular**2
    share = variance / variance.sum() if variance.sum() > 0 else np.zeros_like(variance)
    components = centred @ vt[:2].T
    if components.shape[1] < 2:
        components = np.pad(components, ((0, 0), (0, 2 - components.shape[1])))
    return components, np.pad(share[:2], (0, max(0, 2 - share[:2].size)))


def history_png(history: list[dict], path: Path) -> Path:
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("loss", "train"), ("val_loss", "validation")):
        left.plot(epochs, [h.get(key, np.nan) for h in history], label=label)
    for key, label in (("accuracy", "train"), ("val_accuracy", "validation")):
        right.plot(epochs, [h.get(key, np.nan) for h in history], label=label)
    left.set(xlabel="epoch", ylabel="cross-entropy", title="GenreNet loss")
    right.set(xlabel="epoch", ylabel="accuracy", title="GenreNet accuracy", ylim=(0, 1.02))
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def confusion_png(matrix: np.ndarray, labels: Sequence[str], path: Path, title: str) -> Path:
    """Counts in each cell; colour is the share of the true class (row), so rare and common
    classes read alike."""
    plt = _pyplot()
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    n = len(labels)
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                colour = "white" if shares[i, j] > 0.6 else "black"
                ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", color=colour)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def pca_png(
    rows: np.ndarray, names: Sequence[str], order: Sequence[str], path: Path, title: str
) -> Path:
    """Scatter of the first two principal components of (standardised) `rows`, coloured by
    `names`, legend in `order` with the count of each."""
    plt = _pyplot()
    components, share = pca_2d(rows)
    names = np.asarray(list(names))
    fig, ax = plt.subplots(figsize=(8, 6.5))
    for k, label in enumerate(order):
        chosen = names == label
        if not chosen.any():
            continue
        ax.scatter(components[chosen, 0], components[chosen, 1], s=28, alpha=0.75,
                   color=PALETTE[k % len(PALETTE)], edgecolors="none",
                   label=f"{label} ({int(chosen.sum())})")  # fmt: skip
    ax.set(
        xlabel=f"PC1 ({share[0]:.0%} of variance)",
        ylabel=f"PC2 ({share[1]:.0%} of variance)",
        title=title,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best", framealpha=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def distribution_png(counts: dict[str, int], path: Path, title: str) -> Path:
    """Bar chart of tracks per genre, with the count above each bar."""
    plt = _pyplot()
    labels = list(counts)
    values = [counts[g] for g in labels]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    bars = ax.bar(labels, values, color=[PALETTE[i % len(PALETTE)] for i in range(len(labels))])
    ax.bar_label(bars, [str(v) for v in values], padding=2)
    ax.set(ylabel="tracks", title=title, ylim=(0, max([*values, 1]) * 1.15))
    ax.tick_params(axis="x", rotation=30)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def feature_means_png(
    means: dict[str, dict[str, float]],
    panels: Sequence[tuple[str, str]],
    counts: dict[str, int],
    path: Path,
    title: str,
    order: Sequence[str] | None = None,
) -> Path:
    """One bar panel per (feature key, axis label) with each genre's mean, in real units and
    written on the bar; colours follow `order` (all labels), as in the other charts."""
    plt = _pyplot()
    genres = [g for g in means if counts.get(g)]
    cols = 3
    rows = int(np.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(13, 3.6 * rows), squeeze=False)
    colours = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(order or means)}
    for ax, (key, label) in zip(axes.flat, panels, strict=False):
        values = [means[g][key] for g in genres]
        bars = ax.bar(genres, values, color=[colours[g] for g in genres])
        ax.bar_label(bars, [f"{v:.0f}" for v in values], fontsize=7, padding=1)
        ax.margins(y=0.12)
        ax.set_title(label, fontsize=10)
        ax.tick_params(axis="x", rotation=45, labelsize=8)
        ax.grid(axis="y", alpha=0.3)
        low, high = min([*values, 0.0]), max([*values, 0.0])
        if low < 0 <= high:
            ax.axhline(0, color="black", linewidth=0.6)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    shown = ", ".join(f"{g} {counts[g]}" for g in genres)
    fig.suptitle(f"{title}\n(tracks: {shown})", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def reliability_png(calibration: dict, path: Path, title: str) -> Path:
    """Reliability diagram: share right against mean confidence per confidence bin (bar widths
    are the bins, the number above each bar its tracks), with the diagonal of perfect
    calibration."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], "--", color="#888", label="perfectly calibrated")
    for row in calibration["bins"]:
        lo, hi = row["bin"]
        ax.bar(
            lo,
            row["accuracy"],
            width=hi - lo,
            align="edge",
            color="#1f77b4",
            alpha=0.7,
            edgecolor="white",
        )
        ax.plot(row["confidence"], row["accuracy"], "o", color="#d62728")
        ax.text(
            lo + (hi - lo) / 2, row["accuracy"] + 0.02, str(row["tracks"]), ha="center", fontsize=8
        )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.08),
        xlabel="confidence shown (bin)",
        ylabel="share right",
        title=title,
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def group_confusion_png(
    table: dict[str, dict[str, int]], labels: Sequence[str], path: Path, title: str
) -> Path:
    """Reference group (rows, the dataset's own labels) x predicted GTZAN genre (columns)."""
    groups = list(table)
    matrix = np.array([[table[g][label] for label in labels] for g in groups])
    plt = _pyplot()
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(groups) + 2.5))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(
        range(len(groups)), [f"{g} ({int(t)})" for g, t in zip(groups, totals[:, 0], strict=True)]
    )
    ax.set(xlabel="predicted", ylabel="dataset's genre", title=title)
    for i in range(len(groups)):
        for j in range(len(labels)):
            if matrix[i, j]:
                colour = "white" if shares[i, j] > 0.6 else "black"
                ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", color=colour)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the group")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
