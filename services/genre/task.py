"""The genre worker's Celery task: genre of the mix and the track analysis into the job record.

The default genre model (`classifier.load_genre_model`, loaded once per process: the music
tagger with its tags mapped onto genres, or GenreNet where the tagger's wheel is missing)
classifies the uploaded mix over windows across the whole song; `results.genre` holds the
calibrated label, whether it is uncertain, and the tagger's top tags. The analysis takes its
tempo from the drums stem (cleaner beats than the mix) and each stem's share of the loudness.
Audio too short or silent to classify leaves the genre empty with a note rather than failing
a job whose stems are fine.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from celery import current_app, shared_task
from celery.signals import worker_process_init

from stemdeck.common import celery_app
from stemdeck.common.audio import read_audio
from stemdeck.common.jobs import ENDED, Job, fail, finish_stage
from stemdeck.common.jobstore import JobNotFound, JobStore, open_job_store
from stemdeck.common.pipeline import RETRY_TRANSIENT, TRANSIENT, advance, begin_stage
from stemdeck.common.results import put
from stemdeck.common.settings import get_settings
from stemdeck.common.stages import GENRE
from stemdeck.common.storage import Storage, open_storage
from stemdeck.genre.analysis import analyze_file, loudness_shares, precompile
from stemdeck.genre.classifier import GenreModel, load_genre_model
from stemdeck.genre.inputs import InputError

log = logging.getLogger(__name__)


@functools.cache
def genre_model() -> GenreModel:
    return load_genre_model("default")


def warm_up() -> None:
    """Load the genre model and run it and the analysis once on noise. Cold, the first 60 s
    song took 10.4 s instead of 2.2 s warm with GenreNet (model load 3.5 s; TensorFlow tracing
    and librosa's numba compilation the rest), measured on the 2-core machine."""
    rng = np.random.default_rng(0)
    model = genre_model()
    model.classify(0.1 * rng.standard_normal(6 * model.rate).astype(np.float32))
    precompile()


@worker_process_init.connect
def _warm_up_pool_process(**_: object) -> None:
    celery_app.warm_up_guarded(GENRE.name, warm_up)


def genre_and_analysis(storage: Storage, job: Job) -> tuple[dict, dict]:
    """The genre model on the mix; the analysis with beats from the drums stem and each stem's
    share of the loudness from the levels the separator measured (only the drums are decoded)."""
    assert job.input is not None
    stems = job.results.get("stems", {})
    with tempfile.TemporaryDirectory(prefix="stemdeck-genre-") as folder:
        mix = Path(folder) / ("input" + Path(job.input.filename).suffix.lower())
        storage.get_file(job.input.key, mix)
        drums = None
        if "drums" in stems:
            drums = Path(folder) / Path(stems["drums"]["key"]).name
            storage.get_file(stems["drums"]["key"], drums)
        levels = {name: stem.get("loudness_lufs") for name, stem in stems.items()}
        return genre_and_analysis_of(mix, drums, levels)


def genre_and_analysis_of(
    mix: Path, drums: Path | None = None, levels: dict[str, float | None] | None = None
) -> tuple[dict, dict]:
    """`results.genre` and `results.analysis` of local files (what the stage computes once its
    inputs are downloaded; bench/genre_stage.py times it)."""
    # The genre model (TensorFlow) and the analysis (NumPy/SciPy) both release the GIL: running
    # them side by side takes the shorter one off the job's critical path.
    with ThreadPoolExecutor(1, thread_name_prefix="genre-model") as pool:
        genre = pool.submit(_genre_of, mix)
        try:
            analysis = analyze_file(mix, drums=drums)
            analysis.pop("file", None)
        except InputError as exc:
            analysis = {"note": str(exc)}
        else:
            if levels:
                analysis["stems"] = loudness_shares(levels)
        return genre.result(), analysis


def _genre_of(mix: Path) -> dict:
    model = genre_model()
    mono = read_audio(mix, sample_rate=model.rate, channels=1)[0]
    try:
        return model.classify(mono).to_json()
    except InputError as exc:
        return {"label": None, "note": str(exc)}


def run_genre(store: JobStore, storage: Storage, job_id: str) -> Job:
    job = store.get_job(job_id)
    if job.status in ENDED:
        return job
    if "genre" in job.results and "analysis" in job.results:
        genre, analysis = job.results["genre"], job.results["analysis"]
    else:
        begin_stage(store, job_id, GENRE.name)
        genre, analysis = genre_and_analysis(storage, job)

    def record(record: Job) -> None:
        put(record.results, "genre", genre)
        put(record.results, "analysis", analysis)
        if record.status not in ENDED:
            finish_stage(record, GENRE.name)

    return advance(current_app, store, job_id, record)


@shared_task(name=GENRE.task, **RETRY_TRANSIENT)
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
        store.update_job(job_id, lambda j: fail(j, GENRE.name, message))
