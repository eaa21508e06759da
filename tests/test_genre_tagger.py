"""The Keras musicnn against the authors' own TensorFlow graph, its mel front end against
librosa, the tag -> genre mapping and its calibration, and the default's fallback without the
`musicnn` wheel."""

from __future__ import annotations

import importlib.util
import os

import librosa
import numpy as np
import pytest

from stemdeck.genre import tag_genre
from stemdeck.genre.melspec import (
    HOP,
    N_FFT,
    N_MELS,
    PATCH_FRAMES,
    TAGGER_RATE,
    log_mel,
    patch_starts,
    patches,
)
from stemdeck.genre.tagger import MSD_TAGS, MTT_TAGS, TAGS
from stemdeck.training.gtzan import GENRES
from tests.genre_audio import chord_sequence, click_track, genre_clip

from .conftest import SHARED_AUDIO

pytestmark = pytest.mark.unit

needs_wheel = pytest.mark.skipif(
    importlib.util.find_spec("musicnn") is None,
    reason="the musicnn wheel (the tagger's published weights) is not installed: "
    "pip install --no-deps musicnn==0.1.0",
)


def clips() -> dict[str, np.ndarray]:
    """A few 16 kHz clips of 4-7 s: generated ones always, real ones when ../shared has them."""
    sr = TAGGER_RATE
    found = {
        "clicks": click_track(128, 7.0, sr),
        "chords": chord_sequence([[60, 64, 67], [57, 60, 64], [65, 69, 72], [67, 71, 74]], 1.5, sr),
        "metal-ish": genre_clip("metal", 1, seconds=4.0, sr=sr),
        "full-scale noise": np.random.default_rng(5).uniform(-1, 1, 5 * sr).astype(np.float32),
    }
    real = SHARED_AUDIO / "real" / "Kevin_MacLeod_-_Vibe_Ace.ogg"
    if real.is_file():
        from stemdeck.common.audio import read_audio

        found["Vibe Ace (real)"] = read_audio(real, sample_rate=sr, channels=1)[0][: 10 * sr]
    return found


def test_log_mel_is_librosas_with_reflect_padding_in_float32() -> None:
    y = click_track(100, 4.0, TAGGER_RATE) + 0.3 * chord_sequence([[60, 64, 67]], 4.0, TAGGER_RATE)
    ours = log_mel(y)
    mel = librosa.feature.melspectrogram(
        y=y, sr=TAGGER_RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, pad_mode="reflect"
    )
    np.testing.assert_allclose(ours, np.log10(10000 * mel.T + 1), atol=1e-4)
    assert ours.dtype == np.float32 and ours.shape[1] == N_MELS
    # A loud master overflows float16 (the package's cast) but not this front end.
    loud = np.random.default_rng(0).uniform(-1, 1, 3 * TAGGER_RATE).astype(np.float32)
    assert np.isfinite(log_mel(loud)).all()
    loud_mel = librosa.feature.melspectrogram(
        y=loud, sr=TAGGER_RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS
    )
    with np.errstate(over="ignore"):  # the package's float16 cast, then 10000 * mel + 1
        assert not np.isfinite(np.log10(10000 * loud_mel.astype(np.float16) + 1)).all()


def test_patches_cover_the_whole_track() -> None:
    assert patch_starts(PATCH_FRAMES - 1) == []
    assert patch_starts(3 * PATCH_FRAMES + 5) == [0, PATCH_FRAMES, 2 * PATCH_FRAMES]
    long = patch_starts(100 * PATCH_FRAMES, max_patches=8)
    assert len(long) == 8 and long[0] == 0 and long[-1] == 99 * PATCH_FRAMES
    batch, starts = patches(genre_clip("pop", 0, seconds=3.0, sr=TAGGER_RATE))
    assert batch.shape == (1, PATCH_FRAMES, N_MELS) and starts == [0]


