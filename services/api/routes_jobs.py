"""Jobs: submit one song, read, list, cancel and delete records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from stemdeck.api.checks import check_upload
from stemdeck.api.context import (
    Caller,
    Services,
    ServicesDep,
    job_view,
    own_job,
    read_own_job,
)
from stemdeck.api.submit import OPTION_FIELDS, create_jobs, parse_options
from stemdeck.api.uploads import read_form, refuse
from stemdeck.api.views import JobList, JobView
from stemdeck.common import pipeline
from stemdeck.common.jobs import ENDED, Job, JobStatus, move

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
#: Largest list offset: the job stores take 64-bit integers (a larger one was a 500 on SQLite
#: and a 503 on Redis), and no one pages past a billion jobs.
MAX_OFFSET = 10**9

_OPTIONS_SCHEMA: dict[str, Any] = {
    "stems": {"type": "string", "enum": ["four", "two"], "default": "four"},
    "format": {"type": "string", "enum": ["wav", "flac", "mp3"], "default": "wav"},
    "model": {
        "type": "string",
        "description": "An installed separator model's name (GET /v1/models; default: the "
        "server's). An unknown name is refused with 422 naming the installed ones.",
    },
    "soft_mask": {
        "type": "boolean",
        "description": "The soft-mask post-filter on or off (default: the model's own).",
    },
    "callback_url": {
        "type": "string",
        "description": "Webhook POSTed the final record, signed (X-StemDeck-Signature).",
    },
}
UPLOAD_JOB_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        **_OPTIONS_SCHEMA,
                    },
                }
            }
        },
    }
}


async def refused_counted(services: Services, work: Any) -> Any:
    """Await `work`, counting refusals (4xx/5xx raised as HTTPException) in the metrics."""
    try:
        return await work
    except HTTPException as exc:
        services.metrics.refused.labels(str(exc.status_code)).inc()
        raise


@router.post(
    "",
    status_code=201,
    openapi_extra=UPLOAD_JOB_BODY,
    summary="Submit a song",
    response_model=JobView,
)
async def submit_job(request: Request, services: ServicesDep, owner: Caller) -> JSONResponse:
    """Upload one song (multipart `file`) and queue its separation; 201 with the record."""
    return await refused_counted(services, _submit_job(request, services, owner))


async def _submit_job(request: Request, services: Services, owner: str) -> JSONResponse:
    settings = services.settings
    form = await read_form(
        request,
        services.scratch,
        file_fields={"file"},
        text_fields=OPTION_FIELDS,
        max_files=1,
        max_file_bytes=settings.max_upload_bytes,
    )
    try:
        submission = await run_in_threadpool(parse_options, form.fields, services)
        if not form.files:
            raise refuse(400, "the form has no file: attach the song as the field 'file'")
        checked = await run_in_threadpool(check_upload, form.files[0], settings)
        jobs, _ = await run_in_threadpool(create_jobs, services, owner, [checked], submission)
    finally:
        form.cleanup()
    job = jobs[0]
    return JSONResponse(job_view(job), status_code=201, headers={"Location": f"/v1/jobs/{job.id}"})


@router.get("", summary="List your jobs, newest first", response_model=JobList)
def list_jobs(
    services: ServicesDep,
    owner: Caller,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JSONResponse:
    jobs, total = services.store.list_jobs(owner, offset, limit)
    for job in jobs:
        services.metrics.observe(job)
    return JSONResponse(
        {"jobs": [job_view(job) for job in jobs], "total": total, "offset": offset, "limit": limit}
    )


@router.get("/{job_id}", summary="Read a job's record", response_model=JobView)
async def get_job(job_id: str, services: ServicesDep, owner: Caller) -> JSONResponse:
    """The most frequent request (clients poll it): no thread hop when the store is local, and
    serialised with `json` directly."""
    return JSONResponse(job_view(await read_own_job(services, owner, job_id)))


@router.post("/{job_id}/cancel", summary="Cancel a queued or running job", response_model=JobView)
def cancel_job(job_id: str, services: ServicesDep, owner: Caller) -> JSONResponse:
    own_job(services, owner, job_id)

    def cancel(job: Job) -> None:
        if job.status in ENDED:
            raise refuse(
                409, f"job {job.id} already {job.status.value}; only queued or running jobs "
                "can be cancelled",
            )  # fmt: skip
        move(job, JobStatus.CANCELLED)

    return JSONResponse(job_view(services.store.update_job(job_id, cancel)))


@router.delete("/{job_id}", status_code=204, summary="Delete a job, its files and its record")
def delete_job(job_id: str, services: ServicesDep, owner: Caller) -> Response:
    job = own_job(services, owner, job_id)
    if job.status not in ENDED:  # tell a running worker to stop before its files go
        services.store.update_job(
            job_id, lambda j: None if j.status in ENDED else move(j, JobStatus.CANCELLED)
        )
    pipeline.delete_job(services.store, services.storage, job_id)
    return Response(status_code=204)
