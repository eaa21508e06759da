"""The steps around the models: moving a job along its stages, the final manifest, webhooks
and expiry.

Every stage task records its result with `advance`: in the same atomic update of the record it
claims the stages that result makes ready (by the declaration in `stages`: after separation, one
EQ task per stem and the genre task; when both have succeeded, `finalize`), so exactly one task
sends each of them. `finalize` writes `manifest.json` beside the stems (the durable copy of the
record: results survive the loss of Redis) and marks the job succeeded. It, the webhooks, the
expiry cleanup and the reaper run on the coordinator worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from celery import Celery, current_app, shared_task
from kombu.exceptions import OperationalError

from stemdeck.common import celery_app
from stemdeck.common.jobs import (
    ENDED,
    Job,
    JobStatus,
    StageStatus,
    finish_stage,
    move,
    succeeded_stages,
)
from stemdeck.common.jobs import begin_stage as begin
from stemdeck.common.jobstore import JobNotFound, JobStore, JobStoreError, open_job_store
from stemdeck.common.results import put
from stemdeck.common.settings import Settings, get_settings
from stemdeck.common.stages import FINALIZE, StageSpec, due
from stemdeck.common.storage import Storage, StorageError, open_storage

log = logging.getLogger(__name__)
TRANSIENT = (StorageError, JobStoreError, ConnectionError, TimeoutError)
#: How every pipeline task retries a transient error: after 2, 4, 8, 16, 32, 60, 60, 60 s
#: (no jitter), so an outage of storage or the job store of up to four minutes is ridden out.
#: The reaper's `reap_after_s` must stay above this horizon, or it would restart a retrying stage.
RETRY_TRANSIENT: dict = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": False,
    "max_retries": 8,
}


def job_prefix(job_id: str) -> str:
    return f"jobs/{job_id}/"


def claim_ready_stages(job: Job) -> list[StageSpec]:
    """The stages `job` should send now: due (`stages.due`), still pending, never sent by the
    pipeline, and not the first stage (the API sends that). Call it inside an update of the
    record: it marks them sent there, so only one of two tasks finishing together sends them."""
    if job.status in ENDED:
        return []
    ready = [
        stage
        for stage in due(succeeded_stages(job))
        if stage.after
        and job.stages[stage.name].status == StageStatus.PENDING
        and stage.name not in job.control.sent
    ]
    job.control.sent += [stage.name for stage in ready]
    return ready


def advance(
    app: Celery, store: JobStore, job_id: str, change: Callable[[Job], object] | None = None
) -> Job:
    """Apply a task's `change` to the record and send the stages it made ready, each once for
    the job however many tasks finish together (a redelivered task calling again sends nothing
    new). A send that fails (the broker away) is logged and left to the reaper, which sends the
    due stages of a job that has gone quiet; the task's own work is done and stays done."""
    ready: list[StageSpec] = []

    def apply(job: Job) -> None:
        if change is not None:
            change(job)
        ready[:] = claim_ready_stages(job)

    job = store.update_job(job_id, apply)
    for stage in ready:
        try:
            celery_app.send_stage(app, job, stage)
        except (OperationalError, OSError):
            log.exception("job %s: %s not sent; the reaper will send it", job_id, stage.name)
    return job


def begin_stage(store: JobStore, job_id: str, stage: str, device: str | None = "cpu") -> Job:
    """Mark a stage running as its task starts (see `jobs.begin_stage`); the updated record."""
    return store.update_job(job_id, lambda job: begin(job, stage, device))


def manifest(job: Job) -> dict[str, Any]:
    """What `manifest.json` holds: the public record at the end of the job."""
    return job.public()


