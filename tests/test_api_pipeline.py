"""Whole jobs through every stage (separate → eq per stem + genre → finalize → webhook), driven
over HTTP and by the `stemdeck submit` client: once on Redis + moto S3 with one worker process
per role, once on `stemdeck serve` itself (the embedded one-command mode)."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from stemdeck.common import pipeline
from tests.api_env import api_thread, poll, serve_process, song_file, tagged_song
from tests.servers import free_port, moto_server, redis_server
from tests.service_env import ServiceEnv, embedded_env, service_env
from tests.test_api_schema import assert_documented

pytestmark = pytest.mark.service

ENDED = ("succeeded", "failed", "cancelled")


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []  # noqa: RUF012

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", free_port()), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


@pytest.fixture(scope="module", params=["redis-s3", "embedded"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceEnv, str]]:
    """The service and its URL: workers + an API thread, or one `stemdeck serve` process."""
    data = tmp_path_factory.mktemp("data")
    with contextlib.ExitStack() as stack:
        if request.param == "embedded":
            env = stack.enter_context(embedded_env(data))
            env.env["STEMDECK_CALLBACK_ALLOW_PRIVATE"] = "true"
            url, _ = stack.enter_context(serve_process(env.env, data, data / "serve.log"))
        else:
            redis = stack.enter_context(redis_server(tmp_path_factory.mktemp("redis")))
            s3 = stack.enter_context(moto_server())
            env = stack.enter_context(service_env(data, redis.url, s3.url))
            env.env["STEMDECK_CALLBACK_ALLOW_PRIVATE"] = "true"
            env.storage()
            for role in ("separate", "eq", "genre", "coordinator"):
                env.start_worker(role)
            url = stack.enter_context(api_thread(env.settings()))
        yield env, url


@pytest.fixture(scope="module")
def service(stack: tuple[ServiceEnv, str]) -> ServiceEnv:
    return stack[0]


@pytest.fixture(scope="module")
def url(stack: tuple[ServiceEnv, str]) -> str:
    return stack[1]


def _wait_ended(client: httpx.Client, job_id: str) -> dict[str, Any]:
    return poll(
        lambda: client.get(f"/v1/jobs/{job_id}").json(), lambda r: r["status"] in ENDED, 300
    )


@pytest.mark.slow
def test_a_job_runs_every_stage_and_calls_its_webhook(
    url: str, service: ServiceEnv, receiver: str, tiny_model_path: Path, tmp_path: Path
) -> None:
    song = song_file(tmp_path / "Whole Song.wav", seconds=4.0)
    _Receiver.received.clear()
    with httpx.Client(base_url=url, timeout=120) as client:
        with song.open("rb") as handle:
            answer = client.post(
                "/v1/jobs",
                files={"file": (song.name, handle)},
                data={"model": str(tiny_model_path), "callback_url": receiver},
            )
        assert answer.status_code == 201, answer.text
        job_id = answer.json()["id"]
        record = _wait_ended(client, job_id)
        assert record["status"] == "succeeded", (record, service.worker_logs()[-3000:])
        assert record["progress"] == 100
        assert_documented(client.get("/openapi.json").json(), "JobView", record)
        assert set(record["results"]["eq"]) == set(record["results"]["stems"])
        shares = record["results"]["analysis"]["stems"]
        assert set(shares) == set(record["results"]["stems"])
        assert sum(s["share"] for s in shares.values()) == pytest.approx(1.0, abs=1e-3)
        assert {s["status"] for s in record["stages"].values()} == {"succeeded"}
        names = zipfile.ZipFile(io.BytesIO(client.get(f"/v1/jobs/{job_id}/download.zip").content))
        assert "manifest.json" in names.namelist()
        mixed = client.get(f"/v1/jobs/{job_id}/mix", params={"eq": "auto", "vocals": 0})
        assert mixed.status_code == 200 and mixed.content[:4] == b"RIFF"
        events = client.get(f"/v1/jobs/{job_id}/events").text  # ended: one record, then end
        assert "event: job" in events and "event: end" in events
    hook = poll(lambda: list(_Receiver.received), lambda r: bool(r), 60)
    headers, body = hook[-1]
    secret = service.settings().callback_secret.get_secret_value()
    stamp = headers["X-StemDeck-Timestamp"]
    assert headers["X-StemDeck-Signature"] == "sha256=" + pipeline.signature(secret, body, stamp)
    assert json.loads(body)["id"] == job_id and json.loads(body)["status"] == "succeeded"


@pytest.mark.slow
def test_the_client_submits_an_album_waits_and_downloads_it(
    url: str, tiny_model_path: Path, tmp_path: Path
) -> None:
    from stemdeck.cli.main import app

    songs = [
        tagged_song(tmp_path / "a.wav", "Morning", 1, "Client Album", seed=1),
        tagged_song(tmp_path / "b.flac", "Evening", 2, "Client Album", seed=2),
    ]
    out = tmp_path / "out"
    args = ["submit", *map(str, songs), "--server", url, "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--model", str(tiny_model_path)])
    assert result.exit_code == 0, result.output
    folders = [out / "Client Album" / "01 - Morning", out / "Client Album" / "02 - Evening"]
    for folder in folders:
        assert sorted(p.name for p in folder.iterdir()) == [
            "bass.wav",
            "drums.wav",
            "other.wav",
            "vocals.wav",
        ]
    batch_id = result.output.split("batch ", 1)[1].split()[0]
    (folders[1] / "vocals.wav").unlink()  # an interrupted download
    again = CliRunner().invoke(
        app, ["status", batch_id, "--server", url, "--wait", "--out", str(out)]
    )
    assert again.exit_code == 0, again.output
    assert (folders[1] / "vocals.wav").stat().st_size > 44
    summary = httpx.get(f"{url}/v1/batches/{batch_id}").json()
    assert_documented(httpx.get(f"{url}/openapi.json").json(), "BatchView", summary)
    assert summary["status"] == "succeeded" and summary["progress"] == 100
