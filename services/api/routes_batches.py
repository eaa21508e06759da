"""Batches: an album submitted in one request, polled as one."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from stemdeck.api.checks import CheckedUpload, check_upload
from stemdeck.api.context import Caller, Services, ServicesDep, batch_jobs, batch_view, own_batch
from stemdeck.api.routes_jobs import _OPTIONS_SCHEMA, refused_counted
from stemdeck.api.submit import OPTION_FIELDS, album_title, create_jobs, parse_options
from stemdeck.api.uploads import read_form, refuse
from stemdeck.api.views import BatchView
from stemdeck.common import pipeline

router = APIRouter(prefix="/v1/batches", tags=["batches"])
#: Most tracks in one batch (an album, or a long mixtape).
MAX_BATCH_FILES = 100

UPLOAD_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                        },
                        "album": {
                            "type": "string",
                            "description": "Album title (default: the tracks' album tag).",
                        },
                        **_OPTIONS_SCHEMA,
                    },
                }
            }
        },
    }
}


@router.post(
    "",
    status_code=201,
    openapi_extra=UPLOAD_BATCH_BODY,
    summary="Submit an album",
    response_model=BatchView,
)
async def submit_batch(request: Request, services: ServicesDep, owner: Caller) -> JSONResponse:
    """Upload several songs (repeated `files` fields); every file is checked first and the batch
    is refused as a whole, naming the file, when one is unusable. Titles and track numbers come
    from each file's tags, else from its name ("03 - Title.flac")."""
    return await refused_counted(services, _submit_batch(request, services, owner))


async def _submit_batch(request: Request, services: Services, owner: str) -> JSONResponse:
    settings = services.settings
    form = await read_form(
        request,
        services.scratch,
        file_fields={"files", "file"},
        text_fields=OPTION_FIELDS | {"album"},
        max_files=MAX_BATCH_FILES,
        max_file_bytes=settings.max_upload_bytes,
    )
    try:
        submission = await run_in_threadpool(parse_options, form.fields, services)
        if not form.files:
            raise refuse(400, "the form has no files: attach each song as a field 'files'")
        checked: list[CheckedUpload] = []
        for upload in form.files:
            checked.append(await run_in_threadpool(check_upload, upload, settings))
        album = form.fields.get("album", "").strip()[:200] or album_title(checked) or "Album"
        jobs, batch = await run_in_threadpool(
            create_jobs, services, owner, checked, submission, album
        )
    finally:
        form.cleanup()
    assert batch is not None
    return JSONResponse(
        batch_view(batch, jobs),
        status_code=201,
        headers={"Location": f"/v1/batches/{batch.id}"},
    )


@router.get(
    "/{batch_id}",
    summary="Read an album's aggregated progress and its tracks",
    response_model=BatchView,
)
def get_batch(batch_id: str, services: ServicesDep, owner: Caller) -> JSONResponse:
    batch = own_batch(services, owner, batch_id)
    return JSONResponse(batch_view(batch, batch_jobs(services, batch)))


@router.delete("/{batch_id}", status_code=204, summary="Delete an album's jobs and its record")
def delete_batch(batch_id: str, services: ServicesDep, owner: Caller) -> Response:
    batch = own_batch(services, owner, batch_id)
    for job_id in batch.job_ids:
        pipeline.delete_job(services.store, services.storage, job_id)
    services.store.delete_batch(batch_id)
    return Response(status_code=204)
