"""Tests for stemdeck.common.audio: every fixture is synthesised into tmp_path."""

from __future__ import annotations

import shutil
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemdeck.common import audio, ffmpeg
from stemdeck.common.audio import (
    TARGET_RATE,
    AudioError,
    AudioWriter,
    iter_blocks,
    probe,
    read_audio,
    to_channels,
    write_audio,
)

pytestmark = pytest.mark.unit

HAS_FFMPEG = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None
needs_ffmpeg = pytest.mark.skipif(not HAS_FFMPEG, reason="ffmpeg/ffprobe not installed")
HAS_SF_MP3 = "MP3" in sf.available_formats()
SHARED_AUDIO = Path(__file__).resolve().parents[1].parent / "shared" / "audio"
MUSDB_TRAIN = SHARED_AUDIO / "musdb18-7" / "train"
G = np.sqrt(0.5)  # ITU-R BS.775 centre/surround weight


def sine(freq: float, rate: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


def make_ffmpeg(out: Path, *args: str) -> Path:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", *args, str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return out


# --- decoding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "kwargs", "atol"),
    [
        (".wav", {"subtype": "PCM_24"}, 1e-6),
        (".flac", {"subtype": "PCM_16"}, 5e-5),
        (".ogg", {"format": "OGG", "subtype": "VORBIS"}, None),
        pytest.param(
            ".mp3",
            {"format": "MP3", "subtype": "MPEG_LAYER_III"},
            None,
            marks=pytest.mark.skipif(not HAS_SF_MP3, reason="libsndfile without MP3"),
        ),
    ],
)
def test_decode_formats(tmp_path: Path, suffix: str, kwargs: dict, atol: float | None) -> None:
    src = np.stack([sine(440, 44100, 1.5), sine(660, 44100, 1.5)], axis=1)
    path = tmp_path / f"song{suffix}"
    sf.write(path, src, 44100, **kwargs)

    info = probe(path)
    assert info.sample_rate == 44100 and info.channels == 2
    assert abs(info.frames - len(src)) <= 2048
    assert info.duration == pytest.approx(info.frames / 44100)
    x = read_audio(path)
    assert x.dtype == np.float32 and x.shape == (2, info.frames)
    if atol is not None:  # lossless: the samples themselves survive
        np.testing.assert_allclose(x, src.T, atol=atol)
    assert peak_hz(x[0], TARGET_RATE) == pytest.approx(440, abs=2)
    assert peak_hz(x[1], TARGET_RATE) == pytest.approx(660, abs=2)


def test_mono_is_duplicated(tmp_path: Path) -> None:
    src = sine(440, 44100, 0.5)
    sf.write(tmp_path / "mono.wav", src, 44100, subtype="FLOAT")
    x = read_audio(tmp_path / "mono.wav")
    assert x.shape == (2, len(src))
    np.testing.assert_array_equal(x[0], src)
    np.testing.assert_array_equal(x[1], src)


def test_8ch_96k_downmixed_and_resampled(tmp_path: Path) -> None:
    frames = 96000 + 123
    tone = sine(1000, 96000, frames / 96000)
    src = np.zeros((frames, 8), np.float32)
    src[:, 0] = tone  # even channel -> left
    src[:, 3] = tone  # odd channel -> right
    sf.write(tmp_path / "8ch.wav", src, 96000, subtype="FLOAT")

    x = read_audio(tmp_path / "8ch.wav")
    assert x.shape == (2, round(frames * 44100 / 96000))
    for row in x:
        assert peak_hz(row, 44100) == pytest.approx(1000, abs=2)
        # 1 of 4 even (or odd) channels carries the tone: mean gives a quarter of its level.
        assert np.abs(row[1000:-1000]).max() == pytest.approx(0.5 / 4, rel=0.02)


def test_22k_upsampling_keeps_length_and_frequency(tmp_path: Path) -> None:
    frames = 22050 + 7
    sf.write(tmp_path / "low.wav", sine(1000, 22050, frames / 22050), 22050)
    x = read_audio(tmp_path / "low.wav")
    assert x.shape == (2, 2 * frames)
    assert peak_hz(x[0], 44100) == pytest.approx(1000, abs=2)


