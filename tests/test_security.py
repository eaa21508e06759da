"""Security with API keys on, against a real API on Redis + moto S3 and on the embedded backends.

Every route the OpenAPI document lists is tried, with every HTTP method, without a key, with
wrong keys and with another owner's key: only the operations endpoints answer without a key
(exactly that set, so a new route cannot be left open unnoticed), a refused request touches
neither the job store nor the object storage (both are wrapped in recorders), and another key
gets the same 404 for a job that exists as for one that does not. Presigned stem URLs belong to
their owner and expire. Hostile upload names never put a path component into a storage key.

Covered elsewhere, not repeated here: the Content-Security-Policy of the page
(test_api_app.py), the size limit enforced while the body streams and refused webhook targets
in private or loopback ranges (test_api_uploads.py, test_api_jobs.py).
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import io
import re
import socket
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
import soundfile as sf

from stemdeck.api.app import create_app
from stemdeck.common.jobs import Job, JobStatus
from stemdeck.common.settings import Settings
from stemdeck.common.storage import Storage
from tests.api_env import app_thread, settings_with
from tests.conftest import make_song
from tests.service_env import BACKENDS, ServiceEnv, backend_env

pytestmark = pytest.mark.service

ALPHA, BETA = "alpha-key-7f3a9c", "beta-key-2d81e0"
STEMS = ("vocals", "drums", "bass", "other")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: What answers without a key, by design: liveness, readiness, metrics (operators' probes).
OPEN_OPERATIONS = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
#: Outside the OpenAPI document and open too: the document itself, its pages, the root.
OPEN_PAGES = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/")
#: Credentials that must all be refused: absent, wrong, malformed, or a valid key sent where
#: the server does not look for one.
BAD_CREDENTIALS: dict[str, dict[str, Any]] = {
    "no key": {},
    "wrong bearer": {"headers": {"Authorization": "Bearer not-a-key"}},
    "wrong X-API-Key": {"headers": {"X-API-Key": "not-a-key"}},
    "bearer without a key": {"headers": {"Authorization": "Bearer"}},
    "key without scheme": {"headers": {"Authorization": ALPHA}},
    "basic auth": {"headers": {"Authorization": "Basic " + ALPHA}},
    "prefix of a key": {"headers": {"X-API-Key": ALPHA[:-1]}},
    "key plus a suffix": {"headers": {"X-API-Key": ALPHA + "x"}},
    "upper-cased key": {"headers": {"X-API-Key": ALPHA.upper()}},
    "two keys in one": {"headers": {"Authorization": f"Bearer {ALPHA},{BETA}"}},
    "key in the query": {"params": {"api_key": ALPHA, "key": ALPHA}},
    "key in a cookie": {"headers": {"Cookie": f"api_key={ALPHA}; X-API-Key={ALPHA}"}},
}


def small_wav(seconds: float = 1.2, rate: int = 8000, channels: int = 1, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, make_song(seconds, rate, channels, seed).T, rate, format="WAV")
    return buffer.getvalue()


# --- recorders around the stores ----------------------------------------------------------


class Recorder:
    """Passes every method call through to `target` and notes its name (reads and writes)."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return value(*args, **kwargs)

        return call


@dataclass
class Keyed:
    """A keyed API served over HTTP, the recorders around its stores, and alpha's records."""

    url: str
    service: ServiceEnv
    settings: Settings
    store: Recorder
    storage: Recorder
    job_id: str = ""
    batch_id: str = ""
    objects: list[str] = field(default_factory=list)
    paths: set[tuple[str, str]] = field(default_factory=set)

    def calls(self) -> list[str]:
        return self.store.calls + self.storage.calls

    def clear(self) -> None:
        self.store.calls.clear()
        self.storage.calls.clear()


def give_stems(store: Any, storage: Storage, job_id: str, tmp: Path) -> None:
    """What a finished pipeline leaves: four stem objects and a succeeded record."""
    stems = {}
    for index, name in enumerate(STEMS):
        path = tmp / f"{job_id}-{name}.wav"
        sf.write(path, make_song(0.4, seed=index).T, 44100, subtype="PCM_16")
        key = f"jobs/{job_id}/stems/{name}.wav"
        storage.put_file(key, path, "audio/wav")
        stems[name] = {"key": key, "format": "wav", "bytes": path.stat().st_size}

    def finish(job: Job) -> None:
        job.results["stems"] = stems
        job.status = JobStatus.SUCCEEDED

    store.update_job(job_id, finish)


