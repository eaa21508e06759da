"""The reaper's decisions on job records (SQLite store; the Celery app replaced by a recorder of
sent tasks). The same reaper against real killed workers: tests/test_reliability_faults.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from stemdeck.common import celery_app
from stemdeck.common.jobs import InputInfo, Job, JobStatus, StageStatus, finish_stage, start_stage
from stemdeck.common.jobstore import SqliteJobStore
from stemdeck.common.reaper import MAX_RESTARTS, reap

pytestmark = pytest.mark.unit

STEMS = ("vocals", "drums", "bass", "other")


class SentTasks:
    """Stands in for the Celery app: records what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any]]] = []

    def send_task(self, name: str, args: list[Any], **_options: Any) -> None:
        self.sent.append((name, args))


@pytest.fixture
def store(tmp_path: Path) -> SqliteJobStore:
    return SqliteJobStore(tmp_path / "jobs.sqlite")


def running_job(store: SqliteJobStore, *done: str, running: str | None = "separate") -> Job:
    info = InputInfo(filename="a.wav", key="jobs/x/input.wav", size_bytes=1, format="WAV",
                     duration_s=30.0, channels=2, sample_rate=44100)  # fmt: skip
    job = store.create_job(Job(input=info))

    def change(record: Job) -> None:
        for name in done:
            finish_stage(record, name)
        if "separate" in done:
            record.results["stems"] = {stem: {"key": f"k/{stem}.wav"} for stem in STEMS}
        if running:
            start_stage(record, running)

    return store.update_job(job.id, change)


def test_a_quiet_running_stage_is_sent_again_and_a_busy_one_is_left(
    store: SqliteJobStore,
) -> None:
    quiet = running_job(store)
    time.sleep(0.05)
    busy = running_job(store)
    app = SentTasks()
    assert reap(app, store, stale_after_s=10, now=quiet.updated_at + 10.02) == 1
    assert app.sent == [(celery_app.SEPARATE, [quiet.id])]
    again = store.get_job(quiet.id).stages["separate"]
    assert again.status == StageStatus.PENDING and again.restarts == 1
    assert store.get_job(busy.id).stages["separate"].status == StageStatus.RUNNING


def test_only_the_stems_without_an_eq_are_sent_again(store: SqliteJobStore) -> None:
    job = running_job(store, "separate", running="eq")

    def two_done(record: Job) -> None:
        record.results["eq"] = {"vocals": {}, "bass": {}}

    store.update_job(job.id, two_done)
    app = SentTasks()
    reap(app, store, stale_after_s=1, now=time.time() + 5)
    assert app.sent == [(celery_app.EQ, [job.id, "drums"]), (celery_app.EQ, [job.id, "other"])]


def test_a_lost_fan_out_is_sent_again(store: SqliteJobStore) -> None:
    """The separator finished, then died before sending EQ and genre: no stage is running."""
    job = running_job(store, "separate", running=None)
    app = SentTasks()
    reap(app, store, stale_after_s=1, now=time.time() + 5)
    assert [name for name, _ in app.sent] == [celery_app.EQ] * 4 + [celery_app.GENRE]
    store.delete_job(job.id)
    finished = running_job(store, "separate", "eq", "genre", running=None)
    app = SentTasks()
    reap(app, store, stale_after_s=1, now=time.time() + 5)
    assert app.sent == [(celery_app.FINALIZE, [finished.id])]


def test_a_stage_that_keeps_losing_its_worker_fails_the_job_with_a_reason(
    store: SqliteJobStore,
) -> None:
    job = running_job(store)
    app = SentTasks()
    for attempt in range(MAX_RESTARTS):
        reap(app, store, stale_after_s=1, now=time.time() + 5)
        store.update_job(job.id, lambda j: start_stage(j, "separate"))  # picked up again
        assert store.get_job(job.id).stages["separate"].restarts == attempt + 1
    reap(app, store, stale_after_s=1, now=time.time() + 5)
    failed = store.get_job(job.id)
    assert failed.status == JobStatus.FAILED and failed.error is not None
    assert failed.error.stage == "separate"
    assert "stopped 4 times" in failed.error.message and "out of memory" in failed.error.message
    assert len(app.sent) == MAX_RESTARTS


def test_a_stage_no_worker_takes_up_ends_the_job_too(store: SqliteJobStore) -> None:
    job = running_job(store, "separate", "eq", running=None)
    app = SentTasks()
    for _ in range(MAX_RESTARTS + 1):
        reap(app, store, stale_after_s=1, now=time.time() + 5)
    failed = store.get_job(job.id)
    assert failed.status == JobStatus.FAILED and failed.error is not None
    assert "no genre worker took this job up" in failed.error.message


def test_a_stage_waiting_in_a_busy_queue_is_left_alone(store: SqliteJobStore) -> None:
    """After a re-send the job may wait behind other songs: that is not a lost stage."""
    job = running_job(store, "separate", running=None)
    app = SentTasks()
    reap(app, store, 1, waiting=lambda: {"eq": 3, "genre": 1}, now=time.time() + 5)
    assert app.sent == []
    assert store.get_job(job.id).stages["eq"].restarts == 0
    reap(app, store, 1, waiting=lambda: {"eq": 0, "genre": 1}, now=time.time() + 5)
    assert {name for name, _ in app.sent} == {celery_app.EQ}
