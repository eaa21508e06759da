"""The separator worker as a real Celery process on Redis, with stems going to moto's S3."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_client

from stemdeck.common import celery_app
from stemdeck.common.jobs import InputInfo, Job, JobOptions, JobStatus, StageStatus
from stemdeck.common.settings import Settings
from tests.servers import Server
from tests.service_env import ServiceEnv, service_env, wait_for

pytestmark = pytest.mark.service


@pytest.fixture
def service(tmp_path: Path, redis: Server, s3: Server) -> Iterator[ServiceEnv]:
    with service_env(tmp_path / "data", redis.url, s3.url) as env:
        yield env


def submit(service: ServiceEnv, song: Path, model: Path, **options: str) -> Job:
    """What the API does: store the input, create the record, enqueue the separation."""
    storage, store = service.storage(), service.store()
    job = Job(options=JobOptions(model=str(model), **options))
    key = f"jobs/{job.id}/input/{song.name}"
    storage.put_stream(key, io.BytesIO(song.read_bytes()))
    job.input = InputInfo(
        filename=song.name, key=key, size_bytes=song.stat().st_size, format="WAV",
        duration_s=3.0, channels=2, sample_rate=44100,
    )  # fmt: skip
    store.create_job(job)
    settings: Settings = service.settings()
    celery_app.send(celery_app.make_app(settings), celery_app.SEPARATE, [job.id], 3.0)
    return job


@pytest.mark.slow
def test_worker_separates_stores_stems_and_fans_out(
    service: ServiceEnv, song_wav: Path, tiny_model_path: Path, redis: Server
) -> None:
    service.start_worker("separate")
    job = submit(service, song_wav, tiny_model_path)
    done = wait_for(
        service.store(), job.id, lambda j: j.stages["separate"].status != StageStatus.PENDING
        and j.stages["separate"].status != StageStatus.RUNNING,
    )  # fmt: skip
    assert done.stages["separate"].status == StageStatus.SUCCEEDED, service.worker_logs()
    assert done.status == JobStatus.RUNNING  # EQ and genre still to come
    assert done.stages["separate"].device == "cpu"
    stems = done.results["stems"]
    assert set(stems) == {"drums", "bass", "other", "vocals"}
    storage = service.storage()
    for name, stem in stems.items():
        assert stem["key"] == f"jobs/{job.id}/stems/{name}.wav"
        assert storage.size(stem["key"]) == stem["bytes"]
        assert stem["peak_dbfs"] is not None and stem["peak_dbfs"] <= 6
    client = redis_client.Redis.from_url(redis.url)
    assert client.llen("eq") == 4 and client.llen("genre") == 1


@pytest.mark.slow
def test_an_unreadable_input_fails_the_job_with_a_message(
    service: ServiceEnv, tmp_path: Path, tiny_model_path: Path
) -> None:
    service.start_worker("separate")
    fake = tmp_path / "notes.wav"
    fake.write_text("these are not audio samples " * 100)
    job = submit(service, fake, tiny_model_path)
    failed = wait_for(service.store(), job.id, lambda j: j.status == JobStatus.FAILED)
    assert failed.error is not None and failed.error.stage == "separate"
    assert "notes.wav" in failed.error.message or "input" in failed.error.message
    assert "Traceback" not in failed.error.message
