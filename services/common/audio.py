"""Audio decoding and encoding for every StemDeck service.

Everything streams in blocks, so a 10-minute song never sits in memory whole. libsndfile (via
soundfile) reads WAV/FLAC/OGG/MP3 itself; ffmpeg decodes what it cannot (M4A/AAC, MP4 and MUSDB
`.stem.mp4`). ffmpeg only decodes at the native rate: both paths then share the same channel
conversion and soxr resampler, so a song sounds the same whichever decoder opened it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
import soundfile as sf
import soxr

from . import ffmpeg

TARGET_RATE = 44100
TARGET_CHANNELS = 2
OUTPUT_FORMATS = ("wav", "flac", "mp3")
#: The media type of each format StemDeck stores or serves (stems, mixes, uploads; by name).
MEDIA_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg", "ogg": "audio/ogg"}
BIT_DEPTHS = (16, 24, 32)

# Frames per libsndfile/ffmpeg read; output is re-cut to `block_frames` anyway.
_NATIVE_CHUNK = 1 << 16
# A lossy decoder may deliver a few codec frames (1152 samples for MP3) less than the header
# promised; within this many frames we pad with silence, beyond it the file is truncated.
_SHORTFALL_TOLERANCE = 4 * 1152
# ITU-R BS.775 weight of the centre and surround channels in a stereo downmix (-3 dB).
_ITU_WEIGHT = float(np.sqrt(0.5))
_SUBTYPES = {
    ("wav", 16): "PCM_16",
    ("wav", 24): "PCM_24",
    ("wav", 32): "FLOAT",
    ("flac", 16): "PCM_16",
    ("flac", 24): "PCM_24",
}
_MP3_FFMPEG_ARGS = ["-c:a", "libmp3lame", "-b:a", "320k"]

PathLike = str | os.PathLike[str]


def media_type(fmt: str) -> str:
    """The media type of format `fmt` (any case: `probe` names them "WAV", "MP3"), or
    application/octet-stream for one without an entry (M4A uploads, say)."""
    return MEDIA_TYPES.get(fmt.lower(), "application/octet-stream")


class AudioError(ValueError):
    """Input that is missing, empty, not audio, damaged or truncated; the message names the file."""


@dataclass(frozen=True)
class AudioInfo:
    """A source file as stored: `frames` and `duration` are at its native `sample_rate`."""

    path: str
    format: str
    sample_rate: int
    channels: int
    frames: int
    duration: float


def _shown(path: PathLike) -> str:
    return f"'{os.fspath(path)}'"


def _sf_reason(exc: Exception) -> str:
    """libsndfile's own reason, without soundfile's "Error opening 'path': " wrapper."""
    text = str(exc)
    if text.startswith("Error opening") and ": " in text:
        text = text.split(": ", 1)[1]
    return text.removeprefix("Error : ")


_FFMPEG_CONTEXT = re.compile(r"\[[\w:.-]+ @ 0x[0-9a-fA-F]+\]\s*")


def _ffmpeg_reason(exc: Exception) -> str:
    """ffmpeg's message without its "[decoder @ 0x55d0c1a2b3c0] " prefix (a memory address)."""
    return _FFMPEG_CONTEXT.sub("", str(exc))


