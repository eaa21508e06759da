"""The API over HTTP (uvicorn) with a real separator worker process, once on Redis + moto S3 and
once on the embedded backends of `stemdeck serve` (SQLite, local folder): jobs and albums are
submitted, separated and served; keys, limits, cancel, delete, expiry, events, webhooks,
readiness and metrics."""

from __future__ import annotations

import http.server
import io
import json
import re
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf

from stemdeck.common import pipeline
from stemdeck.common.jobs import Job
from stemdeck.common.settings import Settings
from tests.api_env import api_thread, poll, separated, settings_with, song_file, tagged_song
from tests.servers import free_port
from tests.service_env import BACKENDS, ServiceEnv, backend_env

pytestmark = pytest.mark.service


@pytest.fixture(scope="module", params=BACKENDS)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceEnv]:
    with backend_env(request.param, tmp_path_factory) as env:
        env.storage()  # creates the bucket or the folder
        env.start_worker("separate")
        yield env


@pytest.fixture(scope="module")
def base(service: ServiceEnv) -> Settings:
    return service.settings()


@pytest.fixture(scope="module")
def api(base: Settings) -> Iterator[httpx.Client]:
    with api_thread(base) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def idle_api(base: Settings, service: ServiceEnv) -> Iterator[httpx.Client]:
    """An API whose queue no worker reads (another broker): its jobs stay queued."""
    settings = settings_with(base, broker_url=service.idle_broker)
    with api_thread(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client


def submit(client: httpx.Client, song: Path, **fields: str) -> dict[str, Any]:
    with song.open("rb") as handle:
        response = client.post("/v1/jobs", files={"file": (song.name, handle)}, data=fields)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def done_job(
    api: httpx.Client, tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One song submitted over HTTP and separated by the worker."""
    song = song_file(tmp_path_factory.mktemp("songs") / "My Song.wav", seconds=3.0)
    job = submit(api, song, model=str(tiny_model_path))
    assert job["status"] == "queued" and job["links"]["self"] == f"/v1/jobs/{job['id']}"
    record = poll(lambda: api.get(f"/v1/jobs/{job['id']}").json(), separated)
    assert record["stages"]["separate"]["status"] == "succeeded", record
    return record


def storage_bytes(service: ServiceEnv, key: str) -> bytes:
    return b"".join(service.storage().open_range(key))


@pytest.mark.slow
def test_a_separated_job_serves_its_stems_whole_and_in_ranges(
    api: httpx.Client, done_job: dict[str, Any], service: ServiceEnv
) -> None:
    job_id = done_job["id"]
    assert done_job["status"] == "running"  # EQ and genre are still to come
    assert done_job["title"] == "My Song" and done_job["progress"] >= 70
    stems = done_job["results"]["stems"]
    assert set(stems) == {"vocals", "drums", "bass", "other"}
    assert set(done_job["links"]["stems"]) == set(stems)
    vocals = storage_bytes(service, stems["vocals"]["key"])

    whole = api.get(f"/v1/jobs/{job_id}/stems/vocals")
    assert whole.status_code == 200 and whole.content == vocals
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "audio/wav"
    assert "My Song - vocals.wav" in whole.headers["content-disposition"]

    part = api.get(f"/v1/jobs/{job_id}/stems/vocals", headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == vocals[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(vocals)}"
    tail = api.get(f"/v1/jobs/{job_id}/stems/vocals", headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.content == vocals[-500:]
    bad = api.get(f"/v1/jobs/{job_id}/stems/vocals", headers={"Range": f"bytes={len(vocals)}-"})
    assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{len(vocals)}"
    head = api.head(f"/v1/jobs/{job_id}/stems/drums")
    assert (
        head.status_code == 200 and int(head.headers["content-length"]) == stems["drums"]["bytes"]
    )
    missing = api.get(f"/v1/jobs/{job_id}/stems/guitar")
    assert missing.status_code == 404 and "guitar" in missing.json()["detail"]

    archive = api.get(f"/v1/jobs/{job_id}/download.zip")
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert sorted(names) == sorted(f"{stem}.wav" for stem in stems)
    assert zipfile.ZipFile(io.BytesIO(archive.content)).read("vocals.wav") == vocals

    listing = api.get("/v1/jobs", params={"limit": 100}).json()
    assert job_id in [job["id"] for job in listing["jobs"]] and listing["total"] >= 1


def _decode(content: bytes) -> np.ndarray:
    data, rate = sf.read(io.BytesIO(content), dtype="float64", always_2d=True)
    assert rate == 44100
    return data.T


def test_the_mix_renders_karaoke_and_applies_the_recommended_eq(
    api: httpx.Client, done_job: dict[str, Any], service: ServiceEnv
) -> None:
    from stemdeck.eq.filters import apply_eq

    job_id = done_job["id"]
    stems = {
        name: _decode(storage_bytes(service, entry["key"]))
        for name, entry in done_job["results"]["stems"].items()
    }
    karaoke = api.get(f"/v1/jobs/{job_id}/mix", params={"vocals": 0})
    assert karaoke.status_code == 200 and karaoke.headers["content-type"] == "audio/wav"
    expected = stems["drums"] + stems["bass"] + stems["other"]
    np.testing.assert_allclose(_decode(karaoke.content), np.clip(expected, -1, 1), atol=1e-4)

    not_yet = api.get(f"/v1/jobs/{job_id}/mix", params={"eq": "auto"})
    assert not_yet.status_code == 409 and "EQ" in not_yet.json()["detail"]
    for params in ({"vocals": 3}, {"guitar": 1}, {"eq": "loud"}, {"format": "ogg"}):
        refused = api.get(f"/v1/jobs/{job_id}/mix", params=params)
        assert refused.status_code == 422, (params, refused.text)

    gains = {"vocals": (6.0, -3.0, 2.0), "drums": (-6.0, 0.0, 4.0)}
    gains |= {"bass": (3.0, 1.0, -8.0), "other": (0.0, 5.0, 0.0)}
    bands = ("low", "mid", "high")
    eq = {stem: {"gains_db": dict(zip(bands, g, strict=True))} for stem, g in gains.items()}

    def record_eq(job: Job) -> None:
        job.results["eq"] = eq  # what the EQ worker will write

    service.store().update_job(job_id, record_eq)
    mixed = api.get(f"/v1/jobs/{job_id}/mix", params={"eq": "auto", "drums": 0.5})
    assert mixed.status_code == 200, mixed.text
    expected = sum(
        (0.5 if stem == "drums" else 1.0) * apply_eq(audio, 44100, list(gains[stem]))
        for stem, audio in stems.items()
    )
    np.testing.assert_allclose(_decode(mixed.content), np.clip(expected, -1, 1), atol=1e-4)
    flac = api.get(f"/v1/jobs/{job_id}/mix", params={"format": "flac", "eq": "off"})
    assert flac.status_code == 200 and flac.headers["content-type"] == "audio/flac"


def test_presigned_redirects_when_a_public_endpoint_is_set(
    base: Settings, done_job: dict[str, Any], service: ServiceEnv
) -> None:
    if service.embedded:
        pytest.skip("presigned URLs are an S3 feature; the local folder is served by the API")
    public = settings_with(base, s3_public_endpoint=service.env["STEMDECK_S3_ENDPOINT"])
    key = done_job["results"]["stems"]["bass"]["key"]
    with api_thread(public) as url, httpx.Client(base_url=url) as client:
        answer = client.get(f"/v1/jobs/{done_job['id']}/stems/bass")
        assert answer.status_code == 307
        assert "Signature" in answer.headers["location"]
        assert httpx.get(answer.headers["location"]).content == storage_bytes(service, key)


def test_an_album_takes_titles_and_numbers_from_tags_and_progresses(
    api: httpx.Client, tiny_model_path: Path, tmp_path: Path
) -> None:
    tracks = [
        tagged_song(tmp_path / "track-a.wav", "First Light", 1, "Dawn", seed=1),
        tagged_song(tmp_path / "track-b.flac", "Second Wind", 2, "Dawn", seed=2),
        song_file(tmp_path / "03 - Third Rain.wav", seconds=2.0, seed=3),  # no tags
    ]
    handles = [path.open("rb") for path in tracks]
    files = [("files", (path.name, handle)) for path, handle in zip(tracks, handles, strict=True)]
    response = api.post("/v1/batches", files=files, data={"model": str(tiny_model_path)})
    for handle in handles:
        handle.close()
    assert response.status_code == 201, response.text
    batch = response.json()
    assert batch["id"].startswith("batch_") and batch["title"] == "Dawn"
    assert [(j["track_number"], j["title"]) for j in batch["jobs"]] == [
        (1, "First Light"),
        (2, "Second Wind"),
        (3, "Third Rain"),
    ]
    assert batch["job_ids"] == [j["id"] for j in batch["jobs"]]
    assert batch["status"] == "queued" and batch["progress"] == 0

    def fetch() -> dict[str, Any]:
        return api.get(f"/v1/batches/{batch['id']}").json()

    later = poll(fetch, lambda b: all(separated(j) for j in b["jobs"]))
    assert [j["stages"]["separate"]["status"] for j in later["jobs"]] == ["succeeded"] * 3
    assert later["status"] == "running" and later["progress"] >= 70
    assert later["counts"]["running"] == 3
    assert later["jobs"][1]["results"]["tags"]["artist"] == "The Testers"


def test_api_keys_scope_jobs_and_each_key_is_rate_limited(
    base: Settings, service: ServiceEnv, tmp_path: Path
) -> None:
    song = song_file(tmp_path / "song.wav", seconds=1.5)
    settings = settings_with(
        base, api_keys=["alpha", "beta"], rate_limit_per_minute=6, broker_url=service.idle_broker
    )
    with api_thread(settings) as url, httpx.Client(base_url=url) as anonymous:
        refused = anonymous.get("/v1/jobs")
        assert refused.status_code == 401 and "API key" in refused.json()["detail"]
        assert refused.headers["www-authenticate"] == "Bearer"
        wrong = anonymous.get("/v1/jobs", headers={"Authorization": "Bearer gamma"})
        assert wrong.status_code == 401
        assert anonymous.get("/healthz").status_code == 200  # operations stay open
        alpha = httpx.Client(base_url=url, headers={"Authorization": "Bearer alpha"})
        beta = httpx.Client(base_url=url, headers={"X-API-Key": "beta"})
        job = submit(alpha, song)
        assert "owner" not in job
        assert beta.get(f"/v1/jobs/{job['id']}").status_code == 404
        assert beta.get(f"/v1/jobs/{job['id']}/stems/vocals").status_code == 404
        assert beta.delete(f"/v1/jobs/{job['id']}").status_code == 404
        assert beta.get("/v1/jobs").json()["total"] == 0
        assert alpha.get("/v1/jobs").json()["total"] == 1
        statuses = [alpha.get(f"/v1/jobs/{job['id']}").status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200] and statuses[-1] == 429, statuses
        limited = alpha.get("/v1/jobs")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert "rate limit" in limited.json()["detail"]
        assert beta.get("/v1/jobs").status_code == 200  # another key has its own budget
        alpha.close()
        beta.close()


def test_events_follow_a_job_to_its_end_and_cancel_answers_409_after(
    idle_api: httpx.Client, tmp_path: Path
) -> None:
    job = submit(idle_api, song_file(tmp_path / "song.wav", seconds=1.5))
    events: list[tuple[str, dict]] = []
    first = threading.Event()

    def listen() -> None:
        with idle_api.stream("GET", f"/v1/jobs/{job['id']}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            kind = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    events.append((kind, json.loads(line[6:])))
                    first.set()

    listener = threading.Thread(target=listen)
    listener.start()
    assert first.wait(20)
    cancelled = idle_api.post(f"/v1/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    listener.join(20)
    assert not listener.is_alive(), "the event stream did not end"
    kinds = [kind for kind, _ in events]
    assert kinds == ["job", "job", "end"], kinds
    assert [data.get("status") for _, data in events] == ["queued", "cancelled", "cancelled"]
    again = idle_api.post(f"/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]


def test_delete_removes_objects_then_the_record_and_expiry_cleans_up(
    idle_api: httpx.Client, service: ServiceEnv, tmp_path: Path
) -> None:
    song = song_file(tmp_path / "song.wav", seconds=1.5)
    storage, store = service.storage(), service.store()
    doomed = submit(idle_api, song)
    prefix = f"jobs/{doomed['id']}/"
    assert storage.list(prefix) == [doomed["input"]["key"]]
    assert idle_api.delete(f"/v1/jobs/{doomed['id']}").status_code == 204
    assert storage.list(prefix) == []
    gone = idle_api.get(f"/v1/jobs/{doomed['id']}")
    assert gone.status_code == 404 and doomed["id"] in gone.json()["detail"]

    old = submit(idle_api, song)
    kept = submit(idle_api, song)

    def expire(job: Job) -> None:
        job.expires_at = time.time() - 1

    store.update_job(old["id"], expire)
    assert pipeline.cleanup(store, storage) >= 1
    assert idle_api.get(f"/v1/jobs/{old['id']}").status_code == 404
    assert storage.list(f"jobs/{old['id']}/") == []
    assert idle_api.get(f"/v1/jobs/{kept['id']}").status_code == 200
    assert storage.list(f"jobs/{kept['id']}/") == [kept["input"]["key"]]


@pytest.mark.slow
def test_the_scheduler_in_the_coordinator_expires_jobs_on_its_own(
    idle_api: httpx.Client, service: ServiceEnv, tmp_path: Path
) -> None:
    store, storage = service.store(), service.storage()
    old = submit(idle_api, song_file(tmp_path / "song.wav", seconds=1.5))

    def expire(job: Job) -> None:
        job.expires_at = time.time() - 1

    store.update_job(old["id"], expire)
    worker = service.start_worker("coordinator", "--beat", env={"STEMDECK_CLEANUP_EVERY_S": "1"})
    try:
        poll(lambda: idle_api.get(f"/v1/jobs/{old['id']}").status_code, lambda s: s == 404, 90)
        assert storage.list(f"jobs/{old['id']}/") == []
    finally:
        worker.terminate()
        worker.wait(30)


def test_a_job_that_fails_says_why(
    api: httpx.Client, tmp_path: Path, done_job: dict[str, Any]
) -> None:
    """A model file on the server that turns out unusable fails the job in the worker."""
    broken = tmp_path / "broken-model.pt"
    broken.write_text("not weights")
    job = submit(api, song_file(tmp_path / "song.wav", seconds=1.5), model=str(broken))
    record = poll(
        lambda: api.get(f"/v1/jobs/{job['id']}").json(),
        lambda r: r["status"] not in ("queued", "running"),
    )
    assert record["status"] == "failed"
    message = record["error"]["message"]
    assert record["error"]["stage"] == "separate" and "model problem" in message
    assert "broken-model.pt" in message
    metrics = api.get("/metrics").text
    assert 'stemdeck_jobs_ended_total{state="failed"} 1.0' in metrics
    assert 'stemdeck_queue_depth{queue="eq"}' in metrics
    assert 'stemdeck_http_requests_total{method="POST",route="/v1/jobs",status="201"}' in metrics


def test_models_lists_what_the_server_can_run(api: httpx.Client) -> None:
    """GET /v1/models: the bundled model with its card, marked as the default, in the schema."""
    answer = api.get("/v1/models")
    assert answer.status_code == 200, answer.text
    listing = answer.json()
    models = {m["name"]: m for m in listing["models"]}
    assert listing["default"] == "default" and models["default"]["default"] is True
    bundled = models["default"]
    assert (bundled["family"], bundled["origin"], bundled["soft_mask"]) == (
        "tasnet",
        "bundled",
        True,
    )
    assert bundled["parameters"] == 2_986_588 and bundled["sources"] == [
        "drums",
        "bass",
        "other",
        "vocals",
    ]
    assert bundled["quality"]["sdr_db"] == 4.05 and "default.md" in bundled["quality"]["source"]
    schema = api.get("/openapi.json").json()
    ok = schema["paths"]["/v1/models"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"]["$ref"].endswith("/ModelList")
    assert "ModelView" in schema["components"]["schemas"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"model": "no-such-model"}, r"unknown model 'no-such-model'; installed: default"),
        ({"model": "/etc/passwd"}, r"unknown model '/etc/passwd'; installed: default"),
        ({"soft_mask": "perhaps"}, r"soft_mask must be true or false, not 'perhaps'"),
    ],
)
def test_unknown_models_are_refused_before_anything_is_stored(
    api: httpx.Client, tmp_path: Path, fields: dict[str, str], message: str
) -> None:
    before = api.get("/v1/jobs").json()["total"]
    song = song_file(tmp_path / "song.wav", seconds=1.5)
    with song.open("rb") as handle:
        answer = api.post("/v1/jobs", files={"file": (song.name, handle)}, data=fields)
    assert answer.status_code == 422
    assert re.search(message, answer.json()["detail"]), answer.text
    assert api.get("/v1/jobs").json()["total"] == before


def test_soft_mask_can_be_set_per_job(
    api: httpx.Client, tiny_model_path: Path, tmp_path: Path
) -> None:
    """The tiny test model has no flag (off by default); a job can turn the filter on."""
    song = song_file(tmp_path / "s.wav", 2.0)
    job = submit(api, song, model=str(tiny_model_path), soft_mask="true")
    assert job["options"]["soft_mask"] is True
    record = poll(lambda: api.get(f"/v1/jobs/{job['id']}").json(), separated)
    assert record["results"]["separation"]["soft_mask"] is True
    assert record["results"]["separation"]["family"] == "tasnet"


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []  # noqa: RUF012

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.received.clear()
    server = http.server.HTTPServer(("127.0.0.1", free_port()), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def test_webhooks_are_signed_and_private_targets_need_permission(
    base: Settings, service: ServiceEnv, receiver: str, tmp_path: Path
) -> None:
    song = song_file(tmp_path / "song.wav", seconds=1.5)
    queue = service.idle_broker
    with api_thread(settings_with(base, broker_url=queue)) as url, httpx.Client(base_url=url) as c:
        with song.open("rb") as handle:
            refused = c.post("/v1/jobs", files={"file": handle}, data={"callback_url": receiver})
        assert refused.status_code == 422 and "private" in refused.json()["detail"]
    allowed = settings_with(base, broker_url=queue, callback_allow_private=True)
    with api_thread(allowed) as url, httpx.Client(base_url=url) as client:
        job = submit(client, song, callback_url=receiver)
    assert job["callback_url"] == receiver

    assert pipeline.post_callback(allowed, service.store(), job["id"]) == 204
    ((headers, body),) = _Receiver.received
    stamp = headers["X-StemDeck-Timestamp"]
    secret = allowed.callback_secret.get_secret_value()
    assert headers["X-StemDeck-Signature"] == "sha256=" + pipeline.signature(secret, body, stamp)
    assert json.loads(body)["id"] == job["id"]


@pytest.mark.slow
def test_readiness_names_the_failing_dependency(
    api: httpx.Client, base: Settings, service: ServiceEnv
) -> None:
    ready = api.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"broker": "ok", "storage": "ok", "job_store": "ok"}
    dead = settings_with(base, broker_url=service.dead_broker)
    with api_thread(dead) as url:
        answer = httpx.get(f"{url}/readyz", timeout=30)
    assert answer.status_code == 503
    detail = answer.json()["detail"]
    assert "broker" in detail and "storage" not in detail
