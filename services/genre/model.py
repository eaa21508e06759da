"""GenreNet (DESIGN §3.3) and its artefact folder.

The network is the seed's: Dense 512 → 256 → 128 → 64 (ReLU, Dropout 0.2 after each) → 10
softmax, Adam, sparse categorical cross-entropy, on the 26 standardised features.

An artefact is one folder, with nothing pickled in it:
    genrenet.keras   the Keras model (architecture and weights)
    scaler.json      the feature scaler, fitted on training rows only
    labels.json      class names in output order (GTZAN's, sorted alphabetically)
    metadata.json    how it was trained and what it scored

TensorFlow is imported only inside the functions that build or load the network.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stemdeck.genre.features import FEATURE_NAMES
from stemdeck.genre.scaler import Scaler

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: What "default" names: the bundled model chosen on real music (weights/musicnn.md says how).
DEFAULT_MODEL = "musicnn"
MODEL_FILE = "genrenet.keras"
SCALER_FILE = "scaler.json"
LABELS_FILE = "labels.json"
METADATA_FILE = "metadata.json"
HIDDEN = (512, 256, 128, 64)
DROPOUT = 0.2


class GenreModelError(ValueError):
    """A GenreNet artefact that is missing or cannot be used; the message says why."""


def keras_module():
    """Keras 3 on TensorFlow, imported on first use with TensorFlow's start-up chatter muted.

    TensorFlow 2.21 prints absl INFO lines (oneDNN notice) straight to file descriptor 2 while
    it loads, whatever TF_CPP_MIN_LOG_LEVEL says; stderr is for the CLI's own messages, so the
    descriptor points at /dev/null for the import only. An import error still raises.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "keras" not in sys.modules:
        with _silenced_fd(2):
            import keras
    import keras

    return keras


@contextlib.contextmanager
def _silenced_fd(fd: int) -> Iterator[None]:
    try:
        saved = os.dup(fd)
    except OSError:  # no such descriptor (an embedded interpreter): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def build_genrenet(
    n_features: int = len(FEATURE_NAMES),
    n_classes: int = 10,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    name: str = "genrenet",
):
    """A compiled GenreNet (untrained); Adam as the seed, AdamW when `weight_decay` > 0."""
    keras = keras_module()
    layers = [keras.Input(shape=(n_features,), name="features")]
    for width in HIDDEN:
        layers += [keras.layers.Dense(width, activation="relu"), keras.layers.Dropout(DROPOUT)]
    layers.append(keras.layers.Dense(n_classes, activation="softmax", name="genre"))
    model = keras.Sequential(layers, name=name)
    model.compile(
        optimizer=(
            keras.optimizers.AdamW(learning_rate=lr, weight_decay=weight_decay)
            if weight_decay > 0
            else keras.optimizers.Adam(learning_rate=lr)
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


@dataclass
class GenreArtefact:
    """A loaded GenreNet with the scaler and labels it was trained with."""

    model: Any
    scaler: Scaler
    labels: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None


def save_artefact(
    folder: Path,
    model: Any,
    scaler: Scaler,
    labels: tuple[str, ...],
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write the four files of an artefact into `folder` (created if needed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / MODEL_FILE)
    scaler.save(folder / SCALER_FILE)
    (folder / LABELS_FILE).write_text(json.dumps(list(labels)) + "\n")
    meta = {"features": list(FEATURE_NAMES), **(metadata or {})}
    (folder / METADATA_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    return folder


def resolve(name_or_path: str | Path) -> Path:
    """The model folder for a bundled name ("default" is DEFAULT_MODEL) or a path to a folder."""
    if str(name_or_path) == "default":
        name_or_path = DEFAULT_MODEL
    candidate = Path(name_or_path)
    if candidate.is_dir():
        return candidate
    bundled = WEIGHTS_DIR / str(name_or_path)
    if "/" not in str(name_or_path) and bundled.is_dir():
        return bundled
    known = (
        sorted(p.name for p in WEIGHTS_DIR.iterdir() if p.is_dir()) if WEIGHTS_DIR.is_dir() else []
    )
    raise GenreModelError(
        f"no genre model {str(name_or_path)!r}: not a model folder, nor a bundled model "
        f"({', '.join(known) or 'none bundled'})"
    )


def read_sidecars(folder: Path) -> tuple[Scaler, tuple[str, ...], dict[str, Any]]:
    """Scaler, labels and metadata of an artefact, without TensorFlow."""
    folder = Path(folder)
    for name in (MODEL_FILE, SCALER_FILE, LABELS_FILE):
        if not (folder / name).is_file():
            raise GenreModelError(f"{folder} is not a GenreNet artefact: {name} is missing")
    try:
        scaler = Scaler.load(folder / SCALER_FILE)
        labels = tuple(json.loads((folder / LABELS_FILE).read_text()))
        meta_path = folder / METADATA_FILE
        metadata = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    except (ValueError, KeyError, TypeError) as exc:
        raise GenreModelError(f"{folder}: unreadable scaler, labels or metadata ({exc})") from None
    if scaler.mean.size != len(FEATURE_NAMES):
        raise GenreModelError(
            f"{folder}: scaler has {scaler.mean.size} features, GenreNet uses {len(FEATURE_NAMES)}"
        )
    return scaler, labels, metadata


def load_artefact(name_or_path: str | Path) -> GenreArtefact:
    """Load a GenreNet artefact (imports TensorFlow)."""
    folder = resolve(name_or_path)
    scaler, labels, metadata = read_sidecars(folder)
    keras = keras_module()
    try:
        model = keras.models.load_model(folder / MODEL_FILE, compile=False)
    except (OSError, ValueError) as exc:
        raise GenreModelError(f"{folder / MODEL_FILE} could not be loaded: {exc}") from None
    outputs = int(model.output_shape[-1])
    if outputs != len(labels):
        raise GenreModelError(f"{folder}: the model has {outputs} outputs but {len(labels)} labels")
    return GenreArtefact(model, scaler, labels, metadata, folder)
