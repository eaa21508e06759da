"""The genre worker's Celery task: genre of the mix and the track analysis into the job record.

GenreNet (Keras, loaded once per process) classifies the uploaded mix over windows across the
whole song; the analysis takes its tempo from the drums stem (cleaner beats than the mix) and
each stem's share of the loudness. Audio too short or silent for GenreNet leaves the genre empty
with a note rather than failing a job whose stems are fine.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from pathlib import Path

from celery import current_app, shared_task

from stemdeck.common import celery_app
from stemdeck.common.audio import read_audio
from stemdeck.common.jobs import ENDED, Job, fail, finish_stage
from stemdeck.common.jobstore import JobNotFound, JobStore, open_job_store
from stemdeck.common.pipeline import TRANSIENT, begin_stage, enqueue_finalize_if_last
from stemdeck.common.settings import get_settings
from stemdeck.common.storage import Storage, open_storage
from stemdeck.genre.analysis import analyze_file
from stemdeck.genre.features import FEATURE_RATE
from stemdeck.genre.inputs import InputError
from stemdeck.genre.model import GenreArtefact, load_artefact
from stemdeck.genre.predict import classify

log = logging.getLogger(__name__)


@functools.cache
def artefact() -> GenreArtefact:
    return load_artefact()


def genre_and_analysis(storage: Storage, job: Job) -> tuple[dict, dict]:
    assert job.input is not None
    stems = job.results.get("stems", {})
    with tempfile.TemporaryDirectory(prefix="stemdeck-genre-") as folder:
        mix = Path(folder) / ("input" + Path(job.input.filename).suffix.lower())
        storage.get_file(job.input.key, mix)
        paths = {}
        for name, stem in stems.items():
            paths[name] = Path(folder) / Path(stem["key"]).name
            storage.get_file(stem["key"], paths[name])
        mono = read_audio(mix, sample_rate=FEATURE_RATE, channels=1)[0]
        try:
            genre = classify(artefact(), mono, FEATURE_RATE).to_json()
        except InputError as exc:
            genre = {"label": None, "note": str(exc)}
        try:
            analysis = analyze_file(mix, drums=paths.get("drums"), stems=paths or None)
            analysis.pop("file", None)
        except InputError as exc:
            analysis = {"note": str(exc)}
    return genre, analysis


def run_genre(store: JobStore, storage: Storage, job_id: str) -> Job:
    job = store.get_job(job_id)
    if job.status in ENDED:
        return job
    if "genre" in job.results and "analysis" in job.results:
        genre, analysis = job.results["genre"], job.results["analysis"]
    else:
        begin_stage(store, job_id, "genre")
        genre, analysis = genre_and_analysis(storage, job)

    def record(record: Job) -> None:
        record.results["genre"] = genre
        record.results["analysis"] = analysis
        if record.status not in ENDED:
            finish_stage(record, "genre")

    return enqueue_finalize_if_last(current_app, store, job_id, "genre", record)


@shared_task(name=celery_app.GENRE, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def genre_task(job_id: str) -> None:
    settings = get_settings()
    store, storage = open_job_store(settings), open_storage(settings)
    try:
        run_genre(store, storage, job_id)
    except JobNotFound:
        log.info("genre: job %s was deleted", job_id)
    except TRANSIENT:
        raise
    except Exception as exc:
        log.exception("genre: job %s", job_id)
        message = f"genre and analysis failed: {exc}"
        store.update_job(job_id, lambda j: fail(j, "genre", message))
