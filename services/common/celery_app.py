"""The Celery application every StemDeck process shares: broker, queues, task names, reliability.

Services never import each other's task code: they send tasks by name (`send`). A worker
imports only its own task module (`stemdeck worker separate` loads the separator, not TensorFlow).

Reliability settings, and why:
- `acks_late` + `reject_on_worker_lost`: a task is acknowledged after it finishes, so when a
  worker dies mid-song the broker redelivers the task to another worker.
- prefetch 1: a worker holds only the task it runs; a long song does not keep others waiting.
- time limits scale with the song's length (`time_limits`), so a stuck task ends in a clear
  failure instead of a job that looks running forever.
- tasks are idempotent (each checks the job record before working), so redelivery is safe.
- each pool process loads its models when it starts (`warm_up_guarded`), so no job pays for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from celery import Celery
from kombu import Queue

from stemdeck.common import stages
from stemdeck.common.jobs import Job
from stemdeck.common.settings import Settings, get_settings
from stemdeck.common.stages import COORDINATOR, StageSpec

#: Task names of the stages (declared in `stages`), for code that sends one by name.
SEPARATE, EQ, GENRE = stages.SEPARATE.task, stages.EQ.task, stages.GENRE.task
FINALIZE = stages.FINALIZE.task
#: The coordinator's tasks that are no stage of a job: webhooks, expiry, the reaper.
CALLBACK, CLEANUP, REAP = "stemdeck.callback", "stemdeck.cleanup", "stemdeck.reap"
_DUTIES = {
    CALLBACK: "stemdeck.common.pipeline",
    CLEANUP: "stemdeck.common.pipeline",
    REAP: "stemdeck.common.reaper",
}
#: Which queue each task goes to: each stage's own, the rest to the coordinator.
ROUTES: dict[str, str] = {stage.task: stage.queue for stage in stages.STAGES}
ROUTES |= dict.fromkeys(_DUTIES, COORDINATOR)
#: Every queue, and so every worker role (`stemdeck worker ROLE` consumes queue ROLE).
QUEUES: tuple[str, ...] = tuple(dict.fromkeys(ROUTES.values()))


def _role_modules() -> dict[str, list[str]]:
    modules: dict[str, list[str]] = {queue: [] for queue in QUEUES}
    for task, module in [*((s.task, s.module) for s in stages.STAGES), *_DUTIES.items()]:
        if module not in modules[ROUTES[task]]:
            modules[ROUTES[task]].append(module)
    return modules


#: Task modules per worker role; each worker imports only its own.
ROLE_MODULES = _role_modules()


#: Seconds between polls of an empty queue on an SQL broker (kombu's default, 1 s, would add
#: up to a second to every hop of the embedded pipeline).
SQLA_POLLING_INTERVAL = 0.15


def _transport_options(broker_url: str) -> dict[str, Any]:
    if broker_url.startswith(("sqla+", "sqlalchemy+")):
        # kombu's own sqla transport passes options to create_engine and breaks; use ours.
        from kombu.transport import TRANSPORT_ALIASES

        fixed = "stemdeck.common.sqla_broker:Transport"
        TRANSPORT_ALIASES.update(sqla=fixed, sqlalchemy=fixed)
        return {"polling_interval": SQLA_POLLING_INTERVAL}
    # Redis redelivers unacknowledged tasks after this; longer than the longest task.
    return {"visibility_timeout": 4 * 3600}


#: Seconds a new worker process may spend loading its models before Celery gives up on it.
WARM_UP_LIMIT_S = 120.0


def warm_up_guarded(role: str, warm_up: Callable[[], None]) -> None:
    """Run a worker process's warm-up; a failure is logged, never fatal (the first task then
    loads what it needs itself, and reports a real problem in its job record)."""
    started = time.monotonic()
    try:
        warm_up()
    except Exception:
        logging.getLogger(__name__).exception("%s worker: warm-up failed", role)
        return
    logging.getLogger(__name__).info(
        "%s worker: warmed up in %.1f s", role, time.monotonic() - started
    )


def make_app(settings: Settings | None = None, include: list[str] | None = None) -> Celery:
    """A Celery app on the configured broker (Redis, or SQLite in embedded mode)."""
    settings = settings or get_settings()
    if settings.broker_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    transport_options = _transport_options(settings.resolved_broker_url)
    app = Celery("stemdeck", broker=settings.resolved_broker_url, include=include or [])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_queues=[Queue(name) for name in QUEUES],
        task_routes={name: {"queue": queue} for name, queue in ROUTES.items()},
        task_default_queue=COORDINATOR,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options=transport_options,
        worker_hijack_root_logger=False,
        # A pool process loads its models before it takes a task (see each task module's
        # warm_up): allow for that instead of Celery's 4 s start-up limit.
        worker_proc_alive_timeout=WARM_UP_LIMIT_S,
        beat_schedule={
            "cleanup-expired-jobs": {"task": CLEANUP, "schedule": settings.cleanup_every_s},
            "reap-stalled-jobs": {"task": REAP, "schedule": settings.reap_every_s},
        },
    )
    return app


def time_limits(task: str, audio_seconds: float) -> tuple[float, float]:
    """(soft, hard) seconds for a task on a song of this length: a stage's own limits (see
    `StageSpec.time_limits`), one minute and a half-second per second of song for the rest."""
    stage = stages.BY_TASK.get(task)
    if stage is not None:
        return stage.time_limits(audio_seconds)
    soft = 60 + 0.5 * audio_seconds
    return soft, soft + 60


def send(app: Celery, task: str, args: list[Any], audio_seconds: float = 0.0) -> None:
    """Enqueue a task by name on its queue, with time limits scaled to the song."""
    soft, hard = time_limits(task, audio_seconds)
    app.send_task(task, args=args, queue=ROUTES[task], soft_time_limit=soft, time_limit=hard)


def send_stage(app: Celery, job: Job, stage: StageSpec) -> int:
    """Send the tasks doing `stage` of `job` by its fan-out rule: one per job, or one per stem
    whose result is not in the record yet. Returns how many were sent."""
    seconds = job.input.duration_s if job.input else 0.0
    if not stage.per_stem:
        send(app, stage.task, [job.id], seconds)
        return 1
    done = job.results.get(stage.name) or {}
    stems = [stem for stem in job.results.get("stems") or {} if stem not in done]
    for stem in stems:
        send(app, stage.task, [job.id, stem], seconds)
    return len(stems)
