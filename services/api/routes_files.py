"""A job's files: each stem (byte ranges, or a redirect to a presigned URL), all stems as one
zip, and a server-side remix."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from starlette.background import BackgroundTask

from stemdeck.api import mixer
from stemdeck.api.context import Caller, Services, ServicesDep, own_job
from stemdeck.api.downloads import content_disposition, parse_range, zip_stream
from stemdeck.api.names import safe_filename
from stemdeck.common.audio import OUTPUT_FORMATS, media_type
from stemdeck.common.jobs import Job
from stemdeck.common.storage import ObjectMissing

router = APIRouter(prefix="/v1/jobs", tags=["files"])
#: Mixes rendered at once by this process; more wait for a 503 + Retry-After (CPU-bound work).
_RENDERS = threading.BoundedSemaphore(2)


def _stems(job: Job) -> dict[str, dict[str, Any]]:
    stems = job.results.get("stems") or {}
    if not stems:
        raise HTTPException(409, f"job {job.id} has no stems yet (it is {job.status.value})")
    return stems


def _label(job: Job) -> str:
    return safe_filename(job.title or job.id, fallback=job.id)


@router.get("/{job_id}/stems/{stem}", summary="Download a stem (HEAD too)")
def get_stem(
    job_id: str, stem: str, request: Request, services: ServicesDep, owner: Caller
) -> Response:
    """The stem's bytes; honours a single `Range` (206); redirects (307) to a presigned URL
    when the server is configured with a public S3 endpoint."""
    job = own_job(services, owner, job_id)
    stems = _stems(job)
    if stem not in stems:
        raise HTTPException(404, f"job {job_id} has no stem {stem!r}; it has {', '.join(stems)}")
    entry = stems[stem]
    key, fmt = entry["key"], entry.get("format", "wav")
    if services.settings.s3_public_endpoint:
        url = services.storage.presigned_url(key, services.settings.presign_seconds)
        if url:
            return RedirectResponse(url, status_code=307)
    try:
        size = services.storage.size(key)
    except ObjectMissing:
        raise HTTPException(404, f"the {stem} stem of job {job_id} is gone") from None
    span = parse_range(request.headers.get("range"), size)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(f"{_label(job)} - {stem}.{fmt}"),
        "Cache-Control": "private, max-age=3600",
    }
    start, end = span if span else (0, size - 1)
    headers["Content-Length"] = str(end - start + 1)
    status = 200
    if span:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    kind = media_type(fmt)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=kind)
    chunks = services.storage.open_range(key, start, end)
    return StreamingResponse(chunks, status_code=status, headers=headers, media_type=kind)


router.add_api_route(
    "/{job_id}/stems/{stem}", get_stem, methods=["HEAD"], include_in_schema=False
)  # media players ask for the size first


@router.get("/{job_id}/download.zip", summary="All stems as one zip")
def download_zip(job_id: str, services: ServicesDep, owner: Caller) -> StreamingResponse:
    job = own_job(services, owner, job_id)
    stems = _stems(job)
    storage = services.storage
    sizes = {name: storage.size(entry["key"]) for name, entry in stems.items()}

    # Opened one after the other, as the zip reaches them.
    def entries() -> Iterator[tuple[str, int, Iterator[bytes]]]:
        for name, entry in stems.items():
            fmt = entry.get("format", "wav")
            yield f"{name}.{fmt}", sizes[name], storage.open_range(entry["key"])
        manifest = job.results.get("manifest")
        if manifest and storage.exists(manifest):
            yield "manifest.json", storage.size(manifest), storage.open_range(manifest)

    headers = {"Content-Disposition": content_disposition(f"{_label(job)}.zip")}
    return StreamingResponse(zip_stream(entries()), media_type="application/zip", headers=headers)


def _mix_request(job: Job, request: Request) -> tuple[dict[str, float], bool, str]:
    stems = _stems(job)
    gains: dict[str, float] = {}
    eq, fmt = "off", "wav"
    for name, value in request.query_params.items():
        if name == "eq":
            eq = value.lower()
            if eq not in ("auto", "off"):
                raise HTTPException(422, f"eq must be 'auto' or 'off', not {value!r}")
        elif name == "format":
            fmt = value.lower()
            if fmt not in OUTPUT_FORMATS:
                raise HTTPException(422, f"format must be wav, flac or mp3, not {value!r}")
        elif name in stems:
            try:
                gain = float(value)
            except ValueError:
                gain = -1.0
            if not 0.0 <= gain <= mixer.MAX_GAIN:
                raise HTTPException(
                    422, f"the gain of {name} must be a number from 0 to {mixer.MAX_GAIN:g}"
                )
            gains[name] = gain
        else:
            known = ", ".join([*stems, "eq", "format"])
            raise HTTPException(422, f"unknown mix parameter {name!r}; use {known}")
    return gains, eq == "auto", fmt


@router.get(
    "/{job_id}/mix",
    summary="Render a remix",
    description="Query: one gain 0..2 per stem (default 1; `vocals=0` is karaoke), "
    "`eq=auto|off` (auto applies each stem's recommended EQ), `format=wav|flac|mp3`.",
)
async def mix(job_id: str, request: Request, services: ServicesDep, owner: Caller) -> Response:
    job = await run_in_threadpool(own_job, services, owner, job_id)
    gains, use_eq, fmt = _mix_request(job, request)
    stems = job.results["stems"]
    eq = None
    if use_eq:
        try:
            eq = mixer.eq_gains(job.results, list(stems))
        except mixer.EqNotReady as exc:
            raise HTTPException(
                409, f"no EQ recommendation for {exc.args[0]} yet; wait for the eq stage or "
                "use eq=off",
            ) from None  # fmt: skip
    if not _RENDERS.acquire(blocking=False):
        raise HTTPException(503, "busy rendering other mixes; retry", headers={"Retry-After": "5"})
    try:
        return await run_in_threadpool(_render, services, job, gains, eq, fmt)
    finally:
        _RENDERS.release()


def _render(
    services: Services,
    job: Job,
    gains: dict[str, float],
    eq: dict[str, dict[str, float]] | None,
    fmt: str,
) -> FileResponse:
    services.scratch.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="mix-", dir=services.scratch))
    try:
        path = mixer.render_mix(services.storage, job.results["stems"], gains, eq, fmt, folder)
    except BaseException:
        mixer.discard(folder)
        raise
    name = f"{_label(job)} - mix.{fmt}"
    return FileResponse(
        path,
        media_type=media_type(fmt),
        headers={"Content-Disposition": content_disposition(name)},
        background=BackgroundTask(mixer.discard, folder),
    )