def test_51_downmix_coefficients() -> None:
    eye = np.eye(6, dtype=np.float32)  # column k: only channel k set
    m = to_channels(eye, 2)
    norm = 1 + 2 * G
    expected = np.array([[1, 0, G, 0, G, 0], [0, 1, G, 0, 0, G]], np.float32) / norm
    np.testing.assert_allclose(m, expected, atol=1e-6)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-6)  # full-scale input cannot clip


def test_other_channel_rules() -> None:
    three = np.array([[1.0], [2.0], [3.0]], np.float32)
    np.testing.assert_allclose(to_channels(three, 2), [[2.0], [2.0]])  # (1+3)/2, 2
    np.testing.assert_allclose(to_channels(three, 1), [[2.0]])
    stereo = np.array([[0.25], [0.75]], np.float32)
    np.testing.assert_array_equal(to_channels(stereo, 2), stereo)
    np.testing.assert_allclose(to_channels(stereo, 1), [[0.5]])
    with pytest.raises(AudioError):
        to_channels(np.zeros((0, 10), np.float32), 2)


def test_block_iteration(tmp_path: Path) -> None:
    frames = 22050 * 2 + 11
    src = np.stack([sine(500, 22050, frames / 22050)] * 2, axis=1)
    sf.write(tmp_path / "blocks.flac", src, 22050)

    blocks = list(iter_blocks(tmp_path / "blocks.flac", block_frames=10000))
    assert all(b.shape == (2, 10000) for b in blocks[:-1])
    assert 0 < blocks[-1].shape[1] <= 10000
    assert all(b.dtype == np.float32 and b.flags.c_contiguous for b in blocks)
    whole = np.concatenate(blocks, axis=1)
    assert whole.shape == (2, 2 * frames)
    np.testing.assert_array_equal(whole, read_audio(tmp_path / "blocks.flac"))