def _probe(path: PathLike) -> tuple[AudioInfo, bool]:
    """Describe `path`; the flag says whether ffmpeg (rather than libsndfile) must decode it."""
    p, shown = Path(path), _shown(path)
    if not p.exists():
        raise AudioError(f"{shown} does not exist")
    if p.is_dir():
        raise AudioError(f"{shown} is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(f"{shown} is empty (0 bytes)")
    no_audio = AudioError(f"{shown} contains no audio (0 frames)")
    sf_empty = False
    try:
        info = sf.info(os.fspath(p))
    except sf.SoundFileError as exc:  # libsndfile cannot read this container: ask ffmpeg
        sf_reason = _sf_reason(exc)
    else:
        if info.frames > 0 and info.channels > 0:
            frames = int(info.frames)
            audio = AudioInfo(
                os.fspath(path),
                info.format,
                info.samplerate,
                info.channels,
                frames,
                frames / info.samplerate,
            )
            return audio, False
        # A truncated OGG also reports 0 frames; ffmpeg may still make sense of it.
        sf_reason, sf_empty = "0 frames", True

    if not ffmpeg.available():
        if sf_empty:
            raise no_audio
        kind = f"{p.suffix} files" if p.suffix else "this kind of file"
        raise AudioError(
            f"{shown} is not an audio file StemDeck can read (libsndfile: {sf_reason}); "
            f"install ffmpeg to read {kind}"
        )
    try:
        stream = ffmpeg.probe(p)
    except ffmpeg.FFmpegError as exc:
        if sf_empty:
            raise AudioError(
                f"{shown} contains no audio StemDeck can read (libsndfile: 0 frames; "
                f"ffmpeg: {_ffmpeg_reason(exc)})"
            ) from None
        unreadable = (
            f"{shown} is not an audio file StemDeck can read (ffmpeg: {_ffmpeg_reason(exc)})"
        )
        raise AudioError(unreadable) from None
    if stream.channels <= 0:
        raise AudioError(f"{shown} contains no audio (0 channels)")
    if stream.sample_rate <= 0:
        raise AudioError(f"{shown} is not an audio file StemDeck can read (no sample rate)")
    if stream.duration is not None:
        frames = round(stream.duration * stream.sample_rate)
    else:  # the container does not say (e.g. a WAV with no data): count by decoding
        frames = sum(len(b) for b in _ffmpeg_native(p, stream.sample_rate, stream.channels))
    if frames <= 0:
        raise no_audio
    audio = AudioInfo(
        os.fspath(path),
        stream.format_name,
        stream.sample_rate,
        stream.channels,
        frames,
        frames / stream.sample_rate,
    )
    return audio, True


def probe(path: PathLike) -> AudioInfo:
    """Describe an audio file without decoding it; raises AudioError for anything unusable.

    For ffmpeg-only formats `frames` is estimated from the container's duration; the frames that
    ffmpeg actually decodes (compressed formats have priming/padding) are what `iter_blocks` uses.
    """
    return _probe(path)[0]


@functools.cache
def _stereo_matrix(source_channels: int) -> np.ndarray:
    """(2, source_channels) downmix weights, each row summing to 1 so the mix cannot clip."""
    m = np.zeros((2, source_channels), dtype=np.float32)
    if source_channels == 6:  # 5.1 as L R C LFE Ls Rs; LFE is dropped (ITU-R BS.775)
        m[0, [0, 2, 4]] = [1.0, _ITU_WEIGHT, _ITU_WEIGHT]
        m[1, [1, 2, 5]] = [1.0, _ITU_WEIGHT, _ITU_WEIGHT]
    else:  # unknown layout: even-indexed channels to the left, odd-indexed to the right
        m[0, 0::2] = 1.0
        m[1, 1::2] = 1.0
    m /= m.sum(axis=1, keepdims=True)
    m.flags.writeable = False
    return m


def to_channels(block: np.ndarray, channels: int) -> np.ndarray:
    """Convert a float32 (source_channels, n) block to `channels` (1 or 2) rows.

    Mono is duplicated to stereo, stereo kept, more channels downmixed (`_stereo_matrix`);
    channels=1 is the mean of all channels.
    """
    block = np.asarray(block, dtype=np.float32)
    if block.ndim != 2:
        raise ValueError(f"expected a (channels, frames) array, got shape {block.shape}")
    source = block.shape[0]
    if source == 0:
        raise AudioError("the audio has 0 channels")
    if source == channels:
        return block
    if channels == 1:
        return block.mean(axis=0, keepdims=True, dtype=np.float32)
    if channels != 2:
        raise ValueError(f"can convert audio to 1 or 2 channels, not {channels}")
    if source == 1:
        return np.repeat(block, 2, axis=0)
    return _stereo_matrix(source) @ block


def _ffmpeg_native(
    path: PathLike, sample_rate: int, channels: int, stream: int = 0
) -> Iterator[np.ndarray]:
    """ffmpeg's (n, channels) blocks at the native rate, with failures as AudioError."""
    try:
        yield from ffmpeg.decode(path, sample_rate, channels, _NATIVE_CHUNK, stream)
    except ffmpeg.FFmpegError as exc:
        raise AudioError(
            f"{_shown(path)} is damaged or truncated and could not be decoded "
            f"(ffmpeg: {_ffmpeg_reason(exc)})"
        ) from exc


def _soundfile_native(info: AudioInfo) -> Iterator[np.ndarray]:
    """libsndfile's (n, channels) blocks; a read error or a short read means a damaged file."""
    got = 0
    try:
        with sf.SoundFile(info.path) as f:
            while len(block := f.read(_NATIVE_CHUNK, dtype="float32", always_2d=True)):
                got += len(block)
                yield block
    except sf.SoundFileError as exc:
        raise AudioError(
            f"{_shown(info.path)} is damaged or truncated and could not be decoded "
            f"(libsndfile: {_sf_reason(exc)})"
        ) from exc
    if info.frames - got > _SHORTFALL_TOLERANCE:
        raise AudioError(
            f"{_shown(info.path)} is truncated: only {got} of its {info.frames} frames could be "
            "decoded"
        )


def _convert(
    native: Iterator[np.ndarray],
    info: AudioInfo,
    sample_rate: int,
    channels: int,
    expected_frames: int | None,
) -> Iterator[np.ndarray]:
    """(channels, n) chunks of any size at `sample_rate`, totalling exactly
    round(source frames * sample_rate / native rate), where the source frame count is
    `expected_frames` if known up front, else whatever `native` delivered."""
    resampler = None
    if info.sample_rate != sample_rate:
        resampler = soxr.ResampleStream(
            info.sample_rate, sample_rate, channels, dtype="float32", quality="HQ"
        )
    ratio = sample_rate / info.sample_rate
    limit = None if expected_frames is None else round(expected_frames * ratio)
    decoded = emitted = 0
    for block in native:
        if not np.isfinite(block).all():
            raise AudioError(f"{_shown(info.path)} contains invalid samples (NaN or infinity)")
        decoded += len(block)
        out = to_channels(block.T, channels)
        if resampler is not None:
            out = resampler.resample_chunk(np.ascontiguousarray(out.T)).T
        if limit is not None:
            out = out[:, : max(limit - emitted, 0)]
        if out.shape[1]:
            emitted += out.shape[1]
            yield out
    if decoded == 0:
        raise AudioError(f"{_shown(info.path)} contains no audio (0 frames)")
    if limit is None:
        limit = round(decoded * ratio)
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros((0, channels), np.float32), last=True).T
    else:
        tail = np.zeros((channels, 0), np.float32)
    tail = tail[:, : max(limit - emitted, 0)]
    if emitted + tail.shape[1] < limit:  # resampler or decoder came up a few samples short
        missing = limit - emitted - tail.shape[1]
        tail = np.concatenate([tail, np.zeros((channels, missing), np.float32)], axis=1)
    if tail.shape[1]:
        yield tail


