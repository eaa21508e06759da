"""Turning checked uploads into stored inputs, job records and queued separations.

Options are validated before any audio is looked at. All uploads of a request are checked
before the first byte is stored, and a failure while storing or queueing removes everything
that request created, so a refused or failed submission leaves nothing behind.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from stemdeck.api.checks import CheckedUpload
from stemdeck.api.context import Services
from stemdeck.api.names import title_from_filename
from stemdeck.api.routes_models import installed_names
from stemdeck.api.uploads import refuse
from stemdeck.common import celery_app, pipeline, stages
from stemdeck.common.audio import media_type
from stemdeck.common.jobs import Batch, InputInfo, Job, JobOptions
from stemdeck.common.jobstore import JobStoreError
from stemdeck.common.results import put
from stemdeck.common.storage import StorageError

log = logging.getLogger(__name__)
#: Plain form fields a submission may carry.
OPTION_FIELDS = {"stems", "format", "model", "soft_mask", "callback_url"}
_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False}
_BOOLEANS |= {"no": False, "off": False}


@dataclass(frozen=True)
class Submission:
    options: JobOptions
    callback_url: str | None


def parse_options(fields: dict[str, str], services: Services) -> Submission:
    """The form's options, or 422 naming the bad value and the allowed ones."""
    values: dict[str, str] = {}
    for name in ("stems", "format"):
        if name in fields:
            allowed = get_args(JobOptions.model_fields[name].annotation)
            value = fields[name].strip().lower()
            if value not in allowed:
                choices = " or ".join(repr(a) for a in allowed)
                raise refuse(422, f"{name} must be {choices}, not {fields[name]!r}")
            values[name] = value
    model = fields.get("model", "").strip()
    if model:
        check_model(model)
    model = model or services.settings.separator_model
    soft_mask = None
    if fields.get("soft_mask", "").strip():
        soft_mask = _BOOLEANS.get(fields["soft_mask"].strip().lower())
        if soft_mask is None:
            raise refuse(422, f"soft_mask must be true or false, not {fields['soft_mask']!r}")
    callback = fields.get("callback_url", "").strip() or None
    if callback is not None:
        try:
            pipeline.check_callback_url(callback, services.settings.callback_allow_private)
        except ValueError as exc:
            raise refuse(422, str(exc)) from None
    options = JobOptions.model_validate({"model": model, "soft_mask": soft_mask, **values})
    return Submission(options, callback)


def check_model(model: str) -> None:
    """422 unless `model` names an installed model (GET /v1/models) or, for operators and
    tests, is the path of a model file on the server; the message names the installed ones."""
    if len(model) > 512 or any(ord(c) < 32 for c in model):
        raise refuse(422, "model must be the name of an installed model (see GET /v1/models)")
    names = installed_names()
    if model in names or (Path(model).suffix in (".pt", ".th") and Path(model).is_file()):
        return
    raise refuse(
        422,
        f"unknown model {model!r}; installed: {', '.join(names) or 'none'} (GET /v1/models)",
    )


def _new_job(
    services: Services, owner: str, checked: CheckedUpload, submission: Submission, index: int
) -> Job:
    number, title = title_from_filename(checked.upload.name)
    tags = checked.tags
    now = time.time()
    job = Job(
        owner=owner,
        title=tags.title or title,
        track_number=tags.track_number or number or (index + 1 if index >= 0 else None),
        options=submission.options,
        callback_url=submission.callback_url,
        created_at=now,
        expires_at=now + services.settings.job_ttl_hours * 3600,
    )
    if tags.as_dict():
        put(job.results, "tags", tags.as_dict())
    info = checked.info
    job.input = InputInfo(
        filename=checked.upload.name,
        key=f"{pipeline.job_prefix(job.id)}input/{checked.upload.name}",
        size_bytes=checked.upload.size,
        format=info.format,
        duration_s=round(info.duration, 3),
        channels=info.channels,
        sample_rate=info.sample_rate,
    )
    return job


def _store(services: Services, jobs: list[Job], checked: list[CheckedUpload]) -> None:
    for job, upload in zip(jobs, checked, strict=True):
        assert job.input is not None
        content_type = media_type(job.input.format)
        services.storage.put_file(job.input.key, Path(upload.upload.path), content_type)
        services.store.create_job(job)


def _enqueue(services: Services, jobs: list[Job]) -> None:
    """Send each new job's first stages (those that come after no other: separation)."""
    for job in jobs:
        for stage in stages.due(set()):
            celery_app.send_stage(services.celery, job, stage)


def _undo(services: Services, jobs: list[Job], batch: Batch | None) -> None:
    for job in jobs:
        try:
            pipeline.delete_job(services.store, services.storage, job.id)
        except Exception:  # best effort: expiry removes what is left
            log.exception("could not remove job %s after a failed submission", job.id)
    if batch is not None:
        try:
            services.store.delete_batch(batch.id)
        except Exception:
            log.exception("could not remove batch %s after a failed submission", batch.id)


def create_jobs(
    services: Services,
    owner: str,
    checked: list[CheckedUpload],
    submission: Submission,
    album: str | None = None,
) -> tuple[list[Job], Batch | None]:
    """Store inputs, create records (and a batch when `album` is given), queue separations;
    503 with everything removed again when storage or the broker fails."""
    batch_mode = album is not None
    jobs = [
        _new_job(services, owner, item, submission, index if batch_mode else -1)
        for index, item in enumerate(checked)
    ]
    batch = None
    if batch_mode:
        batch = Batch(
            owner=owner,
            title=album or "",
            job_ids=[job.id for job in jobs],
            callback_url=submission.callback_url,
            expires_at=jobs[0].expires_at,
        )
        for job in jobs:
            job.batch_id = batch.id
    try:
        _store(services, jobs, checked)
        if batch is not None:
            services.store.create_batch(batch)
        _enqueue(services, jobs)
    except (StorageError, JobStoreError, OSError) as exc:
        _undo(services, jobs, batch)
        raise refuse(503, f"the upload could not be stored ({exc}); try again") from exc
    except Exception as exc:  # broker errors come in many kinds (kombu, redis, sqlalchemy)
        _undo(services, jobs, batch)
        log.exception("queueing failed")
        raise refuse(503, "the task queue is unreachable; try again later") from exc
    services.metrics.submitted.inc(len(jobs))
    return jobs, batch


def album_title(checked: list[CheckedUpload]) -> str:
    """The album tag the tracks agree on (the most common one), else ''."""
    albums = [c.tags.album for c in checked if c.tags.album]
    return max(set(albums), key=albums.count) if albums else ""
