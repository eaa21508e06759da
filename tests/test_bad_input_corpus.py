"""The bad-input corpus (tests/bad_inputs/: malformed and hostile files, see its README) posted
to a real API process on Redis + moto S3 (uvicorn) and on the embedded backends
(`stemdeck serve --no-workers`): each file gets its 4xx with a one-line message that names the
file and no server path, nothing is stored (no object, no record, no scratch file), and the
server stays up. The same files that are not decodable audio go through `stemdeck separate` in
one invocation: one clean line per file, exit status 1, no traceback, no output.

test_api_uploads.py covers the request-level refusals (empty file, cut-off forms, options,
sizes, callbacks); this corpus covers what is wrong inside the files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api_env import api_alone
from tests.service_env import BACKENDS, ServiceEnv, backend_env

pytestmark = pytest.mark.service

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
MANIFEST: list[dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text())
#: A C-level pointer as ffmpeg prints it ("[pcm_s16le @ 0x55d0c1a2b3c0]"): never in a message.
_POINTER = re.compile(r"0x[0-9a-f]{8,}", re.IGNORECASE)
#: Lines libmpg123 (inside libsndfile) writes straight to the process's stderr when it is
#: handed something that is not MP3; the CLI cannot silence them (see the report).
_LIBRARY_NOISE = ("Note: ", "Warning: ", "[src/libmpg123")


@pytest.fixture(scope="module", params=BACKENDS)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceEnv]:
    with backend_env(request.param, tmp_path_factory) as env:
        yield env


@pytest.fixture(scope="module")
def api(service: ServiceEnv) -> Iterator[tuple[str, Any]]:
    """The API alone, as a child process (a crash would show as an exit), default limits."""
    with api_alone(service) as answer:
        yield answer


def test_the_corpus_is_what_its_script_writes(tmp_path: Path) -> None:
    """The committed files, manifest and README are exactly make_corpus.py's output, at least
    25 files, each small, under 2 MB in all."""
    subprocess.run(
        [sys.executable, str(CORPUS / "make_corpus.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    written = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in CORPUS.iterdir() if p.name != "make_corpus.py")
    committed = [name for name in committed if not name.startswith((".", "__"))]
    assert written == committed
    for name in written:
        assert (tmp_path / name).read_bytes() == (CORPUS / name).read_bytes(), name
    names = [entry["name"] for entry in MANIFEST]
    assert len(names) >= 25 and len(set(names)) == len(names)
    sizes = [(CORPUS / name).stat().st_size for name in names]
    assert max(sizes) <= 128 * 1024 and sum(sizes) < 2 * 1024 * 1024
    readme = (CORPUS / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in names)
    assert all(400 <= entry["status"] < 500 for entry in MANIFEST)


def _server_paths(service: ServiceEnv) -> list[str]:
    return [str(service.data_dir), tempfile.gettempdir() + "/", "/tmp/", "upload-", str(CORPUS)]


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["name"] for e in MANIFEST])
def test_a_corpus_file_is_refused_cleanly_and_nothing_is_stored(
    entry: dict[str, Any], api: tuple[str, Any], service: ServiceEnv
) -> None:
    url, process = api
    name = entry["name"]
    storage, store = service.storage(), service.store()
    before = storage.list("jobs/")
    _, jobs_before = store.list_jobs("", 0, 1)
    with httpx.Client(base_url=url, timeout=60) as client:
        data = (CORPUS / name).read_bytes()
        answer = client.post("/v1/jobs", files={"file": (name, data, "application/octet-stream")})
        assert answer.status_code == entry["status"], answer.text
        assert answer.headers["content-type"] == "application/json"
        detail = answer.json()["detail"]
        assert isinstance(detail, str) and name in detail, detail
        assert entry["words"].lower() in detail.lower(), detail
        assert "\n" not in detail and "Traceback" not in answer.text and len(detail) < 400
        assert not any(path in detail for path in _server_paths(service)), detail
        assert not _POINTER.search(detail), detail
        assert client.get("/healthz").json() == {"status": "ok"}
    assert process.poll() is None, "the API process died"
    assert storage.list("jobs/") == before
    assert store.list_jobs("", 0, 1)[1] == jobs_before
    scratch = service.data_dir / "tmp"
    assert not scratch.exists() or list(scratch.iterdir()) == []


def test_the_whole_corpus_as_one_album_is_refused_naming_the_first_bad_file(
    api: tuple[str, Any], service: ServiceEnv
) -> None:
    """All files in one batch: refused as a whole, with the first file's refusal."""
    before = service.storage().list("jobs/")
    first = MANIFEST[0]
    files = [("files", (e["name"], (CORPUS / e["name"]).read_bytes())) for e in MANIFEST]
    with httpx.Client(base_url=api[0], timeout=120) as client:
        answer = client.post("/v1/batches", files=files)
    assert answer.status_code == first["status"], answer.text
    assert first["name"] in answer.json()["detail"]
    assert service.storage().list("jobs/") == before


@pytest.mark.slow
def test_the_cli_refuses_each_undecodable_file_with_one_clean_line(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    entries = [e for e in MANIFEST if e["cli_refuses"]]
    assert len(entries) >= 25
    out = tmp_path / "separated"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "stemdeck.cli.main", "separate", "--device", "cpu"),
            *("--model", str(tiny_model_path), "-o", str(out)),
            *(str(CORPUS / e["name"]) for e in entries),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "400", "TERM": "dumb"},
    )
    text = result.stdout + result.stderr
    assert result.returncode == 1, text
    assert "Traceback" not in text
    failures = [line for line in text.splitlines() if line.startswith("✗ ")]
    assert len(failures) == len(entries), text
    for entry, line in zip(entries, failures, strict=True):
        assert line.startswith(f"✗ {CORPUS / entry['name']}: '"), line
        assert not _POINTER.search(line), line
    assert f"{len(entries)} of {len(entries)} input(s) failed." in text
    rest = [
        line
        for line in text.splitlines()
        if line.strip() and not line.startswith(("✗ ", *_LIBRARY_NOISE))
    ]
    assert rest == [f"{len(entries)} of {len(entries)} input(s) failed."], rest
    assert not out.exists() or not any(out.rglob("*.wav"))
