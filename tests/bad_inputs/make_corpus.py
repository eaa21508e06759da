"""Write the bad-input corpus: malformed or hostile files that an upload must refuse with a 4xx.

Run `python tests/bad_inputs/make_corpus.py` to (re)write the files, `manifest.json` and
`README.md` next to this script. Every file is built byte by byte here (no encoder, no random
state beyond a fixed seed), so the output is the same on every machine and a test checks that
the committed files are exactly what this script writes.

Each entry says what is wrong with the file, the status the API must answer, words its message
must contain, and whether `stemdeck separate` must refuse it too (files that are decodable
audio but refused only by the service's own limits — an absurd rate, a declared length far past
the limit — are not decoding errors for the CLI).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import struct
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RATE = 8000  # small files: 1.5 s of 8 kHz mono 16-bit PCM is 24 kB
SECONDS = 1.5
#: A fixed date for archive members, so archives are byte-for-byte reproducible.
STAMP = (2024, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Entry:
    """One corpus file and what must happen to it."""

    name: str
    problem: str
    status: int
    words: str  # the refusal's message must contain these (case-insensitive)
    cli_refuses: bool = True


# --- building blocks ---------------------------------------------------------------------------


def tone(seconds: float = SECONDS, rate: int = RATE) -> np.ndarray:
    """A 440 Hz triangle wave in [-0.5, 0.5], from integers only: every value is a multiple of
    2^-15, so the bytes written from it are the same on every CPU and NumPy build (a sine's
    last bit may not be)."""
    phase = (np.arange(round(seconds * rate), dtype=np.int64) * 440 * 65536 // rate) % 65536
    triangle = np.abs(phase - 32768) - 16384  # -16384 .. 16384
    return triangle / 32768.0


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def chunk(ident: bytes, body: bytes, size: int | None = None) -> bytes:
    """A RIFF chunk; `size` overrides the declared length (a lie), the pad byte is kept."""
    declared = len(body) if size is None else size
    return ident + struct.pack("<I", declared) + body + (b"\0" if len(body) % 2 else b"")


def fmt_body(
    tag: int = 1,
    channels: int = 1,
    rate: int = RATE,
    bits: int = 16,
    block_align: int | None = None,
    byte_rate: int | None = None,
) -> bytes:
    align = channels * bits // 8 if block_align is None else block_align
    per_second = rate * align if byte_rate is None else byte_rate
    return struct.pack("<HHIIHH", tag, channels, rate, per_second & 0xFFFFFFFF, align, bits)


def riff(*chunks: bytes, kind: bytes = b"RIFF", size: int | None = None) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return kind + struct.pack("<I", len(body) if size is None else size) + body


def wav(data: bytes | None = None, **fmt: int) -> bytes:
    """A WAV with a (possibly lying) fmt chunk and `data` (default: the tone as PCM16)."""
    return riff(
        chunk(b"fmt ", fmt_body(**fmt)), chunk(b"data", pcm16(tone()) if data is None else data)
    )


def float_wav(bad: float, bits: int = 32) -> bytes:
    """IEEE-float WAV holding the tone with one stretch of `bad` (NaN/inf) samples."""
    samples = tone()
    samples[len(samples) // 2 : len(samples) // 2 + 64] = bad
    dtype = "<f4" if bits == 32 else "<f8"
    return wav(samples.astype(dtype).tobytes(), tag=3, bits=bits)


def extended80(value: float) -> bytes:
    """An IEEE 754 80-bit extended float (AIFF's sample rate field)."""
    if value == 0:
        return b"\0" * 10
    exponent = math.floor(math.log2(value))
    mantissa = int(value / 2**exponent * (1 << 63))
    return struct.pack(">HQ", exponent + 16383, mantissa)


def aiff(rate: float, channels: int = 1, ssnd_size: int | None = None) -> bytes:
    samples = (np.clip(tone(), -1, 1) * 32767).astype(">i2").tobytes()
    frames = len(samples) // 2 // max(channels, 1)
    comm = struct.pack(">hIh", channels, frames, 16) + extended80(rate)
    ssnd_body = struct.pack(">II", 0, 0) + samples
    ssnd = b"SSND" + struct.pack(">I", len(ssnd_body) if ssnd_size is None else ssnd_size)
    body = b"AIFF" + b"COMM" + struct.pack(">I", len(comm)) + comm + ssnd + ssnd_body
    return b"FORM" + struct.pack(">I", len(body)) + body


def streaminfo(rate: int = RATE, channels: int = 1, bits: int = 16, total: int = 12000) -> bytes:
    """A FLAC STREAMINFO block body (34 bytes) as declared, whatever the truth."""
    packed = (rate << 44) | ((channels - 1) << 41) | ((bits - 1) << 36) | total
    block_and_frame_sizes = struct.pack(">HH", 4096, 4096) + b"\0" * 6
    return block_and_frame_sizes + packed.to_bytes(8, "big") + b"\0" * 16


def flac_header(last: bool = True, **info: int) -> bytes:
    body = streaminfo(**info)
    return b"fLaC" + bytes([0x80 if last else 0x00]) + len(body).to_bytes(3, "big") + body


def noise(size: int, seed: int) -> bytes:
    """Pseudo-random bytes from SHA-256 in counter mode: the same everywhere, forever (unlike a
    NumPy generator's output, which may change between versions)."""
    blocks = (hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def flac_frame_garbage(size: int, seed: int) -> bytes:
    """Bytes that start like FLAC frames (sync code 0xFFF8) but hold noise."""
    out = bytearray()
    while len(out) < size:
        out += b"\xff\xf8" + noise(510, seed * 1000 + len(out))
    return bytes(out[:size])


def mpeg_noise(size: int, seed: int) -> bytes:
    """Random bytes with MPEG audio frame sync words sprinkled in, but no valid frame."""
    data = bytearray(noise(size, seed))
    for at in range(0, size - 4, 417):
        data[at : at + 2] = b"\xff\xe0"  # a sync, with reserved (invalid) version/layer bits
    return bytes(data)


def id3_header(declared: int) -> bytes:
    """An ID3v2.4 tag header whose syncsafe size is `declared` (max 256 MB), then nothing."""
    safe = 0
    for shift in range(4):
        safe |= ((declared >> (7 * shift)) & 0x7F) << (8 * shift)
    return b"ID3\x04\x00\x00" + safe.to_bytes(4, "big")


def ogg_page(payload: bytes, serial: int = 1, sequence: int = 0, flags: int = 2) -> bytes:
    """One Ogg page with a correct CRC."""
    segments = [255] * (len(payload) // 255) + [len(payload) % 255]
    head = b"OggS" + bytes([0, flags]) + struct.pack("<qIII", 0, serial, sequence, 0)
    head += bytes([len(segments)]) + bytes(segments)
    page = bytearray(head + payload)
    page[22:26] = struct.pack("<I", ogg_crc(bytes(page)))
    return bytes(page)


def ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def vorbis_id(rate: int = RATE, channels: int = 1) -> bytes:
    return b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, channels, rate, 0, 64000, 0, 0xB8, 1)


def box(kind: bytes, body: bytes, size: int | None = None) -> bytes:
    """An ISO-BMFF (MP4) box."""
    return struct.pack(">I", len(body) + 8 if size is None else size) + kind + body


def mp4_without_audio() -> bytes:
    """ftyp + a moov with a movie header and no tracks: a valid M4A shell with no audio."""
    ftyp = box(b"ftyp", b"M4A \0\0\0\0M4A mp42isom")
    mvhd = box(b"mvhd", b"\0" * 4 + struct.pack(">IIII", 0, 0, 1000, 0) + b"\0" * 80)
    return ftyp + box(b"moov", mvhd)


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, STAMP), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def tarred(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1704067200, 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def png() -> bytes:
    """A real 16x16 grey PNG."""

    def part(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    rows = b"".join(b"\0" + b"\x80" * 16 for _ in range(16))
    header = struct.pack(">IIBBBBB", 16, 16, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + part(b"IHDR", header)
        + part(b"IDAT", zlib.compress(rows, 9))
        + part(b"IEND", b"")
    )


def pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    ) * 40


def elf() -> bytes:
    """An ELF64 header (what a renamed executable starts with), padded with code-like bytes."""
    header = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack("<HHI", 2, 0x3E, 1) + b"\0" * 40
    return header + bytes(range(256)) * 32


def midi() -> bytes:
    """A one-note standard MIDI file: music, but not audio."""
    track = b"\x00\x90\x3c\x40\x83\x60\x80\x3c\x40\x00\xff\x2f\x00"
    return (
        b"MThd"
        + struct.pack(">IHHH", 6, 0, 1, 96)
        + b"MTrk"
        + struct.pack(">I", len(track))
        + track
    )


def sun_au(rate: int, channels: int) -> bytes:
    """Sun/NeXT .au: 24-byte header (encoding 3 = 16-bit linear PCM), then big-endian data."""
    data = (np.clip(tone(), -1, 1) * 32767).astype(">i2").tobytes()
    return b".snd" + struct.pack(">IIIII", 24, len(data), 3, rate, channels) + data


# --- the corpus ------------------------------------------------------------------------------


def _flac_with_total(total: int) -> bytes:
    """A FLAC header declaring `total` samples followed by noise frames."""
    return flac_header(total=total) + flac_frame_garbage(4096, seed=3)


CORPUS: list[tuple[Entry, Callable[[], bytes]]] = [
    # WAV headers that lie
    (
        Entry("wav_zero_channels.wav", "fmt chunk declares 0 channels", 415, "not an audio file"),
        lambda: wav(channels=0, block_align=2),
    ),
    (
        Entry(
            "wav_65535_channels.wav",
            "fmt chunk declares 65535 channels over 24 kB of data",
            415,
            "not an audio file",
        ),
        lambda: wav(channels=65535, block_align=2),
    ),
    (
        Entry(
            "wav_rate_zero.wav",
            "fmt chunk declares a sample rate of 0 Hz",
            415,
            "not an audio file",
        ),
        lambda: wav(rate=0),
    ),
    (
        Entry(
            "wav_rate_2hz.wav",
            "a decodable WAV at an absurd 2 Hz (10 frames = 5 s)",
            422,
            "sample rate",
            cli_refuses=False,
        ),
        lambda: wav(pcm16(tone(5.0, 2)[:10] + 0.1), rate=2),
    ),
    (
        Entry(
            "wav_rate_100mhz.wav",
            "a decodable WAV declaring 100 MHz (12,000 frames = 0.1 ms)",
            422,
            "sample rate",
            cli_refuses=False,
        ),
        lambda: wav(rate=100_000_000),
    ),
    (
        Entry("wav_rate_4ghz.wav", "fmt chunk declares 4,000,000,000 Hz", 415, "not an audio file"),
        lambda: wav(rate=4_000_000_000),
    ),
    (
        Entry("wav_float_nan.wav", "32-bit float WAV with NaN samples in the middle", 422, "NaN"),
        lambda: float_wav(float("nan")),
    ),
    (
        Entry("wav_float64_inf.wav", "64-bit float WAV with +infinity samples", 422, "infinity"),
        lambda: float_wav(float("inf"), bits=64),
    ),
    (
        Entry(
            "wav_unknown_codec.wav",
            "fmt chunk names codec 0x7777, which does not exist",
            422,
            "could not be decoded",
        ),
        lambda: wav(tag=0x7777),
    ),
    (
        Entry(
            "wav_zero_bits.wav", "fmt chunk declares 0 bits per sample", 422, "could not be decoded"
        ),
        lambda: wav(bits=0, block_align=2),
    ),
    (
        Entry(
            "flac_magic_on_wav.wav",
            "a WAV whose first four bytes were replaced by 'fLaC'",
            415,
            "not an audio file",
        ),
        lambda: b"fLaC" + wav()[4:],
    ),
    (
        Entry(
            "wav_header_only.wav",
            "a bare 'RIFF....WAVE' header, no chunks at all",
            415,
            "not an audio file",
        ),
        lambda: riff(),
    ),
    (
        Entry(
            "wav_no_fmt_chunk.wav",
            "a data chunk but no fmt chunk describing it",
            415,
            "not an audio file",
        ),
        lambda: riff(chunk(b"data", pcm16(tone()))),
    ),
    (
        Entry(
            "wav_no_data_chunk.wav", "a fmt chunk and a LIST chunk, but no data chunk", 415, "audio"
        ),
        lambda: riff(chunk(b"fmt ", fmt_body()), chunk(b"LIST", b"INFOISFT\x06\0\0\0stemd\0")),
    ),
    (
        Entry(
            "wav_fmt_chunk_huge.wav",
            "fmt chunk declares 2 GB, running past the end of the file",
            422,
            "broken WAV chunks",
        ),
        lambda: riff(chunk(b"fmt ", fmt_body(), size=0x7FFFFFF0), chunk(b"data", pcm16(tone()))),
    ),
    (
        Entry(
            "rf64_huge_ds64.wav",
            "RF64 whose ds64 chunk declares 1 TB of audio in a 24 kB file",
            422,
            "declares 1,099,511,627,776 bytes",
            cli_refuses=False,
        ),
        lambda: (
            b"RF64\xff\xff\xff\xffWAVE"
            + chunk(b"ds64", struct.pack("<QQQI", 1 << 40, 1 << 40, 1 << 39, 0))
            + chunk(b"fmt ", fmt_body())
            + b"data\xff\xff\xff\xff"
            + pcm16(tone())
        ),
    ),
    # other PCM containers
    (
        Entry(
            "aiff_zero_rate.aiff",
            "AIFF whose COMM chunk declares a sample rate of 0 (read as 1 Hz)",
            422,
            "sample rate",
            cli_refuses=False,
        ),
        lambda: aiff(0.0),
    ),
    (
        Entry(
            "aiff_ssnd_huge.aiff",
            "AIFF whose SSND chunk declares 4 GB over 24 kB of samples",
            422,
            "declares 4,294,967,280 bytes",
            cli_refuses=False,
        ),
        lambda: aiff(RATE, ssnd_size=0xFFFFFFF0),
    ),
    (
        Entry(
            "au_zero_channels.au", "Sun .au header declaring 0 channels", 415, "not an audio file"
        ),
        lambda: sun_au(RATE, 0),
    ),
    # FLAC
    (
        Entry(
            "flac_streaminfo_only.flac",
            "a FLAC header promising 12,000 samples and no frames",
            422,
            "truncated",
        ),
        lambda: flac_header(),
    ),
    (
        Entry(
            "flac_zero_rate.flac",
            "STREAMINFO declares a sample rate of 0 Hz",
            415,
            "not an audio file",
        ),
        lambda: flac_header(rate=0) + flac_frame_garbage(2048, seed=2),
    ),
    (
        Entry(
            "flac_huge_total_samples.flac",
            "STREAMINFO declares 2^36 samples (about 99 days)",
            422,
            "the limit is",
            cli_refuses=True,
        ),
        lambda: _flac_with_total((1 << 36) - 1),
    ),
    (
        Entry(
            "flac_garbage_frames.flac", "a valid header followed by frames of noise", 422, "damaged"
        ),
        lambda: _flac_with_total(12000),
    ),
    # MPEG / Ogg / MP4
    (
        Entry(
            "mp3_sync_noise.mp3",
            "random bytes with MPEG sync words but no valid frame",
            415,
            "not an audio file",
        ),
        lambda: mpeg_noise(16384, seed=1),
    ),
    (
        Entry(
            "mp3_id3_only_huge.mp3",
            "an ID3v2 tag declaring 256 MB and nothing after it",
            415,
            "not an audio file",
        ),
        lambda: id3_header((1 << 28) - 1) + b"\0" * 512,
    ),
    (
        Entry(
            "ogg_vorbis_id_only.ogg",
            "an Ogg page with a Vorbis id header and nothing else",
            415,
            "audio",
        ),
        lambda: ogg_page(vorbis_id(), flags=2),
    ),
    (
        Entry(
            "m4a_no_audio_track.m4a",
            "an MP4/M4A container holding no tracks at all",
            415,
            "not an audio file",
        ),
        lambda: mp4_without_audio(),
    ),
    (
        Entry(
            "m4a_box_size_huge.m4a", "an MP4 whose moov box declares 4 GB", 415, "not an audio file"
        ),
        lambda: (
            box(b"ftyp", b"M4A \0\0\0\0M4A mp42isom") + box(b"moov", b"\0" * 64, size=0xFFFFFFF0)
        ),
    ),
    # archives and other files wearing audio extensions
    (
        Entry("zip_of_wav.wav", "a zip archive holding a valid WAV", 415, "not an audio file"),
        lambda: zipped({"song.wav": wav()}),
    ),
    (
        Entry("nested_zip.flac", "a zip in a zip in a zip, a WAV at the bottom", 415, "no audio"),
        lambda: zipped({"b.zip": zipped({"c.zip": zipped({"song.wav": wav()})})}),
    ),
    (
        Entry("gzip_of_wav.wav", "a gzip-compressed WAV", 415, "not an audio file"),
        lambda: gzip.compress(wav(), mtime=0),
    ),
    (
        Entry("tar_of_wav.mp3", "a tar archive holding a WAV", 415, "not an audio file"),
        lambda: tarred({"song.wav": wav()}),
    ),
    (Entry("png_image.mp3", "a PNG image", 415, "not an audio file"), png),
    (Entry("pdf_document.ogg", "a PDF document", 415, "not an audio file"), pdf),
    (
        Entry(
            "elf_executable.flac", "an ELF executable header and code-like bytes", 415, "no audio"
        ),
        elf,
    ),
    (
        Entry(
            "html_script.wav",
            "an HTML page with a script (a stored-XSS attempt)",
            415,
            "not an audio file",
        ),
        lambda: (
            b"<!doctype html><html><body><script>fetch('/v1/jobs').then(r=>r.text())"
            b".then(alert)</script></body></html>\n" * 20
        ),
    ),
    (
        Entry("midi_song.mp3", "a standard MIDI file: notes, not sound", 415, "not an audio file"),
        midi,
    ),
    (
        Entry("utf16_text.m4a", "UTF-16 text with a byte-order mark", 415, "not an audio file"),
        lambda: "\ufeffThese are lyrics, not audio.\n".encode("utf-16-le") * 30,
    ),
    (
        Entry("all_zero_bytes.wav", "32 kB of NUL bytes", 415, "not an audio file"),
        lambda: b"\0" * 32768,
    ),
]


def build(folder: Path = HERE) -> list[Entry]:
    """Write every corpus file, manifest.json and README.md into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for entry, make in CORPUS:
        (folder / entry.name).write_bytes(make())
        entries.append(entry)
    names = [e.name for e in entries]
    assert len(set(names)) == len(names), "duplicate corpus names"
    manifest = [asdict(e) for e in entries]
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (folder / "README.md").write_text(readme(entries, folder))
    return entries


def readme(entries: list[Entry], folder: Path) -> str:
    lines = [
        "# Bad-input corpus",
        "",
        "Malformed or hostile files that `POST /v1/jobs` must refuse with the status below, a",
        "readable message (naming the file, never a server path), nothing stored, and the server",
        "still healthy; `tests/test_bad_input_corpus.py` posts each one to a real API on both",
        "backends and runs the ones marked *CLI* through `stemdeck separate`, which must fail",
        "with a one-line message per file and no traceback.",
        "",
        "The files are written by `make_corpus.py` (deterministic; a test checks the committed",
        "files match its output). Regenerate with",
        "`.venv/bin/python tests/bad_inputs/make_corpus.py`.",
        "",
        "| file | bytes | what is wrong | status | CLI |",
        "|---|---:|---|---:|:---:|",
    ]
    for e in entries:
        size = (folder / e.name).stat().st_size
        cli = "yes" if e.cli_refuses else "-"
        lines.append(f"| `{e.name}` | {size:,} | {e.problem} | {e.status} | {cli} |")
    lines += [
        "",
        "*CLI* `-`: libsndfile decodes the file, so `stemdeck separate` (which has no service",
        "limits) may process it; the API refuses it by its own checks (a sample rate outside",
        "4-768 kHz, or a header declaring more audio bytes than the file holds).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    written = build(target)
    total = sum((target / e.name).stat().st_size for e in written)
    print(f"wrote {len(written)} files ({total:,} bytes) to {target}")
