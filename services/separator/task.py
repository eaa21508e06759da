"""The separator worker's Celery task: input from storage, stems to storage, progress to the job.

The model is loaded once per worker process and reused. Progress is written to the job record
every few percent (not every chunk: each write is a round trip to the job store). Each stem is
measured while it is uploaded (sample peak, integrated loudness) and its key recorded; the same
update of the record sends the stages that come after separation (`pipeline.advance`). A
redelivered task (its worker died) starts the stage again from the input; a task for a stage
already done only sends what comes next if that was never sent.
"""

from __future__ import annotations

import logging
import tempfile
import time
from functools import cache
from pathlib import Path

from celery import current_app, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init

from stemdeck.common import celery_app
from stemdeck.common.audio import AudioError, iter_blocks, media_type
from stemdeck.common.jobs import ENDED, Job, StageStatus, fail, finish_stage, report_progress
from stemdeck.common.jobstore import JobNotFound, JobStore, open_job_store
from stemdeck.common.loudness import LoudnessMeter
from stemdeck.common.pipeline import RETRY_TRANSIENT, TRANSIENT, advance, begin_stage, job_prefix
from stemdeck.common.results import put
from stemdeck.common.settings import Settings, get_settings
from stemdeck.common.stages import SEPARATE
from stemdeck.common.storage import Storage, open_storage
from stemdeck.separator.checkpoints import CheckpointError
from stemdeck.separator.repository import ModelNotFoundError, open_model, record_speed
from stemdeck.separator.separate import OutputOptions, Separator

log = logging.getLogger(__name__)
#: Write progress to the record at most this often (seconds) ...
PROGRESS_INTERVAL = 0.5


@cache
def separator_for(model: str, device: str) -> Separator:
    """One loaded model per (name, device) per process: loading costs more than a short song."""
    return Separator(open_model(model), device)


def warm_up() -> None:
    """Load the configured default model when the pool process starts, not in the first job."""
    settings = get_settings()
    separator_for(settings.separator_model, settings.device)


@worker_process_init.connect
def _warm_up_pool_process(**_: object) -> None:
    celery_app.warm_up_guarded(SEPARATE.name, warm_up)


def measure(path: Path, rate: int, channels: int) -> dict[str, float | None]:
    """Sample peak (dBFS) and integrated loudness (LUFS) of a written stem, in one pass."""
    meter = LoudnessMeter(rate, channels)
    for block in iter_blocks(path, 441_000, rate, channels):
        meter.add(block)
    lufs, peak = meter.integrated_lufs, meter.peak_dbfs
    return {
        "loudness_lufs": round(lufs, 2) if lufs > -1e9 else None,
        "peak_dbfs": round(peak, 2) if peak > -1e9 else None,
    }


def run_separation(settings: Settings, store: JobStore, storage: Storage, job_id: str) -> Job:
    """The whole stage for one job; returns the updated record (failed with a message on a
    problem the user can act on)."""
    job = store.get_job(job_id)
    if job.status in ENDED:
        return job
    if job.stages[SEPARATE.name].status == StageStatus.SUCCEEDED:
        return advance(current_app, store, job_id)  # what comes next, if it was never sent
    probed = job.input
    assert probed is not None, "a job is created with its probed input"
    try:
        separator = separator_for(job.options.model, settings.device)
    except (ModelNotFoundError, CheckpointError) as exc:
        return _fail(store, job_id, f"model problem: {exc}")
    device = str(separator.device)
    job = begin_stage(store, job_id, SEPARATE.name, device)
    if job.status in ENDED:
        return job
    last = {"time": 0.0}

    def progress(fraction: float) -> None:
        now = time.monotonic()
        if now - last["time"] >= PROGRESS_INTERVAL:
            last["time"] = now
            record = store.update_job(
                job_id, lambda j: report_progress(j, SEPARATE.name, 100 * fraction)
            )
            if record.status in ENDED:
                raise JobEnded(record.status)

    options = OutputOptions(
        format=job.options.format,
        bit_depth=16 if job.options.format != "wav" else 24,
        two_stems="vocals" if job.options.stems == "two" else None,
    )
    with tempfile.TemporaryDirectory(prefix="stemdeck-sep-") as folder:
        source = Path(folder) / ("input" + Path(probed.filename).suffix.lower())
        storage.get_file(probed.key, source)
        try:
            result = separator.separate_file(
                source, Path(folder) / "out", options, progress, job.options.soft_mask
            )
        except AudioError as exc:
            return _fail(store, job_id, str(exc))
        except JobEnded:
            return store.get_job(job_id)  # cancelled (or deleted) while running
        stems: dict[str, dict] = {}
        for name, path in result.stems.items():
            key = f"{job_prefix(job_id)}stems/{name}.{options.format}"
            storage.put_file(key, path, media_type(options.format))
            stats = measure(path, separator.config.sample_rate, separator.config.audio_channels)
            stems[name] = {"key": key, "format": options.format, "bytes": path.stat().st_size}
            stems[name].update(stats)

    record_speed(job.options.model, result.real_time_factor, result.device, result.duration)

    def done(record: Job) -> None:
        put(record.results, "stems", stems)
        separation = {
            "seconds": round(result.seconds, 2),
            "real_time_factor": round(result.real_time_factor, 3),
            "device": result.device,
            "model": record.options.model,
            "family": separator.family,
            "soft_mask": result.soft_mask,
        }
        put(record.results, "separation", separation)
        if record.status not in ENDED:
            finish_stage(record, SEPARATE.name)

    return advance(current_app, store, job_id, done)


def _fail(store: JobStore, job_id: str, message: str) -> Job:
    return store.update_job(job_id, lambda j: fail(j, SEPARATE.name, message))


class JobEnded(Exception):
    """The job was cancelled while its song was being separated: stop early."""


@shared_task(
    name=SEPARATE.task,
    acks_late=True,
    **RETRY_TRANSIENT,
)
def separate_task(job_id: str) -> None:
    settings = get_settings()
    store, storage = open_job_store(settings), open_storage(settings)
    try:
        run_separation(settings, store, storage, job_id)
    except JobNotFound:
        log.info("separate: job %s was deleted before it ran", job_id)
        return
    except SoftTimeLimitExceeded:
        _fail(store, job_id, "separation took longer than its time limit")
        return
    except TRANSIENT:
        raise  # retried with backoff
    except Exception as exc:
        log.exception("separate: job %s", job_id)
        _fail(store, job_id, f"internal error: {exc}")