def test_block_iteration_memory_does_not_grow(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    seconds, rate = 120, 48000
    with sf.SoundFile(path, "w", rate, 2, "PCM_16") as f:
        block = np.stack([sine(440, rate, 1.0)] * 2, axis=1)
        for _ in range(seconds):
            f.write(block)
    tracemalloc.start()
    try:
        total = sum(b.shape[1] for b in iter_blocks(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == seconds * 44100
    block_bytes = 2 * 441000 * 4
    # The block being filled, the one the caller holds, and small per-chunk temporaries; the
    # whole song would be 2 * 120 * 44100 * 4 bytes = 10 blocks.
    assert peak < 3 * block_bytes, f"peak {peak / 1e6:.1f} MB while streaming"


# --- ffmpeg-only containers -------------------------------------------------------------------


@needs_ffmpeg
def test_m4a_aac(tmp_path: Path) -> None:
    path = make_ffmpeg(
        tmp_path / "song.m4a", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
        "-ac", "2", "-c:a", "aac", "-b:a", "128k",
    )  # fmt: skip
    info = probe(path)
    assert "mp4" in info.format and info.sample_rate == 44100 and info.channels == 2
    x = read_audio(path)
    assert x.dtype == np.float32 and x.shape[0] == 2
    assert abs(x.shape[1] - 88200) <= 2048  # ffmpeg's decoded count, priming included
    assert peak_hz(x[0], 44100) == pytest.approx(440, abs=2)


@needs_ffmpeg
def test_stem_mp4_uses_first_audio_stream(tmp_path: Path) -> None:
    path = make_ffmpeg(
        tmp_path / "track.stem.mp4",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=1.5:sample_rate=48000",
        "-f", "lavfi", "-i", "sine=frequency=880:duration=1.5:sample_rate=48000",
        "-map", "0:a", "-map", "1:a", "-c:a", "aac", "-ac", "2",
    )  # fmt: skip
    info = probe(path)
    assert info.sample_rate == 48000
    x = read_audio(path)
    assert abs(x.shape[1] - round(1.5 * 44100)) <= 2048
    assert peak_hz(x[0], 44100) == pytest.approx(440, abs=2)
    assert peak_hz(x[1], 44100) == pytest.approx(440, abs=2)


@needs_ffmpeg
def test_ffmpeg_process_is_cleaned_up_on_early_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_ffmpeg(
        tmp_path / "long.m4a", "-f", "lavfi", "-i", "sine=frequency=440:duration=20", "-c:a", "aac",
    )  # fmt: skip
    procs: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def spy(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        procs.append(proc)
        return proc

    monkeypatch.setattr(ffmpeg.subprocess, "Popen", spy)
    blocks = iter_blocks(path, block_frames=4096)
    next(blocks)
    decoder = procs[-1]  # procs[0] is ffprobe
    assert "-map" in decoder.args and decoder.poll() is None
    blocks.close()  # type: ignore[attr-defined]
    assert decoder.poll() is not None


@needs_ffmpeg
def test_truncated_m4a_never_crashes_with_other_errors(tmp_path: Path) -> None:
    path = make_ffmpeg(
        tmp_path / "cut.m4a", "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "aac",
    )  # fmt: skip
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    try:
        x = read_audio(path)
    except AudioError:
        return
    assert x.shape[0] == 2 and np.isfinite(x).all()


def test_m4a_without_ffmpeg_says_install_ffmpeg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00" + b"\x00" * 64)
    monkeypatch.setattr(audio.ffmpeg, "available", lambda: False)
    with pytest.raises(AudioError, match=r"install ffmpeg to read \.m4a files"):
        probe(path)


@pytest.mark.skipif(
    not MUSDB_TRAIN.is_dir() or not any(MUSDB_TRAIN.glob("*.stem.mp4")),
    reason=f"no MUSDB sample at {MUSDB_TRAIN}",
)
@needs_ffmpeg
def test_musdb_stem_mp4() -> None:
    path = sorted(MUSDB_TRAIN.glob("*.stem.mp4"))[0]
    info = probe(path)
    x = read_audio(path)
    assert x.dtype == np.float32 and x.shape[0] == 2
    assert abs(x.shape[1] - info.frames) <= 0.01 * info.frames + 2048
    assert np.isfinite(x).all() and np.abs(x).max() > 0.01


# --- errors -----------------------------------------------------------------------------------


def test_missing_path() -> None:
    with pytest.raises(AudioError, match=r"'nowhere/x\.wav' does not exist"):
        probe("nowhere/x.wav")
    with pytest.raises(AudioError, match="does not exist"):
        iter_blocks("nowhere/x.wav")  # raised at the call, not on first next()


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="is a directory"):
        read_audio(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.wav"):
        probe(tmp_path / "empty.wav")


def test_text_file_named_mp3(tmp_path: Path) -> None:
    path = tmp_path / "song.mp3"
    path.write_text("these are the lyrics, not the song\n" * 20)
    with pytest.raises(AudioError, match=r"song\.mp3' is not an audio file StemDeck can read"):
        read_audio(path)


def test_wav_cut_inside_data_chunk(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    sf.write(path, np.stack([sine(440, 44100, 1.0)] * 2, axis=1), 44100, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 1])  # also leaves half a sample frame
    try:
        info = probe(path)
        x = read_audio(path)
    except AudioError:
        return
    assert x.shape == (2, info.frames) and 0 < info.frames < 44100


def test_wav_cut_inside_header(tmp_path: Path) -> None:
    path = tmp_path / "head.wav"
    sf.write(path, sine(440, 44100, 0.1), 44100)
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(AudioError, match=r"head\.wav"):
        read_audio(path)


def test_zero_frame_wav(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((0, 2), np.float32), 44100)
    with pytest.raises(AudioError, match=r"contains no audio \(0 frames\)"):
        probe(path)


def test_truncated_flac_raises_while_iterating(tmp_path: Path) -> None:
    path = tmp_path / "cut.flac"
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, (44100 * 3, 2)).astype(np.float32)
    sf.write(path, noise, 44100)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match=r"cut\.flac"):
        read_audio(path)


def test_nan_samples_rejected(tmp_path: Path) -> None:
    src = np.zeros((1000, 2), np.float32)
    src[500, 1] = np.nan
    sf.write(tmp_path / "nan.wav", src, 44100, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or infinity"):
        read_audio(tmp_path / "nan.wav")


# --- writing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "bits", "subtype"),
    [
        ("wav", 16, "PCM_16"),
        ("wav", 24, "PCM_24"),
        ("wav", 32, "FLOAT"),
        ("flac", 16, "PCM_16"),
        ("flac", 24, "PCM_24"),
    ],
)
def test_writer_round_trip(tmp_path: Path, fmt: str, bits: int, subtype: str) -> None:
    data = np.stack([sine(440, 44100, 0.5), sine(550, 44100, 0.5)])
    path = tmp_path / f"out.{fmt}"
    with AudioWriter(path, 44100, 2, fmt, bits) as w:
        w.write(data[:, :10000])
        w.write(data[:, 10000:])
    assert sf.info(path).subtype == subtype
    np.testing.assert_allclose(read_audio(path), data, atol=2.0 ** -(bits - 2))
    assert not Path(f"{path}.part").exists()


def test_flac_32_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="FLAC supports 16 or 24 bits"):
        AudioWriter(tmp_path / "x.flac", format="flac", bit_depth=32)
    assert list(tmp_path.iterdir()) == []


def _write_and_check_mp3(path: Path) -> None:
    data = np.stack([sine(440, 44100, 2.0)] * 2)
    write_audio(path, data)
    assert probe(path).format.lower() == "mp3"
    x = read_audio(path)
    assert x.shape[1] == pytest.approx(data.shape[1], abs=3000)
    assert peak_hz(x[0], 44100) == pytest.approx(440, abs=2)


@pytest.mark.skipif(not HAS_SF_MP3, reason="libsndfile without MP3")
def test_mp3_written_by_libsndfile(tmp_path: Path) -> None:
    _write_and_check_mp3(tmp_path / "out.mp3")


@needs_ffmpeg
def test_mp3_written_by_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio, "_soundfile_has_mp3", lambda: False)
    _write_and_check_mp3(tmp_path / "out.mp3")