def test_mapping_names_only_real_tags_and_all_genres() -> None:
    assert tuple(tag_genre.GENRE_TAGS) == GENRES
    keys = [f"{name}:{tag}" for name, tags in TAGS.items() for tag in tags]
    matrix = tag_genre.mapping_matrix(keys, tag_genre.GENRE_TAGS)
    assert matrix.shape == (100, 10)
    assert matrix[:, GENRES.index("reggae")].sum() == 0  # no tag names reggae
    with pytest.raises(ValueError, match="no loaded tagger has"):
        tag_genre.mapping_matrix(keys, {"rock": ("MSD_musicnn:rok",)})


def test_temperature_fit_recovers_the_temperature_that_made_the_labels() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, (4000, 10))
    truth = tag_genre.softmax(logits, 2.0)
    labels = np.array([rng.choice(10, p=p) for p in truth])
    accepted = np.eye(10)[labels]
    assert tag_genre.fit_temperature(logits, accepted) == pytest.approx(2.0, rel=0.1)


def test_default_falls_back_to_gtzan_genrenet_without_the_wheel(monkeypatch) -> None:
    from stemdeck.genre import classifier, tagger
    from stemdeck.genre.model import GenreModelError

    def missing(model: str = "MSD_musicnn"):
        raise tagger.TaggerUnavailable("the musicnn wheel is not installed")

    monkeypatch.setattr(tagger, "checkpoint_folder", missing)
    tagger.load_tagger.cache_clear()
    try:
        fallback = classifier.load_genre_model("default")
        assert isinstance(fallback, classifier.FeatureGenreModel)
        assert fallback.name == classifier.FALLBACK_MODEL
        with pytest.raises(GenreModelError, match="not installed"):
            classifier.load_genre_model("musicnn")
    finally:
        tagger.load_tagger.cache_clear()


@needs_wheel
def test_tag_lists_are_the_packages() -> None:
    # configuration.py is plain constants; importing it here (never at serving time) is cheap.
    from musicnn import configuration

    assert list(MSD_TAGS) == configuration.MSD_LABELS
    assert list(MTT_TAGS) == configuration.MTT_LABELS


def original_graph(model: str):
    """The authors' inference graph: the checkpoint's .meta with everything the output does not
    need (optimizer, gradients, saver, loss, moving-average updates) stripped, and each
    variable replaced by its checkpoint value."""
    import tensorflow as tf
    from tensorflow.core.protobuf import meta_graph_pb2

    from stemdeck.genre.tagger import checkpoint_folder

    folder = checkpoint_folder(model)
    meta = meta_graph_pb2.MetaGraphDef()
    meta.ParseFromString((folder / ".meta").read_bytes())
    needed = tf.compat.v1.graph_util.extract_sub_graph(meta.graph_def, ["model/Sigmoid"])
    reader = tf.compat.v1.train.NewCheckpointReader(str(folder) + os.sep)
    frozen = tf.compat.v1.GraphDef()
    for node in needed.node:
        if node.op in ("VariableV2", "Variable"):
            const = frozen.node.add()
            const.name, const.op = node.name, "Const"
            const.attr["dtype"].type = tf.float32.as_datatype_enum
            const.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(reader.get_tensor(node.name)))
        else:
            frozen.node.add().CopyFrom(node)
    assert not any(n.op.startswith("Apply") or "gradients" in n.name for n in frozen.node)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(frozen, name="")
    return graph


@needs_wheel
@pytest.mark.parametrize("model", ["MSD_musicnn", "MTT_musicnn"])
def test_keras_tagger_matches_the_original_graph(model: str) -> None:
    import tensorflow as tf

    from stemdeck.genre.tagger import load_tagger

    batches = {name: patches(y)[0] for name, y in clips().items()}
    with tf.compat.v1.Session(graph=original_graph(model)) as session:
        expected = {
            name: session.run(
                "model/Sigmoid:0", {"model/Placeholder:0": batch, "model/Placeholder_2:0": False}
            )
            for name, batch in batches.items()
        }
    tagger = load_tagger(model)  # outside the session: its graph must not be the default one
    for name, batch in batches.items():
        ours, embedding = tagger.predict_patches(batch)
        assert ours.shape == expected[name].shape == (len(batch), 50)
        assert embedding.shape == (len(batch), 200)
        assert np.abs(ours - expected[name]).max() <= 1e-4, name
