"""Training GenreNet on a GTZAN-layout folder (DESIGN §3.3), fixing the seed's leak.

Clips are split with `gtzan.split_clips` (per genre, contiguous 80/10/10, so stratified), the
scaler is fitted on the training rows alone, the network trains on them, the validation rows
pick the epoch kept (lowest validation loss), and the test rows are scored once at the end.
An unreadable clip (GTZAN ships one: jazz.00054.wav) is skipped with a warning.

Features of every clip are cached in OUT/features.csv (keyed by path, size and mtime), so a
second run with other settings does not decode the corpus again.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from stemdeck.common.audio import AudioError
from stemdeck.genre.features import FEATURE_NAMES, FEATURE_RATE, WINDOW_SECONDS, feature_vector
from stemdeck.genre.inputs import InputError, check_signal
from stemdeck.genre.scaler import Scaler
from stemdeck.training.datasets import DatasetError
from stemdeck.training.gtzan import GENRES, GenreClip, find_gtzan, load_clip, split_clips

Log = Callable[[str], None]


@dataclass(frozen=True)
class GenreTrainSettings:
    """Knobs of a GenreNet run; the defaults are the seed's (50 epochs, batch 128, Adam 1e-3).

    Attributes:
        epochs: passes over the training rows.
        batch: rows per step.
        lr: Adam learning rate.
        seed: seed of the initialisation, dropout and batch order.
        jobs: processes extracting features.
        weight_decay: decoupled weight decay (AdamW) when > 0; the seed used none.
        keep: the epoch kept is the one with the lowest validation "loss" or the highest
            validation "accuracy".
        ensemble: networks trained with seeds seed, seed+1, ... whose probabilities are
            averaged in one saved model (1: a single GenreNet, the seed's).
        dropout: dropout after each hidden layer (the seed's 0.2).
        l2: L2 penalty on every Dense kernel (0: none, the seed's).
        noise: standard deviation of Gaussian noise added to the standardised features while
            training (0: none, the seed's).
        smoothing: label smoothing of the cross-entropy (0: none, the seed's).
    """

    epochs: int = 50
    batch: int = 128
    lr: float = 1e-3
    seed: int = 0
    jobs: int = 1
    weight_decay: float = 0.0
    keep: str = "loss"
    ensemble: int = 1
    dropout: float = 0.2
    l2: float = 0.0
    noise: float = 0.0
    smoothing: float = 0.0


@dataclass(frozen=True)
class FeatureRows:
    """Features of the clips that could be read, in clip order."""

    clips: list[GenreClip]
    features: np.ndarray  # (n, 26)
    skipped: list[tuple[str, str]]  # (path, reason)

    def select(self, chosen: Sequence[GenreClip]) -> tuple[np.ndarray, list[GenreClip]]:
        """Rows of `chosen` clips that were read, and those clips."""
        index = {c.path: i for i, c in enumerate(self.clips)}
        kept = [c for c in chosen if c.path in index]
        rows = self.features[[index[c.path] for c in kept]] if kept else np.empty((0, 26))
        return rows, kept


def clip_features(path: Path) -> np.ndarray:
    """The 26 features of a clip's first 30 s (GTZAN clips are 30 s; the seed's window)."""
    y = load_clip(GenreClip(Path(path), ""), FEATURE_RATE)
    check_signal(y, FEATURE_RATE)
    return feature_vector(y[: int(WINDOW_SECONDS * FEATURE_RATE)], FEATURE_RATE)


def _safe_features(path: Path) -> tuple[np.ndarray | None, str]:
    try:
        return clip_features(path), ""
    except (AudioError, InputError) as exc:
        return None, str(exc)


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _read_cache(cache: Path | None) -> dict[tuple[str, str], np.ndarray]:
    if cache is None or not cache.is_file():
        return {}
    with cache.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or list(rows[0])[3:] != list(FEATURE_NAMES):
        return {}
    return {(r["path"], r["stamp"]): np.array([float(r[n]) for n in FEATURE_NAMES]) for r in rows}


def _write_cache(cache: Path, rows: FeatureRows) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    part = cache.with_name(cache.name + ".part")
    with part.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["path", "stamp", "genre", *FEATURE_NAMES])
        for clip, row in zip(rows.clips, rows.features, strict=True):
            resolved = str(clip.path.resolve())
            writer.writerow(
                [resolved, _stamp(clip.path), clip.genre, *(repr(float(v)) for v in row)]
            )
    part.replace(cache)


def extract_features(
    clips: Sequence[GenreClip], jobs: int = 1, cache: Path | None = None, log: Log = print
) -> FeatureRows:
    """Features of every clip; unreadable, silent or too-short clips are skipped with a
    warning through `log`. With `cache`, rows of unchanged files are reused and all rows saved."""
    known = _read_cache(cache)
    todo = [c for c in clips if (str(c.path.resolve()), _stamp(c.path)) not in known]
    if todo:
        log(f"extracting features of {len(todo)} clip(s) ({len(clips) - len(todo)} cached)")
    computed: dict[Path, tuple[np.ndarray | None, str]] = {}
    started = time.perf_counter()
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(jobs) as pool:
            for clip, result in zip(
                todo, pool.map(_safe_features, [c.path for c in todo]), strict=True
            ):
                computed[clip.path] = result
    else:
        for n, clip in enumerate(todo, start=1):
            computed[clip.path] = _safe_features(clip.path)
            if n % 100 == 0:
                log(f"  {n}/{len(todo)} clips, {time.perf_counter() - started:.0f} s")
    kept, rows, skipped = [], [], []
    for clip in clips:
        key = (str(clip.path.resolve()), _stamp(clip.path))
        if key in known:
            row, reason = known[key], ""
        else:
            row, reason = computed[clip.path]
        if row is None:
            log(f"warning: skipping {clip.path}: {reason}")
            skipped.append((str(clip.path), reason))
            continue
        kept.append(clip)
        rows.append(row)
    result = FeatureRows(kept, np.array(rows).reshape(-1, len(FEATURE_NAMES)), skipped)
    if cache is not None and kept:
        _write_cache(cache, result)
    return result


def split_rows(
    rows: FeatureRows, split: str, clips: Sequence[GenreClip]
) -> tuple[np.ndarray, np.ndarray, list[GenreClip]]:
    """(features, label indices, clips) of `split` ("train", "valid", "test" or "all").

    The split is decided on `clips`, every clip found, by file name alone; clips that could
    not be read then drop out of their own split without moving the others' boundaries.
    """
    chosen = list(clips) if split == "all" else split_clips(list(clips), split)
    x, kept = rows.select(chosen)
    y = np.array([GENRES.index(c.genre) for c in kept], dtype=np.int64)
    return x, y, kept


def train_genre(
    data: Path,
    out: Path,
    settings: GenreTrainSettings,
    log: Log = print,
) -> dict:
    """Train on `data`, write the artefact into `out`; return the metadata written."""
    from stemdeck.genre.model import save_artefact

    out = Path(out)
    clips = find_gtzan(data)
    rows = extract_features(clips, settings.jobs, out / "features.csv", log)
    x_train, y_train, train_clips = split_rows(rows, "train", clips)
    x_valid, y_valid, _ = split_rows(rows, "valid", clips)
    x_test, y_test, _ = split_rows(rows, "test", clips)
    if len(x_train) < 2 or len(x_valid) == 0:
        raise DatasetError(f"{data} has too few readable clips to train and validate")
    fitted = fit_genrenet((x_train, y_train), (x_valid, y_valid), (x_test, y_test), settings, log)
    model, scaler, keeper, scores, seconds = fitted
    metadata = {
        "trained_on": str(Path(data).resolve()),
        "rows": {"train": len(x_train), "valid": len(x_valid), "test": len(x_test)},
        "train_per_genre": {g: sum(c.genre == g for c in train_clips) for g in GENRES},
        "skipped": [{"path": p, "reason": r} for p, r in rows.skipped],
        "split": "per genre, in file-name order: first 80 % train, next 10 % valid, last 10 % test",
        "scaler": "fitted on the training rows only",
        "settings": asdict(settings),
        "kept_epoch": keeper.best_epoch,
        "accuracy": {k: (round(v, 4) if np.isfinite(v) else None) for k, v in scores.items()},
        "train_seconds": round(seconds, 1),
        "feature_rate": FEATURE_RATE,
        "window_seconds": WINDOW_SECONDS,
        "versions": _versions(),
        "history": keeper.history,
    }
    save_artefact(out, model, scaler, GENRES, metadata)
    _write_history(out, keeper.history)
    return metadata


Rows = tuple[np.ndarray, np.ndarray]


def fit_genrenet(
    train: Rows,
    valid: Rows,
    test: Rows,
    settings: GenreTrainSettings,
    log: Log,
    name: str = "genrenet",
):
    """Fit the scaler on the training rows alone (the fix for the seed's leak), train GenreNet,
    keep the epoch with the lowest validation loss, score the three splits once.

    Returns (model, scaler, keeper, accuracies by split, training seconds).
    """
    from stemdeck.genre.model import build_genrenet, keras_module

    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = train, valid, test
    scaler = Scaler.fit(x_train, FEATURE_NAMES)
    keras = keras_module()
    keras.utils.set_random_seed(settings.seed)
    model = build_genrenet(
        len(FEATURE_NAMES),
        len(GENRES),
        settings.lr,
        settings.weight_decay,
        name=name,
        dropout=settings.dropout,
        l2=settings.l2,
        noise=settings.noise,
        smoothing=settings.smoothing,
    )
    keeper = _keep_best(keras, log, settings.keep)
    # Label smoothing needs one-hot targets (see build_genrenet); accuracy is read the same way.
    target = np.eye(len(GENRES))[y_train] if settings.smoothing > 0 else y_train
    target_valid = np.eye(len(GENRES))[y_valid] if settings.smoothing > 0 else y_valid
    started = time.perf_counter()
    model.fit(
        scaler.transform(x_train),
        target,
        validation_data=(scaler.transform(x_valid), target_valid),
        epochs=settings.epochs,
        batch_size=settings.batch,
        shuffle=True,
        verbose=0,
        callbacks=[keeper],
    )
    model.set_weights(keeper.best_weights)
    seconds = time.perf_counter() - started
    scores = {
        name: _accuracy(model, scaler, x, y)
        for name, x, y in (
            ("train", x_train, y_train),
            ("valid", x_valid, y_valid),
            ("test", x_test, y_test),
        )
    }
    log(
        f"kept epoch {keeper.best_epoch} (best validation {settings.keep}); accuracy train "
        f"{scores['train']:.3f}, valid {scores['valid']:.3f}, test {scores['test']:.3f}"
    )
    return model, scaler, keeper, scores, seconds


def fit_ensemble(train: Rows, valid: Rows, test: Rows, settings: GenreTrainSettings, log: Log):
    """`settings.ensemble` GenreNets (seeds seed, seed+1, ...), each keeping its own best
    epoch, averaged into one Keras model; returns what `fit_genrenet` does, for the average
    (the keeper is the first member's: its history and kept epoch)."""
    if settings.ensemble <= 1:
        return fit_genrenet(train, valid, test, settings, log)
    from stemdeck.genre.model import keras_module

    members, seconds = [], 0.0
    for i in range(settings.ensemble):
        member = replace(settings, seed=settings.seed + i)
        log(f"ensemble member {i + 1}/{settings.ensemble} (seed {member.seed})")
        model, scaler, keeper, _, spent = fit_genrenet(
            train, valid, test, member, log, name=f"genrenet_seed{member.seed}"
        )
        members.append((model, keeper))
        seconds += spent
    keras = keras_module()
    inputs = keras.Input(shape=(len(FEATURE_NAMES),), name="features")
    outputs = keras.layers.Average(name="genre")([m(inputs) for m, _ in members])
    average = keras.Model(inputs, outputs, name=f"genrenet_x{settings.ensemble}")
    scores = {
        name: _accuracy(average, scaler, x, y)
        for name, (x, y) in (("train", train), ("valid", valid), ("test", test))
    }
    log(
        f"ensemble of {settings.ensemble}: accuracy train {scores['train']:.3f}, "
        f"valid {scores['valid']:.3f}, test {scores['test']:.3f}"
    )
    return average, scaler, members[0][1], scores, seconds


def train_genre_table(
    folder: Path, out: Path, settings: GenreTrainSettings, log: Log = print
) -> dict:
    """Train GenreNet on GTZAN's published feature table (`gtzan.read_feature_table`) with the
    fault-filtered, artist-conditional split; write the artefact into `out`.

    One network trained with the same settings on a random clip-level 80/20 split gives the
    figure the seed's method would report; it is recorded beside the filtered one, labelled, and
    not saved (the same artists sit on both sides of that split, so it overstates accuracy).
    """
    from stemdeck.genre.model import save_artefact
    from stemdeck.training.gtzan import filtered_split, random_split, read_feature_table

    out = Path(out)
    table = read_feature_table(folder, FEATURE_NAMES)
    split = filtered_split(folder, table)
    parts = {name: table.rows(ids) for name, ids in split.items()}
    log(f"filtered split: {', '.join(f'{n} {len(i)}' for n, i in split.items())} clips")
    model, scaler, keeper, scores, seconds = fit_ensemble(
        parts["train"], parts["valid"], parts["test"], settings, log
    )
    shuffled = random_split(table, seed=settings.seed)
    log("random clip-level split (the seed's method, one network; inflated by repeated artists):")
    random_parts = {name: table.rows(ids) for name, ids in shuffled.items()}
    *_, random_scores, _ = fit_genrenet(
        random_parts["train"],
        random_parts["valid"],
        random_parts["test"],
        replace(settings, ensemble=1),
        log,
    )
    metadata = {
        "trained_on": str(Path(folder).resolve()),
        "data": "GTZAN feature table (features_30_sec.csv, Kaggle edition), 26 *_mean columns",
        "rows": {n: len(i) for n, i in split.items()},
        "train_per_genre": {g: split_count(table, split["train"], g) for g in GENRES},
        "split": "fault-filtered, artist-conditional (Kereliuk, Sturm & Larsen 2015)",
        "scaler": "fitted on the training rows only",
        "settings": asdict(settings),
        "kept_epoch": keeper.best_epoch,
        "accuracy": {k: round(v, 4) for k, v in scores.items()},
        "random_split_accuracy": {
            "note": "one GenreNet with the same settings on a random clip-level 80/20 split "
            "stratified by genre (the seed's method): repeated artists on both sides inflate it; "
            "not the model saved here",
            "rows": {n: len(i) for n, i in shuffled.items()},
            **{k: round(v, 4) for k, v in random_scores.items()},
        },
        "train_seconds": round(seconds, 1),
        "feature_rate": FEATURE_RATE,
        "window_seconds": WINDOW_SECONDS,
        "versions": _versions(),
        "history": keeper.history,
    }
    save_artefact(out, model, scaler, GENRES, metadata)
    _write_history(out, keeper.history)
    return metadata


def split_count(table, ids: list[str], genre: str) -> int:
    """Clips of `genre` among `ids`."""
    wanted = set(ids)
    return sum(c in wanted and g == genre for c, g in zip(table.ids, table.genres, strict=True))


def _accuracy(model, scaler: Scaler, x: np.ndarray, y: np.ndarray) -> float:
    if len(x) == 0:
        return float("nan")
    predicted = np.asarray(model.predict_on_batch(scaler.transform(x))).argmax(axis=1)
    return float(np.mean(predicted == y))


def _keep_best(keras, log: Log, keep: str = "loss"):
    """A callback remembering the weights of the epoch with the lowest validation loss (or,
    with keep="accuracy", the highest validation accuracy; ties go to the lower loss)."""
    if keep not in ("loss", "accuracy"):
        raise ValueError(f"keep must be 'loss' or 'accuracy', not {keep!r}")

    class KeepBest(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.best_loss: tuple = (np.inf, np.inf)
            self.best_epoch, self.best_weights = 0, None
            self.history: list[dict] = []

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            row = {"epoch": epoch + 1, **{k: round(float(v), 5) for k, v in logs.items()}}
            self.history.append(row)
            loss = logs.get("val_loss", np.inf)
            score = (-logs.get("val_accuracy", 0.0), loss) if keep == "accuracy" else (loss,)
            if score < self.best_loss:
                self.best_loss, self.best_epoch = score, epoch + 1
                self.best_weights = self.model.get_weights()
            if (epoch + 1) % 10 == 0 or epoch == 0:
                log(
                    f"epoch {epoch + 1}: loss {logs.get('loss', np.nan):.4f} "
                    f"acc {logs.get('accuracy', np.nan):.3f} "
                    f"val_loss {logs.get('val_loss', np.nan):.4f} "
                    f"val_acc {logs.get('val_accuracy', np.nan):.3f}"
                )

    return KeepBest()


def _write_history(out: Path, history: list[dict]) -> None:
    if not history:
        return
    with (out / "history.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(history[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
    from stemdeck.training.genre_plots import history_png

    history_png(history, out / "loss.png")


def _versions() -> dict[str, str]:
    import keras
    import librosa
    import tensorflow

    return {
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "librosa": librosa.__version__,
    }