def test_mp3_without_any_encoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio, "_soundfile_has_mp3", lambda: False)
    monkeypatch.setattr(audio.ffmpeg, "available", lambda: False)
    with pytest.raises(RuntimeError, match="MP3 output needs ffmpeg"):
        AudioWriter(tmp_path / "x.mp3", format="mp3")


def test_16_bit_clips_instead_of_wrapping(tmp_path: Path) -> None:
    data = np.array([[1.5, -1.5, 0.5, 3.0]] * 2, np.float32)
    write_audio(tmp_path / "loud.wav", data)
    back, _ = sf.read(tmp_path / "loud.wav", dtype="int16", always_2d=True)
    np.testing.assert_array_equal(back[:, 0], [32767, -32768, 16384, 32767])
    write_audio(tmp_path / "loud32.wav", data, bit_depth=32)  # float keeps the overs
    np.testing.assert_array_equal(read_audio(tmp_path / "loud32.wav"), data)


def test_exception_leaves_no_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "out.flac"
    with pytest.raises(KeyboardInterrupt), AudioWriter(path, format="flac") as w:
        w.write(np.zeros((2, 1000), np.float32))
        assert Path(f"{path}.part").exists() and not path.exists()
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_write_audio_infers_format(tmp_path: Path) -> None:
    data = np.zeros((1, 100), np.float32)
    write_audio(tmp_path / "a.FLAC", data, sample_rate=22050)
    assert sf.info(tmp_path / "a.FLAC").format == "FLAC"
    with pytest.raises(ValueError, match="cannot tell the output format"):
        write_audio(tmp_path / "a.aiff", data)
    with pytest.raises(ValueError, match=r"\(2, frames\)"), AudioWriter(tmp_path / "b.wav") as w:
        w.write(np.zeros((100, 2), np.float32))
    assert not (tmp_path / "b.wav").exists()