def finalize(
    settings: Settings, store: JobStore, storage: Storage, app: Celery, job_id: str
) -> Job:
    """Write the manifest and mark the job succeeded (idempotent: a finished job is left as is)."""
    job = begin_stage(store, job_id, FINALIZE.name, None)
    if job.status in ENDED:
        return job
    key = job_prefix(job_id) + "manifest.json"

    def succeed(record: Job) -> None:
        if record.status in ENDED:
            return
        put(record.results, "manifest", key)
        finish_stage(record, FINALIZE.name)
        move(record, JobStatus.SUCCEEDED)

    final = job.model_copy(deep=True)
    succeed(final)
    body = json.dumps(manifest(final), indent=2).encode()
    storage.put_stream(key, io.BytesIO(body), "application/json")
    job = store.update_job(job_id, succeed)
    if job.callback_url and job.status == JobStatus.SUCCEEDED:
        celery_app.send(app, celery_app.CALLBACK, [job_id])
    return job


def check_callback_url(url: str, allow_private: bool) -> str:
    """Refuse webhook targets that are not http(s) or that resolve to loopback, private,
    link-local or otherwise internal addresses (server-side request forgery)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("callback_url must be an http:// or https:// URL with a host name")
    if allow_private:
        return url
    try:
        addresses = {
            str(info[4][0]) for info in socket.getaddrinfo(parts.hostname, parts.port or 80)
        }
    except socket.gaierror:
        raise ValueError(f"callback_url host {parts.hostname!r} does not resolve") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            raise ValueError(
                f"callback_url {parts.hostname!r} resolves to {ip}, a private or loopback "
                "address; webhooks go to public hosts only"
            )
    return url


def signature(secret: str, body: bytes, timestamp: str) -> str:
    """HMAC-SHA256 over `timestamp.body`, hex; receivers recompute it to trust the call."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def post_callback(settings: Settings, store: JobStore, job_id: str) -> int:
    """POST the final record to the job's callback URL, signed; raises on failure (retried)."""
    import httpx

    job = store.get_job(job_id)
    if not job.callback_url:
        return 0
    check_callback_url(job.callback_url, settings.callback_allow_private)
    body = json.dumps(manifest(job)).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-StemDeck-Timestamp": stamp,
        "X-StemDeck-Signature": "sha256="
        + signature(settings.callback_secret.get_secret_value(), body, stamp),
    }
    response = httpx.post(job.callback_url, content=body, headers=headers, timeout=10)
    response.raise_for_status()
    return response.status_code


def delete_job(store: JobStore, storage: Storage, job_id: str) -> None:
    """Every stored object first, then the record, so nothing is left unreachable."""
    storage.delete_prefix(job_prefix(job_id))
    with contextlib.suppress(JobNotFound):
        store.delete_job(job_id)


def cleanup(store: JobStore, storage: Storage, now: float | None = None) -> int:
    """Delete expired jobs (objects and records) and expired batch records; returns the count."""
    jobs, batches = store.expired(time.time() if now is None else now)
    for job_id in jobs:
        delete_job(store, storage, job_id)
    for batch_id in batches:
        store.delete_batch(batch_id)
    if jobs:
        log.info("cleanup: removed %d expired jobs", len(jobs))
    return len(jobs)


# --- Celery tasks of the coordinator worker ---------------------------------------------------


def _context() -> tuple[Settings, JobStore, Storage]:
    settings = get_settings()
    return settings, open_job_store(settings), open_storage(settings)


@shared_task(name=FINALIZE.task, **RETRY_TRANSIENT)
def finalize_task(job_id: str) -> None:
    settings, store, storage = _context()
    try:
        finalize(settings, store, storage, current_app, job_id)
    except JobNotFound:
        log.info("finalize: job %s was deleted", job_id)


@shared_task(
    name=celery_app.CALLBACK,
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=600,
    max_retries=8,
)
def callback_task(job_id: str) -> None:
    settings, store, _ = _context()
    try:
        post_callback(settings, store, job_id)
    except (JobNotFound, ValueError) as exc:
        log.warning("callback for %s dropped: %s", job_id, exc)


@shared_task(name=celery_app.CLEANUP)
def cleanup_task() -> int:
    _, store, storage = _context()
    return cleanup(store, storage)