@pytest.fixture(scope="module", params=BACKENDS)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceEnv]:
    with backend_env(request.param, tmp_path_factory) as env:
        env.storage()  # creates the bucket or the folder
        yield env


@pytest.fixture(scope="module")
def keyed(service: ServiceEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    """Keys alpha and beta; alpha owns a finished job with stems, inside a batch. No worker:
    the queue is one nobody reads, so records change only through the API."""
    settings = settings_with(
        service.settings(),
        api_keys=[ALPHA, BETA],
        rate_limit_per_minute=100_000,
        broker_url=service.idle_broker,
    )
    app = create_app(settings, frontend_dir=tmp_path_factory.mktemp("no-frontend"))
    services = app.state.services
    store, storage = Recorder(services.store), Recorder(services.storage)
    services.store, services.storage = store, storage
    paths = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    with app_thread(app) as url, httpx.Client(base_url=url, timeout=30) as alpha:
        files = [("files", ("01 - Mine.wav", small_wav()))]
        answer = alpha.post("/v1/batches", files=files, headers={"X-API-Key": ALPHA})
        assert answer.status_code == 201, answer.text
        batch = answer.json()
        job_id = batch["job_ids"][0]
        give_stems(service.store(), service.storage(), job_id, tmp_path_factory.mktemp("stems"))
        objects = service.storage().list(f"jobs/{job_id}/")
        yield Keyed(url, service, settings, store, storage, job_id, batch["id"], objects, paths)


def fill(path: str, keyed: Keyed, job_id: str | None = None, batch_id: str | None = None) -> str:
    return (
        path.replace("{job_id}", job_id or keyed.job_id)
        .replace("{batch_id}", batch_id or keyed.batch_id)
        .replace("{stem}", "vocals")
    )


def body_for(method: str, path: str) -> dict[str, Any]:
    """A valid upload for the submission routes, so only the key can be the reason to refuse."""
    if (method, path) == ("POST", "/v1/jobs"):
        return {"files": {"file": ("song.wav", small_wav())}}
    if (method, path) == ("POST", "/v1/batches"):
        return {"files": [("files", ("song.wav", small_wav()))]}
    return {}


def send(client: httpx.Client, method: str, url: str, **options: Any) -> httpx.Response:
    """One request; an event stream is read only up to its first event, then closed."""
    with client.stream(method, url, **options) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            lines = []
            for line in response.iter_lines():
                lines.append(line)
                if line.startswith("data: "):
                    break
            response._content = "\n".join(lines).encode()
        else:
            response.read()
    return response


def alphas_records_unchanged(keyed: Keyed) -> None:
    store = keyed.service.store()
    assert store.get_job(keyed.job_id).status == JobStatus.SUCCEEDED
    assert store.get_batch(keyed.batch_id).job_ids == [keyed.job_id]
    assert keyed.service.storage().list(f"jobs/{keyed.job_id}/") == keyed.objects
    scratch = keyed.service.data_dir / "tmp"
    assert not scratch.exists() or list(scratch.iterdir()) == []


# --- no key, or a wrong one ----------------------------------------------------------------


@pytest.mark.slow
def test_without_a_valid_key_only_the_operations_endpoints_answer(keyed: Keyed) -> None:
    """Every path of the OpenAPI document with every method: 401 (or 405 where no route has
    that method) and not one call into the job store or storage; the answer for alpha's real
    job is byte-for-byte the answer for a job that does not exist (no existence oracle)."""
    assert len(keyed.paths) >= 15, keyed.paths
    statuses: dict[tuple[str, str], set[int]] = {}
    refused = 0
    with httpx.Client(base_url=keyed.url, timeout=30) as client:
        for path in sorted({p for _, p in keyed.paths}):
            for method in METHODS:
                for kind, credentials in BAD_CREDENTIALS.items():
                    keyed.clear()
                    options = {**credentials, **body_for(method, path)}
                    answer = send(client, method, fill(path, keyed), **options)
                    where = f"{method} {path} with {kind}"
                    statuses.setdefault((method, path), set()).add(answer.status_code)
                    if answer.status_code == 405:
                        assert (method, path) not in keyed.paths, where
                        continue
                    if (method, path) in OPEN_OPERATIONS:
                        assert answer.status_code == 200, (where, answer.text)
                        continue
                    assert answer.status_code == 401, (where, answer.text)
                    assert answer.headers["www-authenticate"] == "Bearer", where
                    if method != "HEAD":
                        assert "key" in answer.json()["detail"].lower(), where
                    assert keyed.calls() == [], (where, keyed.calls())
                    bogus = fill(path, keyed, "job_doesNotExist0", "batch_doesNotExist0")
                    other = send(client, method, bogus, **options)
                    assert (other.status_code, other.content) == (401, answer.content), where
                    refused += 1
    routed = {op for op, seen in statuses.items() if seen != {405}}
    assert routed - keyed.paths == {("HEAD", "/v1/jobs/{job_id}/stems/{stem}")}  # for players
    assert routed >= keyed.paths, keyed.paths - routed
    open_ones = {op for op, seen in statuses.items() if seen - {401, 405}}
    assert open_ones == OPEN_OPERATIONS, open_ones
    closed = len(routed) - len(OPEN_OPERATIONS)
    assert refused == closed * len(BAD_CREDENTIALS), (refused, closed)
    alphas_records_unchanged(keyed)


def test_the_documentation_pages_stay_open(keyed: Keyed) -> None:
    """The docs are open; paths near the API's (a trailing slash is redirected) are not."""
    with httpx.Client(base_url=keyed.url, timeout=30, follow_redirects=True) as client:
        for page in OPEN_PAGES:
            assert client.get(page).status_code == 200, page
        for path in ("/v1", "/v1/", "/v1/jobs/", "/v1/keys", "/admin"):
            assert client.get(path).status_code in (401, 404), path


def test_a_refused_upload_is_answered_before_its_body_is_read(keyed: Keyed) -> None:
    """A key-less 50 MB upload is refused from its headers alone; nothing reaches scratch."""
    port = int(keyed.url.rsplit(":", 1)[1])
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            b"POST /v1/jobs HTTP/1.1\r\nHost: test\r\nContent-Length: 52428800\r\n"
            b"Content-Type: multipart/form-data; boundary=B\r\n\r\n"
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        )
        conn.settimeout(10)
        answer = conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert time.monotonic() - started < 5
    alphas_records_unchanged(keyed)


