"""musicnn, the music tagger of Pons & Serra (2019, "musicnn: pre-trained convolutional neural
networks for music audio tagging", ISMIR late-breaking demo), written in Keras 3 and loaded with
the weights its authors publish in the `musicnn` wheel.

The network (the "7774timbraltemporal" front end of Pons et al. 2018, "End-to-end learning for
music audio tagging at scale"), as the checkpoint's variable shapes fix it:

- input: (frames, 96) log-mel patches (`melspec`), batch-normalised as one channel;
- front end, musically motivated filters, each Conv2D + ReLU, batch norm, then max over frequency:
  *timbral* (vertical) filters 7 frames x 38 and 7 x 67 mel bands (40 % and 70 % of 96), 204
  each, on time-padded input; *temporal* (horizontal) filters 128, 64 and 32 frames x 1 band,
  51 each, "same" padding -> 561 features a frame;
- mid end: three 1-D convolutions over time (7 frames, 64 filters, ReLU, batch norm), the second
  and third with residual connections; the paper's figure draws the mid end as dense layers of
  1-D convolutions, and the checkpoint's kernels (7 x 561 -> 64, 7 x 64 -> 64, 7 x 64 -> 64) and
  graph are undilated. The front end's output and the three mid-end outputs are concatenated
  (753 features a frame);
- back end: max and mean over time, interleaved feature by feature (1,506), batch norm,
  Dense 200 + ReLU, batch norm (the "penultimate" 200-d embedding), Dense 50, sigmoid: 50 tag
  probabilities.

The Keras layers carry the checkpoint's own variable names (`conv2d_3`, `batch_normalization_7`,
`dense_1`, ...), so loading is a name-for-name copy, checked shape by shape. Batch norms use the
TF1 layers' epsilon of 1e-3. The package's TensorFlow 1 code is never imported: only its
checkpoint files are read. The tag lists are the output order of the published models (their
equality with the package's own lists is tested).
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stemdeck.genre.melspec import N_MELS, PATCH_FRAMES

#: Million Song Dataset top-50 Last.fm tags: MSD_musicnn's output order.
MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill",
    "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock",
    "60s", "rnb", "indie pop", "sad", "House", "happy",
)  # fmt: skip
#: MagnaTagATune top-50 tags: MTT_musicnn's output order.
MTT_TAGS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice",
    "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip
TAGS = {"MSD_musicnn": MSD_TAGS, "MTT_musicnn": MTT_TAGS}
PACKAGE = "musicnn"
#: The wheel that holds the weights (pinned in pyproject.toml's `tagger` extra).
PACKAGE_VERSION = "0.1.0"
BN_EPSILON = 1e-3
TIMBRAL = ((38, 204), (67, 204))  # (mel bands, filters) of the 7-frame vertical filters
TEMPORAL = ((128, 51), (64, 51), (32, 51))  # (frames, filters) of the horizontal filters
MIDEND_FILTERS = 64
BACKEND_UNITS = 200


class TaggerUnavailable(RuntimeError):
    """The `musicnn` wheel (which holds the weights) is not installed, or lacks a model."""


def checkpoint_folder(model: str = "MSD_musicnn") -> Path:
    """Folder of a published checkpoint inside the installed `musicnn` package, found without
    importing the package (its modules are TensorFlow 1 code)."""
    if model not in TAGS:
        raise ValueError(f"unknown musicnn model {model!r} (known: {', '.join(TAGS)})")
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise TaggerUnavailable(
            f"the music tagger's weights come from the '{PACKAGE}' wheel, which is not installed: "
            f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / model
    if not (folder / ".index").is_file():
        raise TaggerUnavailable(f"{folder} holds no checkpoint (.index missing)")
    return folder


def build_musicnn(n_tags: int = 50) -> Any:
    """The network (untrained): {"tags": (batch, n_tags) sigmoid probabilities, "embedding":
    (batch, 200) penultimate layer} of (batch, 187, 96) patches, the length the published
    models were trained on."""
    from stemdeck.genre.model import keras_module

    keras = keras_module()
    layers, ops = keras.layers, keras.ops
    counter = {"bn": 0, "conv": 0}

    def name(kind: str) -> str:
        index = counter[kind]
        counter[kind] += 1
        base = "batch_normalization" if kind == "bn" else "conv2d"
        return base if index == 0 else f"{base}_{index}"

    def norm(x: Any) -> Any:
        return layers.BatchNormalization(epsilon=BN_EPSILON, name=name("bn"))(x)

    spectrogram = keras.Input(shape=(PATCH_FRAMES, N_MELS), name="log_mel")
    image = norm(ops.expand_dims(spectrogram, -1))  # (batch, frames, 96, 1)
    padded = layers.ZeroPadding2D(((3, 3), (0, 0)))(image)
    front = []
    for bands, filters in TIMBRAL:
        conv = layers.Conv2D(filters, (7, bands), activation="relu", name=name("conv"))(padded)
        front.append(ops.max(norm(conv), axis=2))
    # A (frames x 1) filter slides along time in each mel band alike: as a Conv1D over the
    # bands' time series (bands folded into the batch) it computes the same sums as the graph's
    # Conv2D at 2-4x the speed on a CPU (measured), with the same kernel less its unit axis.
    series = ops.reshape(ops.transpose(image, (0, 2, 1, 3)), (-1, PATCH_FRAMES, 1))
    for frames, filters in TEMPORAL:
        conv = layers.Conv1D(filters, frames, padding="same", activation="relu",
                             name=name("conv"))(series)  # fmt: skip
        banded = ops.reshape(conv, (-1, N_MELS, PATCH_FRAMES, filters))
        front.append(ops.max(norm(banded), axis=1))
    front_end = ops.concatenate(front, axis=-1)  # (batch, frames, 561)

    def midend_conv(x: Any) -> Any:
        return norm(layers.Conv1D(MIDEND_FILTERS, 7, padding="same", activation="relu",
                                  name=name("conv"))(x))  # fmt: skip

    first = midend_conv(front_end)
    second = midend_conv(first) + first
    third = midend_conv(second) + second
    features = ops.concatenate([front_end, first, second, third], axis=-1)  # (batch, frames, 753)
    # The graph stacks max and mean as (753, 2) and flattens: the 1,506 values interleave.
    pooled = ops.stack([ops.max(features, axis=1), ops.mean(features, axis=1)], axis=-1)
    pooled = norm(ops.reshape(pooled, (-1, 2 * features.shape[-1])))
    hidden = layers.Dense(BACKEND_UNITS, activation="relu", name="dense")(pooled)
    embedding = norm(hidden)
    logits = layers.Dense(n_tags, name="dense_1")(embedding)
    outputs = {"tags": ops.sigmoid(logits), "embedding": embedding}
    return keras.Model(spectrogram, outputs, name="musicnn")


def load_weights(model: Any, folder: Path) -> None:
    """Copy a TF1 checkpoint's variables into `model`, layer by layer, by name; ValueError if
    a variable is missing or its shape differs (a Conv1D kernel is the checkpoint's Conv2D kernel
    (k, C, 1, F) without its unit axis)."""
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(str(folder) + "/")
    available = reader.get_variable_to_shape_map()
    fields = {
        "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance"),
        "Conv2D": ("kernel", "bias"),
        "Conv1D": ("kernel", "bias"),
        "Dense": ("kernel", "bias"),
    }
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in fields:
            continue
        values = []
        for field, current in zip(fields[kind], layer.get_weights(), strict=True):
            key = f"{layer.name}/{field}"
            if key not in available:
                raise ValueError(f"{folder}: checkpoint has no variable {key}")
            value = reader.get_tensor(key)
            if kind == "Conv1D" and value.ndim == 4:
                value = value.reshape(value.shape[0], -1, value.shape[-1])
            if value.shape != current.shape:
                raise ValueError(f"{key}: checkpoint shape {value.shape}, layer {current.shape}")
            values.append(value)
        layer.set_weights(values)


@dataclass
class Tagger:
    """A loaded musicnn with its tag names; `run` is the model traced once by tf.function
    (twice as fast as calling the Keras model eagerly, measured)."""

    name: str
    model: Any
    tags: tuple[str, ...]
    run: Any = None

    def predict_patches(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(tag probabilities (n, tags), embeddings (n, 200)) of (n, 187, 96) patches."""
        batch = np.asarray(batch, dtype=np.float32)
        out = self.run(batch) if self.run is not None else self.model(batch, training=False)
        return np.asarray(out["tags"], dtype=np.float64), np.asarray(out["embedding"])


@functools.cache
def load_tagger(name: str = "MSD_musicnn") -> Tagger:
    """musicnn `name` ("MSD_musicnn" or "MTT_musicnn") with the published weights (imports
    TensorFlow; cached per process). TaggerUnavailable when the wheel is missing."""
    folder = checkpoint_folder(name)
    model = build_musicnn(len(TAGS[name]))
    load_weights(model, folder)
    import tensorflow as tf

    spec = tf.TensorSpec((None, PATCH_FRAMES, N_MELS), tf.float32)
    run = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    return Tagger(name, model, TAGS[name], run)
