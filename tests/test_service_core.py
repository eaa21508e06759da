"""The service's shared core: settings, the job state machine, storage and job-store backends,
against a real Redis server and a real S3 endpoint (moto_server) on loopback."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import httpx
import pytest

from stemdeck.common.jobs import (
    Batch,
    InvalidTransition,
    Job,
    JobStatus,
    StageStatus,
    fail,
    finish_stage,
    move,
    report_progress,
    start_stage,
)
from stemdeck.common.jobstore import (
    JobNotFound,
    JobStoreError,
    RedisJobStore,
    SqliteJobStore,
)
from stemdeck.common.settings import Settings
from stemdeck.common.storage import LocalStorage, ObjectMissing, S3Storage
from tests.servers import Server, redis_server

pytestmark = pytest.mark.service

# --- settings -------------------------------------------------------------------------------


def test_settings_come_from_stemdeck_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STEMDECK_API_KEYS", "alpha, beta,,")
    monkeypatch.setenv("STEMDECK_STORAGE", "s3")
    monkeypatch.setenv("STEMDECK_MAX_UPLOAD_MB", "1.5")
    monkeypatch.setenv("STEMDECK_S3_ENDPOINT", "")  # as a compose env file leaves it
    settings = Settings()
    assert settings.s3_endpoint is None
    assert settings.api_keys == ["alpha", "beta"]
    assert settings.storage == "s3"
    assert settings.max_upload_bytes == int(1.5 * 1024 * 1024)
    assert settings.resolved_broker_url.startswith("sqla+sqlite:///")
    monkeypatch.setenv("STEMDECK_STORAGE", "floppy")
    with pytest.raises(ValueError, match="storage"):
        Settings()


# --- the state machine ------------------------------------------------------------------------


def test_a_job_runs_its_stages_and_progress_only_grows() -> None:
    job = Job()
    assert job.status == JobStatus.QUEUED and job.progress == 0
    start_stage(job, "separate", device="cpu")
    assert job.status == JobStatus.RUNNING
    report_progress(job, "separate", 50)
    report_progress(job, "separate", 20)  # late, out-of-order report
    assert job.stages["separate"].progress == 50
    assert job.progress == 35.0
    report_progress(job, "separate", 100)
    assert job.stages["separate"].progress < 100  # 100 only when the stage has ended
    for stage in ("separate", "eq", "genre", "finalize"):
        finish_stage(job, stage)
    move(job, JobStatus.SUCCEEDED)
    assert job.progress == 100
    with pytest.raises(InvalidTransition, match="cannot become running"):
        move(job, JobStatus.RUNNING)
    with pytest.raises(InvalidTransition, match="already succeeded"):
        start_stage(job, "eq")


def test_finishing_a_stage_twice_is_harmless() -> None:
    """A redelivered task (or the reaper's re-send) may finish after its twin did."""
    job = Job()
    finish_stage(job, "genre")
    ended_at = job.stages["genre"].finished_at
    finish_stage(job, "genre")
    assert job.stages["genre"].status == StageStatus.SUCCEEDED
    assert job.stages["genre"].finished_at == ended_at


def test_a_failed_stage_fails_the_job_and_keeps_results() -> None:
    job = Job()
    finish_stage(job, "separate")
    job.results["stems"] = {"vocals": {"key": "jobs/x/stems/vocals.wav"}}
    start_stage(job, "eq")
    fail(job, "eq", "the EQ model could not be loaded")
    assert job.status == JobStatus.FAILED
    assert job.error is not None and job.error.stage == "eq"
    assert job.stages["eq"].status == StageStatus.FAILED
    assert job.stages["genre"].status == StageStatus.PENDING
    assert "vocals" in job.results["stems"]
    public = job.public()
    assert "owner" not in public and public["stages"]["separate"]["seconds"] is not None


def test_cancelling_ends_every_open_stage() -> None:
    job = Job()
    start_stage(job, "separate")
    move(job, JobStatus.CANCELLED)
    assert {s.status for s in job.stages.values()} == {StageStatus.CANCELLED}


def test_batch_summary_aggregates_its_tracks() -> None:
    done, running = Job(), Job()
    for stage in ("separate", "eq", "genre", "finalize"):
        finish_stage(done, stage)
    move(done, JobStatus.SUCCEEDED)
    start_stage(running, "separate")
    batch = Batch(job_ids=[done.id, running.id])
    summary = batch.summary([done, running])
    assert summary["status"] == "running"
    assert summary["progress"] == 50.0
    assert summary["counts"]["succeeded"] == 1


# --- storage ----------------------------------------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> LocalStorage | S3Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "objects")
    server: Server = request.getfixturevalue("s3")
    store = S3Storage(
        f"bucket-{time.monotonic_ns()}",
        server.url,
        public_endpoint=server.url,
        access_key="test",
        secret_key="test",
    )
    store.ensure_bucket()
    return store


def test_objects_round_trip_with_ranges(storage: LocalStorage | S3Storage, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 5000
    assert storage.put_stream("jobs/a/input/song.wav", io.BytesIO(payload)) == len(payload)
    source = tmp_path / "stem.wav"
    source.write_bytes(b"RIFF" + b"x" * 100)
    storage.put_file("jobs/a/stems/vocals.wav", source, "audio/wav")
    assert storage.size("jobs/a/input/song.wav") == len(payload)
    assert b"".join(storage.open_range("jobs/a/input/song.wav", 10, 19)) == payload[10:20]
    assert b"".join(storage.open_range("jobs/a/input/song.wav", 1_000_000)) == payload[1_000_000:]
    assert storage.list("jobs/a/") == ["jobs/a/input/song.wav", "jobs/a/stems/vocals.wav"]
    copy = tmp_path / "copy.wav"
    storage.get_file("jobs/a/stems/vocals.wav", copy)
    assert copy.read_bytes() == source.read_bytes()
    assert storage.delete_prefix("jobs/a/") == 2
    assert storage.list("jobs/a/") == [] and not storage.exists("jobs/a/stems/vocals.wav")
    with pytest.raises(ObjectMissing):
        storage.size("jobs/a/stems/vocals.wav")
    with pytest.raises(ValueError, match="invalid storage key"):
        storage.put_stream("jobs/../../etc/passwd", io.BytesIO(b"x"))


def test_a_failed_upload_leaves_no_object(storage: LocalStorage | S3Storage) -> None:
    class Broken(io.RawIOBase):
        sent = 0

        def read(self, size: int = -1) -> bytes:
            self.sent += 1
            if self.sent > 3:
                raise OSError("client went away")
            return b"x" * 1024

    with pytest.raises(OSError, match="client went away"):
        storage.put_stream("jobs/b/input/song.wav", Broken())
    assert storage.list("jobs/b/") == []


def test_presigned_urls_serve_the_object(s3: Server) -> None:
    store = S3Storage("presign", s3.url, public_endpoint=s3.url, access_key="k", secret_key="s")
    store.ensure_bucket()
    store.put_stream("jobs/c/stems/bass.wav", io.BytesIO(b"bass bytes"))
    url = store.presigned_url("jobs/c/stems/bass.wav", 60)
    assert url is not None and "Signature" in url
    assert httpx.get(url).content == b"bass bytes"
    assert LocalStorage(Path("/tmp")).presigned_url("x") is None


# --- job stores -------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SqliteJobStore | RedisJobStore:
    if request.param == "sqlite":
        return SqliteJobStore(tmp_path / "jobs.sqlite")
    server: Server = request.getfixturevalue("redis")
    return RedisJobStore(server.url, prefix=f"t{time.monotonic_ns()}")


def test_records_are_created_listed_and_deleted(store: SqliteJobStore | RedisJobStore) -> None:
    jobs = [Job(owner="alice", created_at=1000 + i, expires_at=5000 + i) for i in range(5)]
    for job in jobs:
        store.create_job(job)
    store.create_job(Job(owner="bob"))
    page, total = store.list_jobs("alice", offset=1, limit=2)
    assert total == 5
    assert [j.id for j in page] == [jobs[3].id, jobs[2].id]  # newest first
    assert store.get_job(jobs[0].id).owner == "alice"
    store.delete_job(jobs[0].id)
    with pytest.raises(JobNotFound):
        store.get_job(jobs[0].id)
    assert store.list_jobs("alice")[1] == 4
    batch = store.create_batch(Batch(owner="alice", job_ids=[j.id for j in jobs], expires_at=50))
    assert store.get_batch(batch.id).job_ids == batch.job_ids
    expired_jobs, expired_batches = store.expired(now=5002.5)
    assert sorted(expired_jobs) == sorted(j.id for j in jobs[1:3])
    assert expired_batches == [batch.id]
    store.delete_batch(batch.id)
    with pytest.raises(JobNotFound):
        store.get_batch(batch.id)


def test_stalled_lists_running_jobs_not_updated_since(
    store: SqliteJobStore | RedisJobStore,
) -> None:
    """The reaper's query: running, and quiet since before the cut-off; nothing else."""
    quiet, busy, queued, ended = (store.create_job(Job()) for _ in range(4))
    for job in (quiet, busy, ended):
        store.update_job(job.id, lambda j: start_stage(j, "separate"))
    store.update_job(ended.id, lambda j: fail(j, "separate", "broken"))
    cut = time.time() + 0.05
    time.sleep(0.1)
    store.update_job(busy.id, lambda j: report_progress(j, "separate", 50))
    assert store.stalled(cut) == [quiet.id]
    assert queued.id not in store.stalled(time.time() + 1)
    store.delete_job(quiet.id)
    assert store.stalled(cut) == []


def test_parallel_updates_are_never_lost(store: SqliteJobStore | RedisJobStore) -> None:
    job = store.create_job(Job())

    def bump(record: Job) -> None:
        record.results["count"] = record.results.get("count", 0) + 1

    def worker() -> None:
        for _ in range(25):
            store.update_job(job.id, bump)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get_job(job.id).results["count"] == 150


def test_a_change_that_raises_writes_nothing(store: SqliteJobStore | RedisJobStore) -> None:
    job = store.create_job(Job())

    def half_done(record: Job) -> None:
        record.results["partial"] = True
        move(record, JobStatus.SUCCEEDED)  # queued jobs cannot succeed: raises

    with pytest.raises(InvalidTransition):
        store.update_job(job.id, half_done)
    kept = store.get_job(job.id)
    assert kept.status == JobStatus.QUEUED and "partial" not in kept.results
    with pytest.raises(JobNotFound):
        store.update_job("job_missing", lambda j: None)


def test_an_unreachable_redis_is_a_clear_error(tmp_path: Path) -> None:
    with redis_server(tmp_path / "r") as server:
        url = server.url
    store = RedisJobStore(url)
    with pytest.raises(JobStoreError, match="unreachable"):
        store.check()
