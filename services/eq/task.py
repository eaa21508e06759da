"""The EQ worker's Celery task: one stem in, a recommended 3-band correction into the job record.

One task per stem runs in parallel; the stage succeeds with its last stem, and the update that
records it sends what comes next (`pipeline.advance`). A stem the model cannot judge (silent,
e.g. the vocals of an instrumental; or the `no_vocals` sum, which the model was not trained on)
gets a flat EQ and a note, not a failed job: the stems are still good.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
from celery import current_app, shared_task
from celery.signals import worker_process_init

from stemdeck.common import celery_app
from stemdeck.common.audio import TARGET_CHANNELS, TARGET_RATE, read_audio
from stemdeck.common.jobs import ENDED, Job, StageStatus, fail, finish_stage, report_progress
from stemdeck.common.jobstore import JobNotFound, JobStore, open_job_store
from stemdeck.common.pipeline import RETRY_TRANSIENT, TRANSIENT, advance, begin_stage
from stemdeck.common.results import put
from stemdeck.common.settings import get_settings
from stemdeck.common.stages import EQ
from stemdeck.common.storage import Storage, open_storage
from stemdeck.eq.filters import BAND_NAMES, band_definition
from stemdeck.eq.predict import EqInputError, get_model, predict_eq

log = logging.getLogger(__name__)
FLAT = dict.fromkeys(BAND_NAMES, 0.0)


def warm_up() -> None:
    """Load the EQ model and run it once, so the first stem of the first job is not slower.
    One thread per process: the four stems of a job run in parallel pool processes instead."""
    import torch

    torch.set_num_threads(1)
    model = get_model()
    shape = (TARGET_CHANNELS, 4 * TARGET_RATE)
    noise = 0.1 * np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for stem in model.config.stems[:1]:
        predict_eq(noise, TARGET_RATE, stem)


@worker_process_init.connect
def _warm_up_pool_process(**_: object) -> None:
    celery_app.warm_up_guarded(EQ.name, warm_up)


def recommend(storage: Storage, key: str, stem: str) -> dict:
    """The recommendation for one stored stem, as the job record holds it."""
    if stem not in get_model().config.stems:
        return {"gains_db": FLAT, "spread_db": None, "windows": 0,
                "note": f"no EQ model for the {stem} stem; left flat"}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="stemdeck-eq-") as folder:
        path = Path(folder) / Path(key).name
        storage.get_file(key, path)
        audio = read_audio(path, sample_rate=TARGET_RATE, channels=TARGET_CHANNELS)
    try:
        return predict_eq(audio, TARGET_RATE, stem).to_json()
    except EqInputError as exc:
        return {"gains_db": FLAT, "spread_db": None, "windows": 0, "note": f"left flat: {exc}"}


def run_eq(store: JobStore, storage: Storage, job_id: str, stem: str) -> Job:
    job = store.get_job(job_id)
    if job.status in ENDED:
        return job
    done = job.results.get(EQ.name, {})
    if stem in done:  # redelivered after the result was written: only what comes next is left
        result = done[stem]
    else:
        begin_stage(store, job_id, EQ.name)
        result = recommend(storage, job.results["stems"][stem]["key"], stem)
    stems = list(job.results.get("stems", {}))

    def record(record: Job) -> None:
        put(record.results, EQ.name, {**record.results.get(EQ.name, {}), stem: result})
        put(record.results, "eq_bands", band_definition())
        if record.status in ENDED:
            return
        finished = sum(name in record.results[EQ.name] for name in stems)
        if finished == len(stems):
            if record.stages[EQ.name].status != StageStatus.SUCCEEDED:
                finish_stage(record, EQ.name)
        else:
            report_progress(record, EQ.name, 100 * finished / len(stems))

    return advance(current_app, store, job_id, record)


@shared_task(name=EQ.task, **RETRY_TRANSIENT)
def eq_task(job_id: str, stem: str) -> None:
    settings = get_settings()
    store, storage = open_job_store(settings), open_storage(settings)
    try:
        run_eq(store, storage, job_id, stem)
    except JobNotFound:
        log.info("eq: job %s was deleted", job_id)
    except TRANSIENT:
        raise
    except Exception as exc:
        log.exception("eq: job %s stem %s", job_id, stem)
        message = f"EQ recommendation for {stem} failed: {exc}"
        store.update_job(job_id, lambda j: fail(j, EQ.name, message))
