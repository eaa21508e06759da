"""The pipeline as data (stemdeck.common.stages) and its readers: the record's stage list, the
Celery routes and roles, the fan-out and fan-in (`pipeline.advance`), the state machine's
`begin_stage` / `restart_stage`, and the bookkeeping in `Job.control` (records stored with the
old flags in `results` still load), on both job-store backends."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from stemdeck.api.context import job_view
from stemdeck.common import celery_app, stages
from stemdeck.common.jobs import (
    STAGE_WEIGHTS,
    InputInfo,
    InvalidTransition,
    Job,
    JobStatus,
    StageStatus,
    begin_stage,
    fail,
    finish_stage,
    restart_stage,
    start_stage,
)
from stemdeck.common.jobstore import RedisJobStore, SqliteJobStore
from stemdeck.common.pipeline import advance, manifest
from tests.servers import Server

pytestmark = pytest.mark.service

STEMS = ("vocals", "drums", "bass", "other")


class SentTasks:
    """Stands in for the Celery app: records what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any], str]] = []

    def send_task(self, name: str, args: list[Any], queue: str, **_options: Any) -> None:
        self.sent.append((name, args, queue))


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SqliteJobStore | RedisJobStore:
    if request.param == "sqlite":
        return SqliteJobStore(tmp_path / "jobs.sqlite")
    server: Server = request.getfixturevalue("redis")
    return RedisJobStore(server.url, prefix=f"t{time.monotonic_ns()}")


def new_job(store: SqliteJobStore | RedisJobStore) -> Job:
    info = InputInfo(filename="a.wav", key="jobs/x/input.wav", size_bytes=1, format="WAV",
                     duration_s=30.0, channels=2, sample_rate=44100)  # fmt: skip
    return store.create_job(Job(input=info))


def test_everything_reads_one_declaration() -> None:
    assert list(Job().stages) == [stage.name for stage in stages.STAGES]
    assert {stage.name: stage.weight for stage in stages.STAGES} == STAGE_WEIGHTS
    assert abs(sum(STAGE_WEIGHTS.values()) - 1) < 1e-9
    for stage in stages.STAGES:
        assert celery_app.ROUTES[stage.task] == stage.queue
        assert stage.module in celery_app.ROLE_MODULES[stage.queue]
        assert celery_app.time_limits(stage.task, 10.0) == stage.time_limits(10.0)
    assert set(celery_app.QUEUES) == {s.queue for s in stages.STAGES} | {stages.COORDINATOR}
    # the coordinator holds the final step and the housekeeping; the model workers only models
    for task in (celery_app.FINALIZE, celery_app.CALLBACK, celery_app.CLEANUP, celery_app.REAP):
        assert celery_app.ROUTES[task] == stages.COORDINATOR
    assert celery_app.ROLE_MODULES[stages.EQ.queue] == [stages.EQ.module]
    assert "stemdeck.common.reaper" in celery_app.ROLE_MODULES[stages.COORDINATOR]
    assert [s.name for s in stages.due(set())] == [stages.SEPARATE.name]
    after_separation = stages.due({stages.SEPARATE.name})
    assert [s.name for s in after_separation] == [stages.EQ.name, stages.GENRE.name]
    everything_but_last = {s.name for s in stages.STAGES[:-1]}
    assert stages.due(everything_but_last) == [stages.FINALIZE]