def _reblock(
    chunks: Iterator[np.ndarray], block_frames: int, channels: int
) -> Iterator[np.ndarray]:
    """Re-cut (channels, n) chunks into fresh C-contiguous blocks of block_frames (the last
    shorter), copying straight into the output block so only one block is ever being filled."""
    block = np.empty((channels, block_frames), np.float32)
    filled = 0
    for chunk in chunks:
        pos, n = 0, chunk.shape[1]
        while pos < n:
            take = min(block_frames - filled, n - pos)
            block[:, filled : filled + take] = chunk[:, pos : pos + take]
            filled, pos = filled + take, pos + take
            if filled == block_frames:
                yield block
                block, filled = np.empty((channels, block_frames), np.float32), 0
    if filled:
        yield np.ascontiguousarray(block[:, :filled])


def iter_blocks(
    path: PathLike,
    block_frames: int = 10 * TARGET_RATE,
    sample_rate: int = TARGET_RATE,
    channels: int = TARGET_CHANNELS,
    stream: int = 0,
) -> Iterator[np.ndarray]:
    """Stream `path` as float32 (channels, n) blocks at `sample_rate`, n == block_frames except
    for the last block, in memory that does not grow with the song's length.

    `stream` picks another audio stream of a multi-stream container (ffmpeg only), e.g. the
    stems of a MUSDB `.stem.mp4`; the stream's layout is assumed to match the first one's.

    The file is probed now, so a missing or unreadable file raises AudioError at the call;
    decoding errors (damaged or truncated data) raise AudioError during iteration.
    """
    if block_frames < 1 or sample_rate < 1 or channels < 1:
        raise ValueError("block_frames, sample_rate and channels must be positive")
    info, via_ffmpeg = _probe(path)
    if stream and not via_ffmpeg:
        raise AudioError(f"{_shown(path)} has a single audio stream; there is no stream {stream}")
    if via_ffmpeg:
        native = _ffmpeg_native(info.path, info.sample_rate, info.channels, stream)
        chunks = _convert(native, info, sample_rate, channels, None)
    else:
        chunks = _convert(_soundfile_native(info), info, sample_rate, channels, info.frames)
    return _reblock(chunks, block_frames, channels)


def read_audio(
    path: PathLike,
    sample_rate: int = TARGET_RATE,
    channels: int = TARGET_CHANNELS,
    stream: int = 0,
) -> np.ndarray:
    """The whole file as float32 (channels, frames); for short files, training data and tests.
    A file of a few frames resampled to a lower rate may come out 0 frames long."""
    blocks = list(iter_blocks(path, sample_rate=sample_rate, channels=channels, stream=stream))
    if not blocks:
        return np.zeros((channels, 0), np.float32)
    return np.concatenate(blocks, axis=1)


def _soundfile_has_mp3() -> bool:
    return "MP3" in sf.available_formats() and "MPEG_LAYER_III" in sf.available_subtypes("MP3")