# --- another key ---------------------------------------------------------------------------


def _same_but_for_ids(
    first: httpx.Response, second: httpx.Response, ids: list[tuple[str, str]]
) -> bool:
    text = second.text
    for real, bogus in ids:
        text = text.replace(bogus, real)
    return first.status_code == second.status_code and first.text == text


def test_another_key_sees_none_of_alphas_jobs_stems_events_or_batches(keyed: Keyed) -> None:
    """Beta, on every route that names a record, gets what it would get for a record that does
    not exist: 404 with the same message (not 403, not 409 for an ended job); the listing does
    not show alpha's job; nothing of alpha's changes. Then alpha reads every one of those
    routes (2xx, or 409 for cancelling a finished job), so the 404s are not a broken route."""
    every = keyed.paths | {("HEAD", "/v1/jobs/{job_id}/stems/{stem}")}
    with_id = sorted((m, p) for m, p in every if "{" in p)
    without_id = {(m, p) for m, p in keyed.paths if "{" not in p}
    assert without_id == OPEN_OPERATIONS | {
        ("GET", "/v1/jobs"),
        ("POST", "/v1/jobs"),
        ("POST", "/v1/batches"),
        ("GET", "/v1/models"),  # the installed models: the same for every key, owned by none
    }, without_id  # a new route without an id needs its own ownership test here
    bogus_ids = [(keyed.job_id, "job_doesNotExist0"), (keyed.batch_id, "batch_doesNotExist0")]
    with httpx.Client(base_url=keyed.url, headers={"X-API-Key": BETA}, timeout=30) as beta:
        for method, path in with_id:
            answer = send(beta, method, fill(path, keyed))
            assert answer.status_code == 404, (method, path, answer.text)
            bogus = send(beta, method, fill(path, keyed, *(b for _, b in bogus_ids)))
            assert _same_but_for_ids(answer, bogus, bogus_ids), (answer.text, bogus.text)
        listing = beta.get("/v1/jobs", params={"limit": 100}).json()
        assert keyed.job_id not in {job["id"] for job in listing["jobs"]}
        assert listing["total"] == 0
    alphas_records_unchanged(keyed)

    owner = {"X-API-Key": ALPHA}
    with httpx.Client(base_url=keyed.url, headers=owner, timeout=30) as alpha:
        for method, path in with_id:
            if method == "DELETE":
                continue  # last, on records of their own (below)
            answer = send(alpha, method, fill(path, keyed))
            expected = 409 if path.endswith("/cancel") else 200
            assert answer.status_code == expected, (method, path, answer.text)
        events = send(alpha, "GET", f"/v1/jobs/{keyed.job_id}/events")
        assert "event: job" in events.text and keyed.job_id in events.text
        listing = alpha.get("/v1/jobs").json()
        assert [job["id"] for job in listing["jobs"]] == [keyed.job_id]


