"""For operators: liveness, readiness (every dependency named when it fails), Prometheus."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from stemdeck.api.context import Services, ServicesDep
from stemdeck.common import broker

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _readiness(services: Services) -> dict[str, str]:
    """'ok' or the reason, for the broker, the object storage and the job store."""
    checks = {
        "broker": lambda: broker.check(services.settings.resolved_broker_url),
        "storage": services.storage.check,
        "job_store": services.store.check,
    }
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:
            results[name] = str(exc).split("\n")[0][:300] or type(exc).__name__
    return results


@router.get("/readyz", summary="Broker, storage and job store answer")
async def readyz(services: ServicesDep) -> JSONResponse:
    """200 when every dependency answers; 503 naming the ones that do not."""
    results = await run_in_threadpool(_readiness, services)
    failing = [name for name, result in results.items() if result != "ok"]
    if failing:
        detail = "; ".join(f"{name}: {results[name]}" for name in failing)
        return JSONResponse({"detail": f"not ready: {detail}", "checks": results}, 503)
    return JSONResponse({"status": "ready", "checks": results})


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(services: ServicesDep) -> Response:
    body = await run_in_threadpool(services.metrics.render)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
