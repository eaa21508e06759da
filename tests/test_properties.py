"""Property-based tests (hypothesis) for the two pieces every job passes through: the audio
decoder and the job state machine.

The decoder: any WAV or FLAC that libsndfile writes — any channel count, rate, sample format
and length — comes back from `probe` / `read_audio` / `iter_blocks` with exactly its frames,
channels and samples (within the format's quantisation), also when resampled; and any bytes at
all (random, or a valid file truncated or corrupted) either decode to finite audio or raise
the project's `AudioError`, never another exception.

The state machine: any sequence of start_stage / report_progress / finish_stage / fail / move
/ cancel keeps progress from going backwards, never moves a job out of an end state, and raises
nothing but `InvalidTransition`.

Runs are deterministic (derandomize, no example database), so CI sees the same examples
every time.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stemdeck.common import jobs
from stemdeck.common.audio import AudioError, iter_blocks, probe, read_audio
from stemdeck.common.jobs import (
    ENDED,
    STAGES,
    InvalidTransition,
    Job,
    JobStatus,
    StageStatus,
)

pytestmark = pytest.mark.unit


def deterministic(max_examples: int) -> settings:
    """Same examples on every run, no example database written into the checkout."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


#: (container, subtype, largest quantisation error for full-scale samples)
SUBTYPES = [
    ("WAV", "PCM_U8", 1 / 64),
    ("WAV", "PCM_16", 1 / 16384),
    ("WAV", "PCM_24", 1e-6),
    ("WAV", "PCM_32", 1e-6),
    ("WAV", "FLOAT", 1e-7),
    ("WAV", "DOUBLE", 1e-7),
    ("FLAC", "PCM_S8", 1 / 64),
    ("FLAC", "PCM_16", 1 / 16384),
    ("FLAC", "PCM_24", 1e-6),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the whole module (hypothesis reruns a test body many times)."""
    return tmp_path_factory.mktemp("properties")


# --- the decoder: valid files round-trip ---------------------------------------------------


@st.composite
def recordings(draw: st.DrawFn) -> tuple[str, str, float, int, np.ndarray]:
    container, subtype, tolerance = draw(st.sampled_from(SUBTYPES))
    channels = draw(st.integers(1, 8 if container == "FLAC" else 6))
    odd_rates = st.integers(4000, 65535 if container == "FLAC" else 192_000)  # libFLAC's limit
    rate = draw(st.one_of(st.sampled_from([8000, 11025, 22050, 44100, 48000, 96000]), odd_rates))
    frames = draw(st.integers(1, 4000))
    seed = draw(st.integers(0, 2**16))
    samples = np.random.default_rng(seed).uniform(-0.99, 0.99, (channels, frames))
    return container, subtype, tolerance, rate, samples


@deterministic(60)
@given(recording=recordings(), block=st.integers(1, 5000))
def test_written_audio_reads_back_with_its_frames_channels_and_samples(
    folder: Path, recording: tuple[str, str, float, int, np.ndarray], block: int
) -> None:
    container, subtype, tolerance, rate, samples = recording
    channels, frames = samples.shape
    path = folder / f"roundtrip.{container.lower()}"
    sf.write(path, samples.T, rate, subtype=subtype, format=container)

    info = probe(path)
    assert (info.sample_rate, info.channels, info.frames) == (rate, channels, frames)
    assert info.format == container and math.isclose(info.duration, frames / rate)

    audio = read_audio(path, rate, channels)
    assert audio.dtype == np.float32 and audio.shape == (channels, frames)
    np.testing.assert_allclose(audio, samples, atol=tolerance + 1e-7)

    blocks = list(iter_blocks(path, block, rate, channels))
    assert all(b.shape == (channels, block) for b in blocks[:-1])
    assert 1 <= blocks[-1].shape[1] <= block
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), audio)


@deterministic(30)
@given(
    recording=recordings(),
    target=st.sampled_from([8000, 22050, 44100, 48000]),
    mono=st.booleans(),
)
def test_resampled_and_remixed_audio_has_exactly_the_promised_length(
    folder: Path, recording: tuple[str, str, float, int, np.ndarray], target: int, mono: bool
) -> None:
    """The documented contract: round(frames * target / native) frames, 1 or 2 channels."""
    container, subtype, _, rate, samples = recording
    path = folder / f"resample.{container.lower()}"
    sf.write(path, samples.T, rate, subtype=subtype, format=container)
    channels = 1 if mono else 2
    audio = read_audio(path, target, channels)
    assert audio.shape == (channels, round(samples.shape[1] * target / rate))
    assert np.isfinite(audio).all()


# --- the decoder: anything else is AudioError --------------------------------------------------


def decode_natively(path: Path) -> np.ndarray | None:
    """What the upload check does: probe, then decode every frame at the native rate (so a
    header claiming 1 Hz is not resampled to millions of frames). None when refused with
    AudioError; any other exception propagates and fails the test."""
    try:
        info = probe(path)
        channels = info.channels if info.channels in (1, 2) else 2
        blocks = list(iter_blocks(path, 1 << 15, info.sample_rate, channels))
    except AudioError as exc:
        assert str(exc), "an AudioError without a message"
        return None
    audio = np.concatenate(blocks, axis=1)
    assert audio.dtype == np.float32 and np.isfinite(audio).all()
    assert audio.shape[0] == channels and audio.shape[1] >= 1
    return audio


@deterministic(40)
@given(
    data=st.one_of(
        st.binary(max_size=4096),
        st.sampled_from([b"RIFF", b"fLaC", b"OggS", b"ID3", b"\xff\xfb", b"FORM"]).flatmap(
            lambda magic: st.binary(max_size=2048).map(lambda rest: magic + rest)
        ),
    ),
    suffix=st.sampled_from([".wav", ".flac", ".mp3", ".ogg", ".m4a", ".bin"]),
)
@pytest.mark.slow
def test_arbitrary_bytes_decode_or_raise_audio_error(
    folder: Path, data: bytes, suffix: str
) -> None:
    path = folder / f"random{suffix}"
    path.write_bytes(data)
    decode_natively(path)


def _valid_file(folder: Path, kind: str) -> bytes:
    """A short valid file of each kind libsndfile writes (0.25 s, stereo, 22.05 kHz)."""
    container, subtype = {
        "wav": ("WAV", "PCM_16"),
        "float.wav": ("WAV", "FLOAT"),
        "flac": ("FLAC", "PCM_16"),
        "ogg": ("OGG", "VORBIS"),
        "mp3": ("MP3", "MPEG_LAYER_III"),
    }[kind]
    t = np.arange(5512) / 22050
    song = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)]) * 0.5
    path = folder / f"valid.{kind}"
    sf.write(path, song.T, 22050, subtype=subtype, format=container)
    return path.read_bytes()


_VALID: dict[str, bytes] = {}


@st.composite
def damaged_files(draw: st.DrawFn) -> tuple[str, Callable[[bytes], bytes]]:
    """A kind of valid file and a damage: cut short, bytes overwritten (mostly in the header,
    where a lie does the most harm), a stretch removed or inserted, or all of these."""
    kind = draw(st.sampled_from(["wav", "float.wav", "flac", "ogg", "mp3"]))
    edits = draw(
        st.lists(
            st.tuples(
                st.one_of(st.integers(0, 63), st.integers(0, 1 << 20)),
                st.integers(0, 255),
            ),
            max_size=8,
        )
    )
    cut = draw(st.one_of(st.none(), st.floats(0.0, 1.0)))
    splice = draw(
        st.one_of(st.none(), st.tuples(st.integers(0, 1 << 16), st.integers(0, 4096), st.binary()))
    )

    def damage(valid: bytes) -> bytes:
        data = bytearray(valid)
        for at, value in edits:
            if data:
                data[at % len(data)] = value
        if splice is not None:
            at, length, insert = splice
            at %= max(len(data), 1)
            data[at : at + length] = insert
        if cut is not None:
            data = data[: int(len(data) * cut)]
        return bytes(data)

    return kind, damage


@deterministic(60)
@given(damaged=damaged_files())
@pytest.mark.slow
def test_truncated_or_corrupted_files_decode_or_raise_audio_error(
    folder: Path, damaged: tuple[str, Callable[[bytes], bytes]]
) -> None:
    kind, damage = damaged
    if kind not in _VALID:
        _VALID[kind] = _valid_file(folder, kind)
    path = folder / f"damaged.{kind}"
    path.write_bytes(damage(_VALID[kind]))
    decode_natively(path)


# --- the job state machine -------------------------------------------------------------------

stage_names = st.sampled_from(STAGES)
operations = st.one_of(
    st.tuples(st.just("start_stage"), stage_names, st.sampled_from([None, "cpu", "cuda:0"])),
    st.tuples(
        st.just("report_progress"),
        stage_names,
        st.one_of(st.floats(-50, 250), st.sampled_from([0.0, 99.9, 100.0, math.inf, -math.inf])),
    ),
    st.tuples(st.just("finish_stage"), stage_names),
    st.tuples(st.just("fail"), stage_names, st.text(max_size=20)),
    st.tuples(st.just("move"), st.sampled_from(list(JobStatus))),
    st.tuples(st.just("cancel")),
)


def apply(job: Job, operation: tuple[Any, ...]) -> None:
    name, *args = operation
    if name == "cancel":  # what DELETE and POST .../cancel do to a job that has not ended
        jobs.move(job, JobStatus.CANCELLED)
    else:
        getattr(jobs, name)(job, *args)


def snapshot(job: Job) -> tuple[float, dict[str, float], JobStatus]:
    return job.progress, {n: s.progress for n, s in job.stages.items()}, job.status


def check_invariants(job: Job, before: tuple[float, dict[str, float], JobStatus]) -> None:
    progress, stages, status = before
    assert 0.0 <= job.progress <= 100.0 and math.isfinite(job.progress)
    assert job.progress >= progress, "overall progress went backwards"
    for name, stage in job.stages.items():
        assert stage.progress >= stages[name], f"stage {name} went backwards"
        assert 0.0 <= stage.progress <= 100.0
    if status in ENDED:
        assert job.status == status, f"an ended job moved from {status} to {job.status}"
    if job.status in ENDED:
        assert all(s.status != StageStatus.RUNNING for s in job.stages.values())
    if job.status == JobStatus.QUEUED:
        assert all(s.status == StageStatus.PENDING for s in job.stages.values())
    if job.progress == 100.0:
        assert all(s.status == StageStatus.SUCCEEDED for s in job.stages.values())
    assert Job.model_validate_json(job.model_dump_json()) == job  # what the stores keep


@deterministic(300)
@given(steps=st.lists(operations, max_size=40))
def test_no_sequence_of_operations_breaks_the_job_state_machine(
    steps: list[tuple[Any, ...]],
) -> None:
    job = Job()
    for step in steps:
        before = snapshot(job)
        with contextlib.suppress(InvalidTransition):  # the machine's one refusal; any other
            apply(job, step)  # exception fails the test
        check_invariants(job, before)


@deterministic(200)
@given(steps=st.lists(operations, max_size=40))
def test_invalid_transitions_change_nothing(steps: list[tuple[Any, ...]]) -> None:
    """A refused operation leaves the record exactly as it was (workers retry on refusal)."""
    job = Job()
    for step in steps:
        saved = job.model_dump_json()
        try:
            apply(job, step)
        except InvalidTransition:
            assert job.model_dump_json() == saved, step


@deterministic(200)
@given(steps=st.lists(operations, max_size=30))
def test_an_ended_stage_keeps_its_end_state(steps: list[tuple[Any, ...]]) -> None:
    job = Job()
    for step in steps:
        ended = {n: s.status for n, s in job.stages.items() if s.status != StageStatus.PENDING}
        ended = {n: s for n, s in ended.items() if s != StageStatus.RUNNING}
        with contextlib.suppress(InvalidTransition):
            apply(job, step)
        for name, status in ended.items():
            assert job.stages[name].status == status, (step, name, status)