def test_only_the_owner_deletes(keyed: Keyed) -> None:
    song = {"files": {"file": ("doomed.wav", small_wav(seed=3))}}
    with (
        httpx.Client(base_url=keyed.url, headers={"X-API-Key": ALPHA}, timeout=30) as alpha,
        httpx.Client(
            base_url=keyed.url, headers={"Authorization": f"Bearer {BETA}"}, timeout=30
        ) as beta,
    ):
        job = alpha.post("/v1/jobs", **song).json()
        batch = alpha.post("/v1/batches", files=[("files", ("b.wav", small_wav()))]).json()
        storage = keyed.service.storage()
        assert beta.delete(f"/v1/jobs/{job['id']}").status_code == 404
        assert beta.delete(f"/v1/batches/{batch['id']}").status_code == 404
        assert beta.post(f"/v1/jobs/{job['id']}/cancel").status_code == 404
        assert alpha.get(f"/v1/jobs/{job['id']}").json()["status"] == "queued"
        assert storage.list(f"jobs/{job['id']}/") == [job["input"]["key"]]
        assert alpha.delete(f"/v1/jobs/{job['id']}").status_code == 204
        assert alpha.delete(f"/v1/batches/{batch['id']}").status_code == 204
        assert storage.list(f"jobs/{job['id']}/") == []
        assert storage.list(f"jobs/{batch['job_ids'][0]}/") == []
        assert alpha.get(f"/v1/batches/{batch['id']}").status_code == 404


