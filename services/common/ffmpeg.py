"""ffmpeg/ffprobe subprocesses for the containers libsndfile cannot open.

libsndfile has no MP4/M4A/AAC support, and MUSDB's `.stem.mp4` files are MP4, so those are
decoded by ffmpeg. Everything here streams through pipes so memory never grows with song length;
callers in `stemdeck.common.audio` turn `FFmpegError` into user-facing `AudioError`s.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np

# Raw sample format on the pipes: little-endian float32, interleaved.
_PCM = np.dtype("<f4")
_PROBE_TIMEOUT_S = 60


class FFmpegError(RuntimeError):
    """ffmpeg/ffprobe is missing or failed; the message is ffmpeg's own last error line."""


@dataclass(frozen=True)
class StreamInfo:
    """What ffprobe says about a file's first audio stream."""

    format_name: str
    sample_rate: int
    channels: int
    duration: float | None  # seconds; None when the container does not say


def available() -> bool:
    """True when both ffmpeg and ffprobe are on PATH."""
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise FFmpegError(f"{name} is not installed")
    return exe


def _url(path: str | os.PathLike[str]) -> str:
    """An explicit file: URL, so names starting with '-' or 'http:' are never options/protocols."""
    return "file:" + os.path.abspath(path)


def _last_error(stderr: bytes, url: str) -> str:
    """ffmpeg's last non-empty stderr line, without the 'file:/abs/path: ' prefix it adds."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    if not lines:
        return "unknown error"
    return lines[-1].removeprefix(f"{url}: ")


def _seconds(value: str | float | None) -> float | None:
    if value is None:  # absent
        return None
    try:
        return float(value)
    except (TypeError, ValueError):  # "N/A"
        return None


def probe(path: str | os.PathLike[str]) -> StreamInfo:
    """Describe the first audio stream (for a `.stem.mp4`, the mixture)."""
    url = _url(path)
    cmd = [_tool("ffprobe"), "-v", "error", "-select_streams", "a:0"]
    cmd += ["-show_streams", "-show_format", "-of", "json", url]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=_PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise FFmpegError(f"ffprobe took more than {_PROBE_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        raise FFmpegError(_last_error(proc.stderr, url))
    try:
        data = json.loads(proc.stdout or b"{}")
    except json.JSONDecodeError:
        raise FFmpegError("ffprobe printed unreadable output") from None
    streams = data.get("streams") or []
    if not streams:
        raise FFmpegError("no audio stream")
    stream, fmt = streams[0], data.get("format") or {}
    duration = _seconds(stream.get("duration"))
    if duration is None:
        duration = _seconds(fmt.get("duration"))
    return StreamInfo(
        format_name=str(fmt.get("format_name", "unknown")),
        sample_rate=int(stream.get("sample_rate") or 0),
        channels=int(stream.get("channels") or 0),
        duration=duration,
    )


def decode(
    path: str | os.PathLike[str],
    sample_rate: int,
    channels: int,
    chunk_frames: int = 1 << 16,
    stream: int = 0,
) -> Iterator[np.ndarray]:
    """Yield float32 (n, channels) chunks of audio stream `stream` as ffmpeg decodes them
    (a MUSDB `.stem.mp4` holds mixture, drums, bass, other, vocals as streams 0-4).

    Pass the stream's native rate and channel count to get the samples unconverted; the fixed
    `-ar`/`-ac` only pin the output format in case the stream changes mid-way. stderr goes to a
    temporary file, not a pipe, so a chatty decoder can never stall on a full pipe. The process is
    killed if the consumer stops early (generator close). A non-zero exit raises FFmpegError.
    """
    url = _url(path)
    cmd = [_tool("ffmpeg"), "-nostdin", "-v", "error", "-i", url, "-map", f"0:a:{stream}"]
    cmd += ["-f", "f32le", "-acodec", "pcm_f32le", "-ar", str(sample_rate), "-ac", str(channels)]
    cmd += ["-"]
    frame_bytes = channels * _PCM.itemsize
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        try:
            while data := proc.stdout.read(chunk_frames * frame_bytes):
                usable = len(data) - len(data) % frame_bytes  # only EOF can leave a partial frame
                if usable:
                    pcm = np.frombuffer(data, dtype=_PCM, count=usable // _PCM.itemsize)
                    yield pcm.reshape(-1, channels).astype(np.float32)  # copy: writable, native
            if proc.wait() != 0:
                err.seek(0)
                raise FFmpegError(_last_error(err.read(), url))
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            proc.wait()


class Encoder:
    """Pipes float32 (n, channels) samples into ffmpeg, which encodes them to `path`.

    `codec_args` are ffmpeg output options (e.g. ["-c:a", "libmp3lame", "-b:a", "320k"]) and
    `container` the muxer name (e.g. "mp3"), given explicitly because `path` may end in `.part`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sample_rate: int,
        channels: int,
        codec_args: list[str],
        container: str,
    ) -> None:
        self._url = _url(path)
        self._channels = channels
        cmd = [_tool("ffmpeg"), "-v", "error", "-y", "-f", "f32le", "-ar", str(sample_rate)]
        cmd += ["-ac", str(channels), "-i", "pipe:0", *codec_args, "-f", container, self._url]
        # Closed by close()/kill(); a `with` cannot span the writer's lifetime.
        self._err: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._err
        )

    def _failure(self) -> FFmpegError:
        self._err.seek(0)
        return FFmpegError(_last_error(self._err.read(), self._url))

    def write(self, frames: np.ndarray) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(np.ascontiguousarray(frames, dtype=_PCM).tobytes())
        except BrokenPipeError:
            self._proc.wait()
            raise self._failure() from None

    def _close_stdin(self) -> None:
        stdin = self._proc.stdin
        if stdin is not None and not stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                stdin.close()

    def close(self) -> None:
        """Finish encoding; raises FFmpegError if ffmpeg failed."""
        try:
            self._close_stdin()
            if self._proc.wait() != 0:
                raise self._failure()
        finally:
            self._err.close()

    def kill(self) -> None:
        """Abandon the output (the caller removes the partial file)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._close_stdin()
        self._proc.wait()
        self._err.close()