def test_advance_sends_the_fan_out_once_and_the_fan_in_once(
    store: SqliteJobStore | RedisJobStore,
) -> None:
    job = new_job(store)
    app = SentTasks()

    def separated(record: Job) -> None:
        finish_stage(record, stages.SEPARATE.name)
        record.results["stems"] = {stem: {"key": f"k/{stem}.wav"} for stem in STEMS}

    advance(app, store, job.id, separated)
    eq, genre = stages.EQ, stages.GENRE
    assert app.sent == [
        *((eq.task, [job.id, stem], eq.queue) for stem in STEMS),
        (genre.task, [job.id], genre.queue),
    ]
    advance(app, store, job.id)  # a redelivered separation task
    assert len(app.sent) == len(STEMS) + 1

    def eq_done(stem: str, last: bool) -> Any:
        def change(record: Job) -> None:
            record.results.setdefault(eq.name, {})[stem] = {"gains_db": {}}
            if last:
                finish_stage(record, eq.name)

        return change

    app.sent.clear()
    for number, stem in enumerate(STEMS):
        advance(app, store, job.id, eq_done(stem, number == len(STEMS) - 1))
    assert app.sent == []  # genre still running
    record = advance(app, store, job.id, lambda r: finish_stage(r, genre.name))
    final = stages.FINALIZE
    assert app.sent == [(final.task, [job.id], final.queue)]
    advance(app, store, job.id, lambda r: finish_stage(r, genre.name))
    assert len(app.sent) == 1  # a genre task redelivered after it finished sends nothing
    assert record.control.sent == [eq.name, genre.name, final.name]
    for view in (record.public(), job_view(record), manifest(record)):
        assert "control" not in view and not {"fanout_sent", "finalize_sent"} & set(view["results"])


def test_a_failed_job_sends_nothing_more(store: SqliteJobStore | RedisJobStore) -> None:
    job = new_job(store)
    app = SentTasks()
    store.update_job(job.id, lambda r: fail(r, stages.SEPARATE.name, "broken input"))
    advance(app, store, job.id, lambda r: None)
    assert app.sent == []


def test_records_with_the_old_flags_in_results_still_load(
    store: SqliteJobStore | RedisJobStore,
) -> None:
    """Records written before `Job.control`: the flags move there on read, and stay there."""
    job = new_job(store)
    old = json.loads(job.model_dump_json(exclude={"control"}))
    old["results"] = {
        "stems": {"vocals": {"key": "k"}},
        "fanout_sent": True,
        "parts_done": ["genre"],
    }
    raw = json.dumps(old)
    if isinstance(store, SqliteJobStore):
        store._connection().execute("UPDATE jobs SET data = ? WHERE id = ?", (raw, job.id))
    else:
        store.redis.set(store._key("job", job.id), raw)
    loaded = store.get_job(job.id)
    assert loaded.results == {"stems": {"vocals": {"key": "k"}}}
    assert loaded.control.sent == [stages.EQ.name, stages.GENRE.name]
    store.update_job(job.id, lambda r: None)
    assert store.get_job(job.id).control.sent == [stages.EQ.name, stages.GENRE.name]
    finished = Job.model_validate({**old, "results": {"finalize_sent": True, "fanout_sent": True}})
    assert finished.results == {}
    assert finished.control.sent == [stages.EQ.name, stages.GENRE.name, stages.FINALIZE.name]


def test_stages_start_and_restart_only_through_the_state_machine() -> None:
    job = Job()
    begin_stage(job, stages.SEPARATE.name, "cpu")
    assert job.status == JobStatus.RUNNING
    first = job.stages[stages.SEPARATE.name]
    started = first.started_at
    begin_stage(job, stages.SEPARATE.name, "cuda:0")  # a redelivered task: still running
    assert first.status == StageStatus.RUNNING and first.started_at == started
    assert first.device == "cuda:0"
    restart_stage(job, stages.SEPARATE.name)
    assert first.status == StageStatus.PENDING and first.restarts == 1
    start_stage(job, stages.SEPARATE.name)
    finish_stage(job, stages.SEPARATE.name)
    with pytest.raises(InvalidTransition, match="already succeeded"):
        restart_stage(job, stages.SEPARATE.name)
    begin_stage(job, stages.SEPARATE.name)  # an ended stage is left alone
    assert first.status == StageStatus.SUCCEEDED
    fail(job, stages.GENRE.name, "no model")
    begin_stage(job, stages.EQ.name)  # an ended job too
    assert job.stages[stages.EQ.name].status == StageStatus.PENDING
    with pytest.raises(InvalidTransition, match="already failed"):
        restart_stage(job, stages.EQ.name)
