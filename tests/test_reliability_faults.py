"""Faults with real processes on loopback (Redis with append-only persistence, moto S3, Celery
workers): workers killed with SIGKILL mid-job, Redis restarted mid-album, the S3 endpoint gone
for 20 s mid-job. Nothing may be lost,
duplicated or left "running"; the reaper (stemdeck.common.reaper, on the coordinator worker's
scheduler) sends orphaned stages again."""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import soundfile as sf

from stemdeck.common.jobs import ENDED, Job, JobStatus, StageStatus
from stemdeck.common.jobstore import JobStore
from tests.api_env import api_thread, poll, song_file
from tests.servers import Server, moto_server, redis_server, tcp_proxy
from tests.service_env import ServiceEnv, service_env

pytestmark = pytest.mark.service

SONG_SECONDS = 20.0
#: Every worker role, the coordinator with the scheduler (the reaper).
ROLES = (("separate", ()), ("eq", ()), ("genre", ()), ("coordinator", ("--beat",)))
STEM_NAMES = ("vocals", "drums", "bass", "other")


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Server]:
    with redis_server(tmp_path / "redis", append_only=True) as server:
        yield server


@pytest.fixture
def stack(tmp_path: Path, redis: Server) -> Iterator[ServiceEnv]:
    """Every role running, with a reaper that calls a stage lost after 3 quiet seconds."""
    with moto_server() as s3, service_env(tmp_path / "data", redis.url, s3.url) as env:
        env.env.update(STEMDECK_REAP_AFTER_S="3", STEMDECK_REAP_EVERY_S="1")
        env.storage()
        for role, extra in ROLES:
            env.start_worker(role, *extra)
        yield env


def kill_hard(process: subprocess.Popen) -> None:
    """SIGKILL the worker and its pool children at once, as the OOM killer would."""
    tree = psutil.Process(process.pid)
    for member in [*tree.children(recursive=True), tree]:
        member.kill()
    process.wait(10)


def live_worker(stack: ServiceEnv, role: str) -> subprocess.Popen:
    return next(w for w in stack.workers if w.args[4] == role and w.poll() is None)


def stage_running(store: JobStore, ids: list[str], stage: str, spared: list[str]) -> str | None:
    """A job (not in `spared`) in the early part of `stage`, if any."""
    for job_id in ids:
        current = store.get_job(job_id).stages[stage]
        if job_id not in spared and current.status == StageStatus.RUNNING and current.progress < 50:
            return job_id
    return None


def submit_songs(
    url: str, tmp_path: Path, count: int, model: Path, seconds: float = SONG_SECONDS
) -> list[str]:
    ids = []
    with httpx.Client(base_url=url, timeout=60) as api:
        for number in range(count):
            song = song_file(tmp_path / f"song-{number}.wav", seconds=seconds, seed=number)
            with song.open("rb") as handle:
                answer = api.post(
                    "/v1/jobs", files={"file": (song.name, handle)}, data={"model": str(model)}
                )
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])
    return ids


def wait_all_ended(store: JobStore, ids: list[str], seconds: float) -> dict[str, Job]:
    return {
        job_id: poll(lambda j=job_id: store.get_job(j), lambda job: job.status in ENDED, seconds)
        for job_id in ids
    }


def assert_complete_and_single(stack: ServiceEnv, job: Job, seconds: float = SONG_SECONDS) -> None:
    """Exactly the input, four stems and the manifest; every stem whole."""
    storage = stack.storage()
    prefix = f"jobs/{job.id}/"
    expected = {job.input.key if job.input else "", f"{prefix}manifest.json"}
    expected |= {f"{prefix}stems/{stem}.wav" for stem in STEM_NAMES}
    assert sorted(storage.list(prefix)) == sorted(expected)
    for stem in STEM_NAMES:
        data = b"".join(storage.open_range(f"{prefix}stems/{stem}.wav"))
        frames = sf.info(io.BytesIO(data)).frames
        assert frames == round(seconds * 44100), (job.id, stem, frames)


