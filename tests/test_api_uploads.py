"""Bad uploads against the real API process, on Redis + moto S3 (uvicorn) and in the embedded
mode (`stemdeck serve`): each is refused with a 4xx and a message a person understands, nothing
is stored, and the server keeps answering. Oversized bodies are refused while they stream, in
flat memory."""

from __future__ import annotations

import io
import select
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import pytest
import soundfile as sf

from stemdeck.common.audio import write_audio
from tests.api_env import api_alone
from tests.conftest import make_song
from tests.service_env import BACKENDS, ServiceEnv, backend_env

pytestmark = pytest.mark.service

LIMIT_MB = 2


@pytest.fixture(scope="module", params=BACKENDS)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceEnv]:
    with backend_env(request.param, tmp_path_factory) as env:
        env.env.update(
            STEMDECK_MAX_UPLOAD_MB=str(LIMIT_MB),
            STEMDECK_MAX_DURATION_S="8",
            STEMDECK_MIN_DURATION_S="1",
        )
        yield env


@pytest.fixture(scope="module")
def api(service: ServiceEnv) -> Iterator[tuple[str, Any]]:
    """The API alone (no workers, so the stored objects change only through the API)."""
    with api_alone(service) as answer:
        yield answer


@pytest.fixture
def client(api: tuple[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api[0], timeout=30) as http:
        yield http


# --- the files --------------------------------------------------------------------------------


def wav(seconds: float, rate: int = 44100, channels: int = 2) -> bytes:
    buffer = io.BytesIO()
    data = make_song(seconds, rate, channels).T if seconds > 0 else np.zeros((0, channels))
    sf.write(buffer, data, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def encoded(tmp: Path, name: str, seconds: float = 3.0) -> bytes:
    path = tmp / name
    write_audio(path, make_song(seconds))
    return path.read_bytes()


def corrupted(data: bytes) -> bytes:
    damaged = bytearray(data)
    middle = len(damaged) // 2
    damaged[middle : middle + 2000] = bytes(
        (b * 7 + 13) % 256 for b in damaged[middle : middle + 2000]
    )
    return bytes(damaged)


def giga_header() -> bytes:
    """A WAV whose data chunk declares 3 GB while the file holds 4 kB."""
    data = bytearray(wav(1.0)[:4044])
    at = data.find(b"data")
    data[at + 4 : at + 8] = (3_000_000_000).to_bytes(4, "little")
    data[4:8] = (3_000_000_036).to_bytes(4, "little")
    return bytes(data)


def multipart(parts: list[bytes], boundary: str = "XyZ", close: bool = True) -> dict[str, Any]:
    body = b"".join(f"--{boundary}\r\n".encode() + part + b"\r\n" for part in parts)
    body += f"--{boundary}--\r\n".encode() if close else b""
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return {"content": body, "headers": headers}


def file_part(name: str, data: bytes, extra_header: str = "") -> bytes:
    head = f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n{extra_header}'
    return head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + data


# name: (request builder, status, words the message must contain, user's file name or None)
Case = tuple[Callable[[Path], dict[str, Any]], int, str, str | None]
CASES: dict[str, Case] = {
    "empty file": (lambda t: {"files": {"file": ("empty.mp3", b"")}}, 422, "empty", "empty.mp3"),
    "text named .mp3": (
        lambda t: {"files": {"file": ("notes.mp3", b"these are my notes\n" * 200)}},
        415,
        "not an audio file",
        "notes.mp3",
    ),
    "truncated wav": (
        lambda t: {"files": {"file": ("cut.wav", wav(3.0)[:150_000])}},
        422,
        "truncated",
        "cut.wav",
    ),
    "corrupted flac": (
        lambda t: {"files": {"file": ("broken.flac", corrupted(encoded(t, "a.flac")))}},
        422,
        "damaged",
        "broken.flac",
    ),
    "truncated mp3": (
        lambda t: {"files": {"file": ("half.mp3", encoded(t, "a.mp3")[:40_000])}},
        422,
        "truncated",
        "half.mp3",
    ),
    "wrong magic bytes": (
        lambda t: {"files": {"file": ("magic.wav", b"XXXX" + wav(2.0)[4:])}},
        415,
        "not an audio file",
        "magic.wav",
    ),
    "wav header declaring gigabytes": (
        lambda t: {"files": {"file": ("giga.wav", giga_header())}},
        422,
        "declares 3,000,000,000 bytes",
        "giga.wav",
    ),
    "zero-frame wav": (
        lambda t: {"files": {"file": ("nothing.wav", wav(0))}},
        415,
        "no audio",
        "nothing.wav",
    ),
    "0.05 s wav": (
        lambda t: {"files": {"file": ("blip.wav", wav(0.05))}},
        422,
        "at least 1 s",
        "blip.wav",
    ),
    "longer than the limit": (
        lambda t: {"files": {"file": ("long.wav", wav(9.0, rate=8000, channels=1))}},
        422,
        "the limit is",
        "long.wav",
    ),
    "folder-like name": (
        lambda t: {"files": {"file": ("album/", wav(2.0))}},
        400,
        "folder",
        None,
    ),
    "missing file field": (
        lambda t: {"files": {"stems": (None, "two")}},
        400,
        "no file",
        None,
    ),
    "stems=five": (
        lambda t: {"files": {"file": ("ok.wav", wav(2.0))}, "data": {"stems": "five"}},
        422,
        "stems must be 'four' or 'two'",
        None,
    ),
    "format=ogg": (
        lambda t: {"files": {"file": ("ok.wav", wav(2.0))}, "data": {"format": "ogg"}},
        422,
        "format must be",
        None,
    ),
    "unknown form field": (
        lambda t: {"files": {"file": ("ok.wav", wav(2.0))}, "data": {"stem": "two"}},
        400,
        "unknown form field 'stem'",
        None,
    ),
    "non-multipart body": (
        lambda t: {"content": wav(2.0), "headers": {"Content-Type": "audio/wav"}},
        415,
        "multipart/form-data",
        None,
    ),
    "json body": (lambda t: {"json": {"file": "song.mp3"}}, 415, "multipart/form-data", None),
    "huge multipart header": (
        lambda t: multipart([file_part("x.wav", wav(2.0), f"X-Padding: {'a' * 20_000}\r\n")]),
        400,
        "malformed",
        None,
    ),
    "form cut off": (
        lambda t: multipart([file_part("x.wav", wav(2.0))], close=False),
        400,
        "ended early",
        None,
    ),
    "private callback": (
        lambda t: {
            "files": {"file": ("ok.wav", wav(2.0))},
            "data": {"callback_url": "http://127.0.0.1:9/hook"},
        },
        422,
        "private or loopback",
        None,
    ),
    "non-http callback": (
        lambda t: {
            "files": {"file": ("ok.wav", wav(2.0))},
            "data": {"callback_url": "file:///etc/passwd"},
        },
        422,
        "http",
        None,
    ),
}


def stored(service: ServiceEnv) -> list[str]:
    return service.storage().list("jobs/")


def scratch_left(service: ServiceEnv) -> list[Path]:
    folder = service.data_dir / "tmp"
    return list(folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("kind", list(CASES))
def test_a_bad_upload_is_refused_with_a_message_and_nothing_is_stored(
    kind: str, client: httpx.Client, service: ServiceEnv, tmp_path: Path
) -> None:
    build, status, words, filename = CASES[kind]
    before = stored(service)
    response = client.post("/v1/jobs", **build(tmp_path))
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and words.lower() in detail.lower(), detail
    if filename:
        assert filename in detail
    assert str(service.data_dir) not in detail and "/tmp" not in detail
    assert "Traceback" not in response.text
    assert stored(service) == before
    assert scratch_left(service) == []
    assert client.get("/healthz").json() == {"status": "ok"}


def test_odd_names_are_accepted_under_safe_keys(client: httpx.Client, service: ServiceEnv) -> None:
    for raw, safe in (
        ("../../../etc/passwd.wav", "passwd.wav"),
        ("노래 — Café Ünïcode.wav", "노래 _ Café Ünïcode.wav"),
    ):
        response = client.post("/v1/jobs", files={"file": (raw, wav(1.5))})
        assert response.status_code == 201, response.text
        job = response.json()
        assert job["input"]["filename"] == safe
        assert job["input"]["key"] == f"jobs/{job['id']}/input/{safe}"
        assert stored(service).count(job["input"]["key"]) == 1
        assert job["status"] == "queued" and job["options"]["stems"] == "four"


def test_a_batch_with_one_bad_file_is_refused_whole(
    client: httpx.Client, service: ServiceEnv
) -> None:
    before = stored(service)
    files = [
        ("files", ("01 - Good.wav", wav(1.5))),
        ("files", ("02 - Bad.mp3", b"not a song at all\n" * 100)),
        ("files", ("03 - Good Too.wav", wav(1.5))),
    ]
    response = client.post("/v1/batches", files=files)
    assert response.status_code == 415, response.text
    assert "02 - Bad.mp3" in response.json()["detail"]
    assert stored(service) == before and scratch_left(service) == []


def _rest_of_answer(conn: socket.socket, data: bytes = b"") -> bytes:
    """Read until the response is complete (headers and Content-Length bytes of body)."""
    conn.settimeout(5)
    try:
        while True:
            head, _, body = data.partition(b"\r\n\r\n")
            length = [h for h in head.lower().split(b"\r\n") if h.startswith(b"content-length:")]
            if length and len(body) >= int(length[0].split(b":")[1]):
                return data
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
    except (TimeoutError, ConnectionResetError):
        return data


def _rss(process: Any) -> int:
    return psutil.Process(process.pid).memory_info().rss


def test_an_oversized_upload_is_refused_while_streaming_in_flat_memory(
    api: tuple[str, Any], service: ServiceEnv
) -> None:
    """A chunked body (no Content-Length) growing to 40 MB: the server answers 413 once the
    file passes 2 MB, without reading the rest, and its memory does not grow with the body."""
    url, process = api
    port = int(url.rsplit(":", 1)[1])
    before_rss = _rss(process)
    before = stored(service)
    head = b'--B\r\nContent-Disposition: form-data; name="file"; filename="huge.wav"\r\n\r\n' + wav(
        1.0
    )
    total, sent, answer = 40 << 20, 0, b""
    chunk = b"\0" * (64 << 10)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            b"POST /v1/jobs HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: multipart/form-data; boundary=B\r\n\r\n"
        )
        conn.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        try:
            while sent < total and not answer:
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                wait = 2.0 if sent > (LIMIT_MB + 1) << 20 else 0.0
                if select.select([conn], [], [], wait)[0]:
                    answer = conn.recv(65536)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _rest_of_answer(conn, answer)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"larger than the upload limit of 2 MB" in answer
    assert sent < 8 << 20, f"the client could send {sent} bytes before the refusal"
    grown = _rss(process) - before_rss
    print(f"sent {sent / 2**20:.2f} MiB before the 413; server RSS grew {grown / 2**20:.2f} MiB")
    assert grown < 8 << 20, f"server memory grew by {grown / 2**20:.1f} MiB"
    assert stored(service) == before and scratch_left(service) == []
    with httpx.Client(base_url=url) as http:
        assert http.get("/healthz").status_code == 200


def test_a_declared_oversized_body_is_refused_before_it_is_sent(api: tuple[str, Any]) -> None:
    port = int(api[0].rsplit(":", 1)[1])
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            b"POST /v1/jobs HTTP/1.1\r\nHost: test\r\nContent-Length: 104857600\r\n"
            b"Content-Type: multipart/form-data; boundary=B\r\n\r\n"
        )
        answer = _rest_of_answer(conn)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b"larger than the limit of 2 MB per file" in answer
    assert time.monotonic() - started < 5
