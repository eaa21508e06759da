"""GenreNet (DESIGN §3.3) and its artefact folder.

The network is the seed's: Dense 512 → 256 → 128 → 64 (ReLU, Dropout 0.2 after each) → 10
softmax, Adam, sparse categorical cross-entropy, on the 26 standardised features.

An artefact is one folder, with nothing pickled in it (written atomically, file by file, and
found by name like every model kind, `common/artefacts.py`):
    genrenet.keras   the Keras model (architecture and weights)
    scaler.json      the feature scaler, fitted on training rows only
    labels.json      class names in output order (GTZAN's, sorted alphabetically)
    metadata.json    how it was trained and what it scored, stamped with the format version
                     and the software that wrote it

TensorFlow is imported only inside the functions that build or load the network.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from stemdeck.common import artefacts
from stemdeck.common.artefacts import ArtefactKind, ArtefactNotFoundError
from stemdeck.common.atomic import atomic_write_files
from stemdeck.common.stamp import NewerFormatError, check_version, stamp
from stemdeck.genre.features import FEATURE_NAMES
from stemdeck.genre.scaler import Scaler

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: What "default" names: the bundled model chosen on real music (weights/musicnn.md says how).
DEFAULT_MODEL = "musicnn"
MODEL_FILE = "genrenet.keras"
SCALER_FILE = "scaler.json"
LABELS_FILE = "labels.json"
METADATA_FILE = "metadata.json"
#: Stamped into metadata.json of every artefact written since the stamp exists; older
#: artefacts have no stamp and load all the same.
FORMAT_NAME = "stemdeck.genre"
FORMAT_VERSION = 1
HIDDEN = (512, 256, 128, 64)
DROPOUT = 0.2


class GenreModelError(ValueError):
    """A GenreNet artefact that is missing or cannot be used; the message says why."""


def keras_module() -> ModuleType:
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
    dropout: float = DROPOUT,
    l2: float = 0.0,
    noise: float = 0.0,
    smoothing: float = 0.0,
) -> Any:
    """A compiled GenreNet (untrained); Adam as the seed, AdamW when `weight_decay` > 0.

    `dropout` is the seed's 0.2 unless asked otherwise. Regularisers for the 443-row real GTZAN
    split, none of them the seed's and none changing its layer sizes: `l2` > 0 adds an L2 penalty
    on every Dense kernel; `noise` > 0 adds Gaussian noise of that standard deviation to the
    standardised features while training (a GaussianNoise layer, inactive when predicting);
    `smoothing` > 0 trains on labels smoothed by that amount, which needs one-hot labels
    (`fit_genrenet` passes them) because Keras' sparse cross-entropy cannot smooth.
    """
    keras = keras_module()
    penalty = keras.regularizers.L2(l2) if l2 > 0 else None
    layers = [keras.Input(shape=(n_features,), name="features")]
    if noise > 0:
        layers.append(keras.layers.GaussianNoise(noise, name="input_noise"))
    for width in HIDDEN:
        layers += [
            keras.layers.Dense(width, activation="relu", kernel_regularizer=penalty),
            keras.layers.Dropout(dropout),
        ]
    layers.append(keras.layers.Dense(n_classes, activation="softmax", name="genre"))
    model = keras.Sequential(layers, name=name)
    model.compile(
        optimizer=(
            keras.optimizers.AdamW(learning_rate=lr, weight_decay=weight_decay)
            if weight_decay > 0
            else keras.optimizers.Adam(learning_rate=lr)
        ),
        loss=(
            keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
            if smoothing > 0
            else "sparse_categorical_crossentropy"
        ),
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
    """Write the four files of an artefact into `folder` (created if needed): all four are
    written aside first and renamed into place only once every one succeeded. metadata.json is
    stamped with the format version and the software versions."""
    meta = {
        **stamp(FORMAT_NAME, FORMAT_VERSION, "keras", "tensorflow", "tensorflow-cpu"),
        "features": list(FEATURE_NAMES),
        **(metadata or {}),
    }
    return atomic_write_files(
        folder,
        {
            SCALER_FILE: scaler.save,
            LABELS_FILE: lambda path: path.write_text(json.dumps(list(labels)) + "\n"),
            METADATA_FILE: lambda path: path.write_text(json.dumps(meta, indent=1) + "\n"),
            MODEL_FILE: model.save,  # last: the file that makes a folder a model (`kind`)
        },
    )


def kind() -> ArtefactKind:
    """Genre models as a kind of the shared artefact layer: folders holding a GenreNet or a
    tagger model, bundled in WEIGHTS_DIR (read on each call) or in the cache's `genre/`."""
    return ArtefactKind(
        "genre", "genre", WEIGHTS_DIR, "genre", DEFAULT_MODEL, "", (MODEL_FILE, "tagger.json")
    )


def resolve(name_or_path: str | Path | None) -> Path:
    """The model folder behind a name ("default" is DEFAULT_MODEL) or a path, in the lookup
    order every model kind shares (`common/artefacts.py`): a `./default` folder in the working
    directory does not hide the bundled default."""
    try:
        return artefacts.resolve(kind(), name_or_path)
    except ArtefactNotFoundError as exc:
        raise GenreModelError(f"no genre model {str(name_or_path)!r}: {exc}") from None


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
    try:
        check_version(metadata, FORMAT_NAME, FORMAT_VERSION, str(folder))
    except NewerFormatError as exc:
        raise GenreModelError(str(exc)) from None
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
        # safe_mode: a .keras file can carry Python code (Lambda layers); refuse to run it.
        model = keras.models.load_model(folder / MODEL_FILE, compile=False, safe_mode=True)
    except (OSError, ValueError) as exc:
        raise GenreModelError(f"{folder / MODEL_FILE} could not be loaded: {exc}") from None
    outputs = int(model.output_shape[-1])
    if outputs != len(labels):
        raise GenreModelError(f"{folder}: the model has {outputs} outputs but {len(labels)} labels")
    return GenreArtefact(model, scaler, labels, metadata, folder)


def import_artefact(source: Path | str, name: str | None = None) -> Path:
    """Check a genre model folder (a GenreNet artefact or a tagger model) and copy it into the
    user cache under `name` (default: the folder's name), where `--model NAME` finds it. The
    files are copied as they are, so a folder keeps the stamp (or the lack of one) it had."""
    import functools
    import shutil

    from stemdeck.genre.classifier import TAGGER_FILE, read_tagger_config

    source = Path(source)
    if not source.is_dir():
        raise GenreModelError(f"{source} is not a model folder")
    if (source / TAGGER_FILE).is_file():
        read_tagger_config(source)
        files = [TAGGER_FILE]
    else:
        load_artefact(source)  # the whole check: sidecars, then the Keras model itself
        files = [SCALER_FILE, LABELS_FILE, METADATA_FILE, MODEL_FILE]  # the marker last
    name = artefacts.check_name(name or source.name)
    present = [f for f in files if (source / f).is_file()]
    target = kind().cache_dir() / name
    writers: dict[str, Callable[[Path], object]] = {
        f: functools.partial(shutil.copyfile, source / f) for f in present
    }
    return atomic_write_files(target, writers)
