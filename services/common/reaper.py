"""Jobs whose worker vanished: find them, send their work again, give up after a few tries.

Late acknowledgement makes the broker redeliver a task when a pool process dies, but a whole
worker killed (the OOM killer, SIGKILL, a lost machine) leaves its task unacknowledged until
Redis' visibility timeout (an hour), and the job would look "running" all that time. So a
periodic task looks for running jobs whose record has not changed for `reap_after_s` (the
separator writes progress every half second; EQ and genre tasks take seconds), and for each:
- a stage left running is marked pending again (`jobs.restart_stage`) and its tasks are sent
  again by the stage's fan-out rule (`stages`; they are
  idempotent, so a late redelivery of the original is harmless); after MAX_RESTARTS of those
  the job fails with a message instead of looping on a song that kills its worker;
- a job with no stage running (a worker died between finishing one stage and sending the
  next) gets its next stages sent again, under the same limit — unless their queue holds
  messages: then the job is just waiting its turn (behind its own re-send, perhaps).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from celery import Celery, current_app, shared_task

from stemdeck.common import celery_app
from stemdeck.common.broker import queue_depths
from stemdeck.common.jobs import ENDED, Job, StageStatus, fail, restart_stage, succeeded_stages
from stemdeck.common.jobstore import JobNotFound, JobStore, open_job_store
from stemdeck.common.settings import get_settings
from stemdeck.common.stages import BY_NAME, due

log = logging.getLogger(__name__)
#: Restarts of one stage before the job is failed.
MAX_RESTARTS = 3


def next_stages(job: Job) -> list[str]:
    """The stages that should be under way: those whose inputs exist but that have not ended."""
    return [stage.name for stage in due(succeeded_stages(job))]


def send_stage(app: Celery, job: Job, stage: str) -> None:
    """Send the task(s) doing `stage` of `job`: per stem, only those still without a result."""
    celery_app.send_stage(app, job, BY_NAME[stage])


def reap(
    app: Celery,
    store: JobStore,
    stale_after_s: float,
    waiting: Callable[[], dict[str, int]] = dict,
    now: float | None = None,
) -> int:
    """Restart or fail the stalled jobs; returns how many were touched. `waiting` gives the
    messages waiting per queue: a stage not running whose queue is not empty is only waiting
    its turn (perhaps behind its own earlier re-send), and is left alone."""
    now = time.time() if now is None else now
    stalled = store.stalled(now - stale_after_s)
    busy = {queue for queue, count in waiting().items() if count > 0} if stalled else set()
    touched = 0
    for job_id in stalled:
        actions: list[str] = []

        def restart(job: Job, actions: list[str] = actions) -> None:
            _restart(job, actions, now - stale_after_s, busy)

        try:
            job = store.update_job(job_id, restart)
        except JobNotFound:
            continue
        resend = [a for a in actions if a != "failed"]
        for stage in resend:
            send_stage(app, job, stage)
        if actions:
            touched += 1
            log.warning("reaper: job %s had stalled; %s", job_id, ", ".join(actions))
    return touched


def _restart(job: Job, actions: list[str], stale_before: float, busy: set[str]) -> None:
    """The record change for one stalled job; `actions` gets the stages to send (or 'failed')."""
    actions.clear()
    if job.status in ENDED or job.updated_at >= stale_before:
        return  # ended or moved on since the scan
    running = [name for name, stage in job.stages.items() if stage.status == StageStatus.RUNNING]
    orphaned = [name for name in next_stages(job) if BY_NAME[name].queue not in busy]
    for name in running or orphaned:
        stage, role = job.stages[name], BY_NAME[name].queue
        if stage.restarts >= MAX_RESTARTS:
            tries = f"{stage.restarts + 1} times"
            if name in running:
                why = f"the {role} worker stopped {tries} while working on this song (killed, or "
                why += "out of memory?); giving up"
            else:
                why = f"no {role} worker took this job up ({tries} asked); is one running?"
            fail(job, name, why)
            actions[:] = ["failed"]
            return
        restart_stage(job, name)
        actions.append(name)


@shared_task(name=celery_app.REAP)
def reap_task() -> int:
    settings = get_settings()
    url = settings.resolved_broker_url
    return reap(
        current_app, open_job_store(settings), settings.reap_after_s, lambda: queue_depths(url)
    )