def test_events_of_another_keys_job_are_404_and_stream_for_the_owner(keyed: Keyed) -> None:
    url = f"/v1/jobs/{keyed.job_id}/events"
    with httpx.Client(base_url=keyed.url, timeout=30) as client:
        refused = client.get(url, headers={"X-API-Key": BETA})
        assert refused.status_code == 404 and refused.headers["content-type"] == (
            "application/json"
        )
        assert client.get(url).status_code == 401
        with client.stream("GET", url, headers={"X-API-Key": ALPHA}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            text = "\n".join(stream.iter_lines())  # the job has ended: job, then end
    assert "event: job" in text and "event: end" in text and '"succeeded"' in text


# --- presigned URLs -------------------------------------------------------------------------


def sigv4_verdict(url: str, secret: str, now: float) -> str:
    """What an S3 server (AWS, MinIO) answers a presigned GET at time `now`: "ok", "expired"
    or "bad signature" — SigV4 query signing recomputed from the URL alone. moto serves
    presigned URLs without checking either their signature or X-Amz-Expires, so this is the
    check here; the signature covers X-Amz-Date and X-Amz-Expires, so neither can be edited."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    signature = query.pop("X-Amz-Signature")
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items())
    )
    canonical = "\n".join(
        ["GET", parts.path, canonical_query, f"host:{parts.netloc}", "", "host", "UNSIGNED-PAYLOAD"]
    )
    stamp = query["X-Amz-Date"]
    scope = query["X-Amz-Credential"].split("/", 1)[1]
    day, region, service, _ = scope.split("/")
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(
        hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), signature
    ):
        return "bad signature"
    signed_at = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
    return "expired" if now > signed_at + int(query["X-Amz-Expires"]) else "ok"


def test_presigned_urls_belong_to_the_owner_and_expire(keyed: Keyed) -> None:
    """With a public S3 endpoint the owner is redirected to a URL signed for that one object,
    valid for 10 minutes from the redirect; others get no URL. Past its lifetime, or edited to
    name another object or a longer lifetime, S3 refuses it (see `sigv4_verdict`)."""
    if keyed.service.embedded:
        pytest.skip("presigned URLs are an S3 feature; the local folder is served by the API")
    endpoint = keyed.service.env["STEMDECK_S3_ENDPOINT"]
    secret = keyed.service.env["STEMDECK_S3_SECRET_KEY"]
    public = settings_with(keyed.settings, s3_public_endpoint=endpoint)
    app = create_app(public, frontend_dir=keyed.service.data_dir / "no-frontend")
    stem = f"/v1/jobs/{keyed.job_id}/stems/vocals"
    key = f"jobs/{keyed.job_id}/stems/vocals.wav"
    expected = b"".join(keyed.service.storage().open_range(key))
    with app_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert client.get(stem).status_code == 401
        other = client.get(stem, headers={"X-API-Key": BETA})
        assert other.status_code == 404 and "location" not in other.headers
        redirected_at = time.time()
        redirect = client.get(stem, headers={"X-API-Key": ALPHA})
    assert redirect.status_code == 307, redirect.text
    location = redirect.headers["location"]
    assert location.startswith(endpoint) and urlsplit(location).path.endswith(key)
    assert httpx.get(location).content == expected

    assert parse_qs(urlsplit(location).query)["X-Amz-Expires"] == ["600"]
    assert sigv4_verdict(location, secret, redirected_at) == "ok"
    assert sigv4_verdict(location, secret, redirected_at + 590) == "ok"
    assert sigv4_verdict(location, secret, redirected_at + 620) == "expired"
    for edited in (
        location.replace("/stems/vocals.wav", "/stems/drums.wav"),
        location.replace(f"/{keyed.job_id}/", "/job_someoneElse0/"),
        location.replace("X-Amz-Expires=600", "X-Amz-Expires=604800"),
    ):
        assert sigv4_verdict(edited, secret, redirected_at) == "bad signature", edited
    brief = settings_with(public, presign_seconds=1)  # STEMDECK_PRESIGN_SECONDS
    brief_app = create_app(brief, frontend_dir=keyed.service.data_dir / "no-frontend")
    with app_thread(brief_app) as url:
        short = httpx.get(f"{url}{stem}", headers={"X-API-Key": ALPHA}).headers["location"]
    assert parse_qs(urlsplit(short).query)["X-Amz-Expires"] == ["1"]
    assert sigv4_verdict(short, secret, time.time() + 2) == "expired"


# --- hostile file names ---------------------------------------------------------------------

HOSTILE_NAMES = [
    "../../etc/passwd.wav",
    "..\\..\\windows\\system32\\x.wav",
    "%2e%2e/%2e%2e/%2e%2e/etc/shadow.wav",
    "%2e%2e%2f%2e%2e%2fescape.wav",
    "/etc/cron.d/evil.wav",
    "/../../../../tmp/abs.wav",
    "C:\\Users\\Public\\song.wav",
    "\\\\server\\share\\song.wav",
    "song\x00.wav",
    "a\x00/../../b.wav",
    "tab\there\x1b[31mred\x7f.wav",
    ".hidden.wav",
    "....wav",
    "..wav",
    "jobs/other_job/stems/vocals.wav",
    "x" * 1000 + ".wav",
    "노래" * 200 + ".wav",
    "evil\u202egnp.wav",
    "\uff0e\uff0e\uff0fetc\uff0fpasswd.wav",  # fullwidth ". . /"
    "a\u2215b\u2044c.wav",  # division and fraction slashes
    "e\u0301t\u00e9.wav",  # decomposed and composed accents
    "zero\u200bwidth\ufeff.wav",
    "name with \"quotes\" and 'apostrophes'.wav",
    "semi;colon=and,comma.wav",
]
_KEY = re.compile(r"^jobs/job_[A-Za-z0-9_-]+/input/([^/\\]+)$")


def raw_upload(raw_name: str) -> dict[str, Any]:
    """A multipart body written by hand, so the name reaches the server byte for byte (no
    client escaping of quotes, backslashes or NUL)."""
    name = raw_name.replace('"', "%22").encode()  # the one character a quoted value cannot hold
    head = b'--B\r\nContent-Disposition: form-data; name="file"; filename="' + name + b'"\r\n'
    body = head + b"Content-Type: audio/wav\r\n\r\n" + small_wav(seed=5) + b"\r\n--B--\r\n"
    return {"content": body, "headers": {"Content-Type": "multipart/form-data; boundary=B"}}


def check_stored_name(name: str) -> None:
    assert name and name not in (".", "..") and not name.startswith("."), name
    assert "/" not in name and "\\" not in name and "\x00" not in name, name
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in name), ascii(name)
    assert "\uff0f" not in name and "\u2215" not in name and "\u2044" not in name, name
    assert len(name.encode()) <= 120 and unicodedata.is_normalized("NFC", name), name


def test_hostile_names_never_become_path_components(keyed: Keyed) -> None:
    """Each name is accepted under a safe name (or refused as a folder), the key is
    jobs/<id>/input/<one component>, and in the local backend the file lies inside the job's
    folder; afterwards no stored key anywhere has a path component from a name."""
    accepted = []
    with httpx.Client(base_url=keyed.url, headers={"X-API-Key": ALPHA}, timeout=30) as alpha:
        for raw in HOSTILE_NAMES:
            answer = alpha.post("/v1/jobs", **raw_upload(raw))
            assert answer.status_code in (201, 400), (ascii(raw), answer.text)
            if answer.status_code == 400:
                assert "folder" in answer.json()["detail"], (ascii(raw), answer.text)
                continue
            job = answer.json()
            key, name = job["input"]["key"], job["input"]["filename"]
            match = _KEY.match(key)
            assert match and match.group(1) == name, (ascii(raw), key)
            check_stored_name(name)
            assert key.startswith(f"jobs/{job['id']}/input/")
            accepted.append((raw, name, job["id"]))
    assert len(accepted) >= len(HOSTILE_NAMES) - 2
    names = dict((raw, name) for raw, name, _ in accepted)
    assert names["../../etc/passwd.wav"] == "passwd.wav"
    assert names["..\\..\\windows\\system32\\x.wav"] == "x.wav"
    assert names["/etc/cron.d/evil.wav"] == "evil.wav"
    assert names["jobs/other_job/stems/vocals.wav"] == "vocals.wav"
    assert names["song\x00.wav"] == "song.wav"
    assert len(names["x" * 1000 + ".wav"].encode()) <= 120
    assert names["x" * 1000 + ".wav"].endswith(".wav")

    storage = keyed.service.storage()
    for key in storage.list("jobs/"):
        parts = key.split("/")
        assert parts[0] == "jobs" and all(p and p not in (".", "..") for p in parts), key
        assert not any(c in key for c in "\\\x00") and len(parts) == 4, key
    if keyed.service.embedded:
        root = (keyed.service.data_dir / "objects").resolve()
        for _, name, job_id in accepted:
            stored = (root / "jobs" / job_id / "input" / name).resolve()
            assert stored.is_file() and stored.parent == root / "jobs" / job_id / "input"
        assert not (keyed.service.data_dir / "etc").exists()
    with httpx.Client(base_url=keyed.url, headers={"X-API-Key": ALPHA}) as alpha:
        for _, _, job_id in accepted:
            assert alpha.delete(f"/v1/jobs/{job_id}").status_code == 204


def test_stem_downloads_carry_safe_attachment_names(keyed: Keyed, tmp_path: Path) -> None:
    """A hostile title (from a file name or a tag) reaches Content-Disposition only as a quoted
    attachment name without separators, quotes or control characters."""
    store = keyed.service.store()

    def retitle(job: Job) -> None:
        job.title = '../../evil"\r\nSet-Cookie: a=b;\x00.wav'

    store.update_job(keyed.job_id, retitle)
    try:
        with httpx.Client(base_url=keyed.url, headers={"X-API-Key": ALPHA}) as alpha:
            answer = alpha.get(f"/v1/jobs/{keyed.job_id}/stems/bass")
        assert answer.status_code == 200
        disposition = answer.headers["content-disposition"]
        assert "set-cookie" not in {k.lower() for k in answer.headers}
        assert disposition.startswith('attachment; filename="')
        ascii_name = disposition.split('filename="', 1)[1].split('"', 1)[0]
        assert "/" not in ascii_name and "\\" not in ascii_name and ".." not in ascii_name
        assert not any(ord(c) < 32 for c in disposition)
    finally:

        def restore(job: Job) -> None:
            job.title = "Mine"

        store.update_job(keyed.job_id, restore)