@pytest.mark.slow
def test_the_separator_killed_twice_while_ten_jobs_run_loses_nothing(
    stack: ServiceEnv, tiny_model_path: Path, tmp_path: Path
) -> None:
    store = stack.store()
    with api_thread(stack.settings()) as url:
        ids = submit_songs(url, tmp_path, 10, tiny_model_path)
        victims: list[str] = []
        for _ in range(2):
            victims.append(poll(lambda: stage_running(store, ids, "separate", victims), bool, 120))
            kill_hard(live_worker(stack, "separate"))
            stack.start_worker("separate")  # what a supervisor (serve, compose) does
        jobs = wait_all_ended(store, ids, 300)
    failed = {i: j.error for i, j in jobs.items() if j.status != JobStatus.SUCCEEDED}
    assert failed == {}, (failed, stack.worker_logs()[-4000:])
    for victim in victims:
        assert jobs[victim].stages["separate"].restarts >= 1, jobs[victim].stages
    for job in jobs.values():
        assert_complete_and_single(stack, job)


@pytest.mark.slow
def test_a_genre_worker_killed_mid_song_is_replaced_and_the_job_ends(
    stack: ServiceEnv, tiny_model_path: Path, tmp_path: Path
) -> None:
    store = stack.store()
    with api_thread(stack.settings()) as url:
        (job_id,) = submit_songs(url, tmp_path, 1, tiny_model_path, seconds=60.0)
        poll(lambda: stage_running(store, [job_id], "genre", []), bool, 120, every=0.02)
        kill_hard(live_worker(stack, "genre"))
        stack.start_worker("genre")
        (job,) = wait_all_ended(store, [job_id], 180).values()
    assert job.status == JobStatus.SUCCEEDED, (job.error, stack.worker_logs()[-4000:])
    assert job.stages["genre"].restarts >= 1 and job.results["genre"]["label"]
    assert_complete_and_single(stack, job, seconds=60.0)


@pytest.mark.slow
def test_redis_restarted_during_an_album_loses_no_job(
    stack: ServiceEnv, redis: Server, tiny_model_path: Path, tmp_path: Path
) -> None:
    """Queues, unacknowledged tasks and records survive in the append-only file; workers
    reconnect; a task that hit the outage retries."""
    store = stack.store()
    with api_thread(stack.settings()) as url:
        ids = submit_songs(url, tmp_path, 3, tiny_model_path)
        poll(lambda: stage_running(store, ids, "separate", []), bool, 120, every=0.05)
        redis.restart(down_seconds=2.0)
        jobs = wait_all_ended(store, ids, 300)
    failed = {i: j.error for i, j in jobs.items() if j.status != JobStatus.SUCCEEDED}
    assert failed == {}, (failed, stack.worker_logs()[-4000:])
    for job in jobs.values():
        assert_complete_and_single(stack, job)


@pytest.mark.slow
def test_a_job_rides_out_twenty_seconds_without_s3(
    tmp_path: Path, redis: Server, tiny_model_path: Path
) -> None:
    """Storage calls fail while the endpoint is away; the task retries with backoff and the job
    succeeds. (The reaper waits longer than the retries here, as its default does.)"""
    with (
        moto_server() as s3,
        tcp_proxy(s3.port) as endpoint,
        service_env(tmp_path / "data", redis.url, endpoint.url) as stack,
    ):
        stack.env.update(STEMDECK_REAP_AFTER_S="300")
        stack.storage()
        for role, extra in ROLES:
            stack.start_worker(role, *extra)
        store = stack.store()
        with api_thread(stack.settings()) as url:
            (job_id,) = submit_songs(url, tmp_path, 1, tiny_model_path)
            poll(lambda: stage_running(store, [job_id], "separate", []), bool, 120, every=0.02)
            endpoint.down()
            time.sleep(20)
            endpoint.up()
            (job,) = wait_all_ended(store, [job_id], 300).values()
        assert job.status == JobStatus.SUCCEEDED, (job.error, stack.worker_logs()[-4000:])
        assert "Retry in" in stack.worker_logs()  # the outage was felt, and retried
        assert_complete_and_single(stack, job)
