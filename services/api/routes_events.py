"""Server-Sent Events: a job's record pushed to the browser whenever it changes.

The store is polled every 0.3 s (a cheap key read) and the record is sent when its
`updated_at` moved, so no broker or pub/sub is needed and it works the same on SQLite. A comment
line every 15 s keeps proxies from closing an idle stream; the stream ends after the record
reaches an end state (event `end`) or disappears (event `gone`). A client that goes away is
noticed by the response, which stops the loop.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from stemdeck.api.context import Caller, Services, ServicesDep, job_view, own_job
from stemdeck.common.jobs import ENDED
from stemdeck.common.jobstore import JobNotFound

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
POLL_S = 0.3
HEARTBEAT_S = 15.0


def _event(kind: str, data: dict) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _updates(services: Services, job_id: str) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    seen: float | None = None
    beat = time.monotonic()
    while True:
        try:
            job = await run_in_threadpool(services.store.get_job, job_id)
        except JobNotFound:
            yield _event("gone", {"id": job_id})
            return
        if job.updated_at != seen:
            seen = job.updated_at
            beat = time.monotonic()
            yield _event("job", job_view(job))
        if job.status in ENDED:
            services.metrics.observe(job)
            yield _event("end", {"id": job_id, "status": job.status.value})
            return
        if time.monotonic() - beat >= HEARTBEAT_S:
            beat = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_S)


@router.get(
    "/{job_id}/events",
    summary="Follow a job (Server-Sent Events)",
    response_class=StreamingResponse,
    description="`event: job` carries the record (the JobView schema, as GET /v1/jobs/{job_id} "
    "answers) each time it changes; `event: end` closes the stream once the job has ended.",
)
async def job_events(job_id: str, services: ServicesDep, owner: Caller) -> StreamingResponse:
    await run_in_threadpool(own_job, services, owner, job_id)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _updates(services, job_id), media_type="text/event-stream", headers=headers
    )