class AudioWriter:
    """Incremental audio writer that only appears at `path` once complete.

    Samples go to `path + ".part"`, renamed over `path` by a successful `close()`, so an
    interrupted run never leaves a file that looks finished; an exception inside `with` removes
    the partial file. Integer formats and MP3 clip to [-1, 1]; 32-bit float WAV keeps overs.
    """

    def __init__(
        self,
        path: PathLike,
        sample_rate: int = TARGET_RATE,
        channels: int = TARGET_CHANNELS,
        format: str = "wav",
        bit_depth: int = 16,
    ) -> None:
        fmt = format.lower()
        if fmt not in OUTPUT_FORMATS:
            raise ValueError(f"unknown output format {format!r}; use one of {OUTPUT_FORMATS}")
        if fmt != "mp3" and bit_depth not in BIT_DEPTHS:
            raise ValueError(f"bit depth must be one of {BIT_DEPTHS}, not {bit_depth}")
        if fmt == "flac" and bit_depth == 32:
            raise ValueError("FLAC supports 16 or 24 bits")
        if channels < 1:
            raise ValueError("channels must be positive")
        self.path = Path(path)
        self.channels = channels
        self.sample_rate = sample_rate
        self._part = Path(os.fspath(path) + ".part")
        self._clip = not (fmt == "wav" and bit_depth == 32)
        self._closed = False
        self._sink: sf.SoundFile | ffmpeg.Encoder
        if fmt != "mp3":
            subtype = _SUBTYPES[fmt, bit_depth]
            self._sink = sf.SoundFile(
                self._part, "w", sample_rate, channels, subtype, format=fmt.upper()
            )
        elif _soundfile_has_mp3():
            # Constant bitrate at compression level 0 is LAME's 320 kbit/s.
            self._sink = sf.SoundFile(
                self._part,
                "w",
                sample_rate,
                channels,
                "MPEG_LAYER_III",
                format="MP3",
                compression_level=0.0,
                bitrate_mode="CONSTANT",
            )
        elif ffmpeg.available():
            self._sink = ffmpeg.Encoder(self._part, sample_rate, channels, _MP3_FFMPEG_ARGS, "mp3")
        else:
            raise RuntimeError("MP3 output needs ffmpeg or libsndfile >= 1.1")

    def write(self, block: np.ndarray) -> None:
        """Append a float32 (channels, n) block."""
        if self._closed:
            raise ValueError(f"{_shown(self.path)} is already closed")
        data = np.asarray(block, dtype=np.float32)
        if data.ndim != 2 or data.shape[0] != self.channels:
            raise ValueError(f"expected a ({self.channels}, frames) array, got shape {data.shape}")
        if not np.isfinite(data).all():
            raise ValueError(f"refusing to write NaN or infinite samples to {_shown(self.path)}")
        if self._clip:  # don't rely on libsndfile's clipping mode: overs must never wrap around
            data = np.clip(data, -1.0, 1.0)
        try:
            self._sink.write(data.T)
        except ffmpeg.FFmpegError as exc:
            raise OSError(f"could not encode {_shown(self.path)} (ffmpeg: {exc})") from exc

    def close(self) -> None:
        """Finish the file and move it into place; a no-op when already closed."""
        if self._closed:
            return
        self._closed = True
        try:
            self._sink.close()
        except ffmpeg.FFmpegError as exc:
            self._part.unlink(missing_ok=True)
            raise OSError(f"could not encode {_shown(self.path)} (ffmpeg: {exc})") from exc
        except BaseException:
            self._part.unlink(missing_ok=True)
            raise
        os.replace(self._part, self.path)

    def abort(self) -> None:
        """Stop writing and delete the partial file."""
        if not self._closed:
            self._closed = True
            if isinstance(self._sink, ffmpeg.Encoder):
                self._sink.kill()
            else:
                with contextlib.suppress(sf.SoundFileError, OSError):
                    self._sink.close()
        self._part.unlink(missing_ok=True)

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_audio(
    path: PathLike,
    data: np.ndarray,
    sample_rate: int = TARGET_RATE,
    format: str | None = None,
    bit_depth: int = 16,
) -> None:
    """Write float32 (channels, frames) `data`; the format comes from the suffix when None."""
    if format is None:
        format = Path(path).suffix.lower().lstrip(".")
        if format not in OUTPUT_FORMATS:
            raise ValueError(
                f"cannot tell the output format from {_shown(path)}; "
                f"use a .wav, .flac or .mp3 name or pass format="
            )
    data = np.asarray(data, dtype=np.float32)
    if data.ndim != 2:
        raise ValueError(f"expected a (channels, frames) array, got shape {data.shape}")
    with AudioWriter(path, sample_rate, data.shape[0], format, bit_depth) as writer:
        writer.write(data)
