"""Is this upload a song the separator can use? Answered before anything is stored.

A file passes when it is audio StemDeck can decode from start to end, and its length lies
within the configured limits. Headers lie: a WAV may declare gigabytes of samples it does not
hold, and a damaged FLAC or MP3 probes fine and fails half-way through decoding. So a RIFF/WAVE
header's declared data size is checked against the bytes present, and every file is decoded
once, fully, at its native rate (no resampling: 0.26 s for 10 minutes of WAV, 0.57 s of FLAC,
0.51 s of MP3 on the 2-core machine, measured while it was busy with training). The same
declared-size check covers RF64 (whose ds64 chunk holds the real size) and AIFF/AIFC (SSND).
A sample rate outside what any recording uses (libsndfile reads a WAV at 2 Hz, or an AIFF
declaring 0 Hz as 1 Hz) is refused too: its "duration" means nothing. Messages name the
user's file, never the temporary path.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from fastapi import HTTPException

from stemdeck.api.tags import Tags, read_tags
from stemdeck.api.uploads import UploadedFile, refuse
from stemdeck.common.audio import AudioError, AudioInfo, iter_blocks, probe
from stemdeck.common.settings import Settings

#: A WAV's data chunk may overstate its bytes by a pad byte and a partial frame, no more.
_WAV_SLACK = 64
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # streamed WAVs that never went back to fill in their size
_DECODE_BLOCK = 1 << 17
#: Sample rates a song can have: 4 kHz (telephone-grade and below is not music) to 768 kHz.
MIN_RATE, MAX_RATE = 4000, 768_000


@dataclass(frozen=True)
class CheckedUpload:
    """An upload that passed: the file, what the probe saw, and its tags."""

    upload: UploadedFile
    info: AudioInfo
    tags: Tags


def check_upload(upload: UploadedFile, settings: Settings) -> CheckedUpload:
    """Probe, size-check and fully decode `upload`; HTTPException (4xx) naming the file when it
    is not a usable song."""
    name = upload.name
    if upload.size == 0:
        raise refuse(422, f"{name!r} is empty (0 bytes)")
    _check_declared_sizes(upload)
    try:
        info = probe(upload.path)
    except AudioError as exc:
        raise _audio_refusal(exc, upload) from None
    if not MIN_RATE <= info.sample_rate <= MAX_RATE:
        raise refuse(
            422,
            f"{name!r} declares a sample rate of {info.sample_rate:,} Hz; StemDeck reads audio "
            f"at {MIN_RATE:,} to {MAX_RATE:,} Hz",
        )
    if info.duration < settings.min_duration_s:
        raise refuse(
            422,
            f"{name!r} is only {info.duration:.2f} s long; StemDeck needs at least "
            f"{settings.min_duration_s:g} s of audio",
        )
    if info.duration > settings.max_duration_s:
        raise refuse(
            422,
            f"{name!r} is {_clock(info.duration)} long; the limit is "
            f"{_clock(settings.max_duration_s)}",
        )
    _decode_fully(upload, info, settings)
    return CheckedUpload(upload, info, read_tags(upload.path))


def _clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d} min" if minutes else f"{seconds:.1f} s"


def _audio_refusal(exc: AudioError, upload: UploadedFile) -> HTTPException:
    """The AudioError's message with the temporary path replaced by the user's file name."""
    message = str(exc).replace(str(upload.path), upload.name)
    message = message.replace(str(upload.path.parent), "").split("\n")[0]
    not_audio = "is not an audio file" in message or "contains no audio" in message
    return refuse(415 if not_audio else 422, message)


def _check_declared_sizes(upload: UploadedFile) -> None:
    """Refuse a RIFF/RF64 WAVE or an AIFF/AIFC file whose audio chunk declares more bytes than
    the file holds: such a header (truncated copy, or a crafted one declaring gigabytes) would
    make every later reader trust a length that is not there."""
    with upload.path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12:
            return
        if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
            order, audio_chunk, kind = "<", b"data", "WAV"
        elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
            order, audio_chunk, kind = ">", b"SSND", "AIFF"
        else:
            return
        rf64_size: int | None = None
        position = 12
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                return  # no audio chunk: the probe will say so
            ident, size = chunk[:4], struct.unpack(order + "I", chunk[4:])[0]
            position += 8
            if ident == b"ds64" and head[:4] == b"RF64":
                body = handle.read(16)  # RIFF size, data size (64-bit each)
                if len(body) == 16:
                    rf64_size = struct.unpack("<Q", body[8:])[0]
            if ident == audio_chunk:
                if rf64_size is not None and size == 0xFFFFFFFF:
                    size = rf64_size
                elif order == "<" and size in _UNKNOWN_SIZES:
                    return
                present = upload.size - position
                if size > present + _WAV_SLACK:
                    raise refuse(
                        422,
                        f"{upload.name!r} is truncated or damaged: its header declares "
                        f"{size:,} bytes of audio but the file holds only {max(present, 0):,}",
                    )
                return
            position += size + (size & 1)
            if position > upload.size:
                raise refuse(422, f"{upload.name!r} is truncated or damaged (broken {kind} chunks)")
            handle.seek(position)


def _decode_fully(upload: UploadedFile, info: AudioInfo, settings: Settings) -> None:
    """Decode every frame once at the native rate and channel count (no conversion work)."""
    channels = info.channels if info.channels in (1, 2) else 2
    frames = 0
    try:
        for block in iter_blocks(upload.path, _DECODE_BLOCK, info.sample_rate, channels):
            frames += block.shape[1]
    except AudioError as exc:
        raise _audio_refusal(exc, upload) from None
    seconds = frames / info.sample_rate
    if seconds < settings.min_duration_s:
        raise refuse(
            422,
            f"{upload.name!r} holds only {seconds:.2f} s of decodable audio; StemDeck needs at "
            f"least {settings.min_duration_s:g} s",
        )
