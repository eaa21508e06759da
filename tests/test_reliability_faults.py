"""Faults with real processes on loopback (Redis, moto S3, Celery workers): workers killed with
SIGKILL mid-job. Nothing may be lost, duplicated or left "running"; the reaper
(stemdeck.common.reaper, on the eq worker's scheduler) sends the orphaned stages again."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import soundfile as sf

from stemdeck.common.jobs import ENDED, Job, JobStatus, StageStatus
from stemdeck.common.jobstore import JobStore
from tests.api_env import api_thread, poll, song_file
from tests.servers import moto_server, redis_server
from tests.service_env import ServiceEnv, service_env

SONG_SECONDS = 20.0
STEM_NAMES = ("vocals", "drums", "bass", "other")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[ServiceEnv]:
    """Every role running, with a reaper that calls a stage lost after 3 quiet seconds."""
    with (
        redis_server(tmp_path / "redis") as redis,
        moto_server() as s3,
        service_env(tmp_path / "data", redis.url, s3.url) as env,
    ):
        env.env.update(STEMDECK_REAP_AFTER_S="3", STEMDECK_REAP_EVERY_S="1")
        env.storage()
        for role, extra in (("separate", ()), ("eq", ("--beat",)), ("genre", ())):
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


def submit_songs(url: str, tmp_path: Path, count: int, model: Path) -> list[str]:
    ids = []
    with httpx.Client(base_url=url, timeout=60) as api:
        for number in range(count):
            song = song_file(tmp_path / f"song-{number}.wav", seconds=SONG_SECONDS, seed=number)
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


def assert_complete_and_single(stack: ServiceEnv, job: Job) -> None:
    """Exactly the input, four stems and the manifest; every stem whole."""
    storage = stack.storage()
    prefix = f"jobs/{job.id}/"
    expected = {job.input.key if job.input else "", f"{prefix}manifest.json"}
    expected |= {f"{prefix}stems/{stem}.wav" for stem in STEM_NAMES}
    assert sorted(storage.list(prefix)) == sorted(expected)
    for stem in STEM_NAMES:
        data = b"".join(storage.open_range(f"{prefix}stems/{stem}.wav"))
        frames = sf.info(io.BytesIO(data)).frames
        assert frames == round(SONG_SECONDS * 44100), (job.id, stem, frames)


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
