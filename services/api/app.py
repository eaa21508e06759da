"""The FastAPI gateway: `create_app(settings)` wires stores, routes, errors and the frontend.

The API never runs a model: it checks and stores uploads, creates job records, queues work and
serves results. Every error a client sees is JSON `{"detail": "message"}` with a fitting status;
unexpected failures are logged here with their traceback and answered with a plain 500.

Run it with `stemdeck serve` (embedded: workers included) or, against Redis and S3,
`uvicorn --factory stemdeck.api.app:create_app`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stemdeck.api import (
    routes_batches,
    routes_events,
    routes_files,
    routes_jobs,
    routes_models,
    routes_ops,
)
from stemdeck.api.auth import RateLimiter
from stemdeck.api.context import Services
from stemdeck.api.metrics import Metrics
from stemdeck.common.celery_app import make_app
from stemdeck.common.jobstore import JobNotFound, JobStoreError, open_job_store
from stemdeck.common.settings import Settings, get_settings
from stemdeck.common.storage import (
    ObjectMissing,
    StorageError,
    open_storage,
)

log = logging.getLogger(__name__)
#: The built web app (`npm run build` in frontend/), served at / when present.
FRONTEND_DIST = Path(__file__).resolve().parents[2] / "frontend" / "dist"


def content_security_policy(settings: Settings) -> str:
    """The page may run only its own bundled scripts and talk only to this server (plus the
    public S3 endpoint stems are redirected to, when one is configured)."""
    public = settings.s3_public_endpoint
    origin = ""
    if public:
        parts = urlsplit(public)
        origin = f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:; media-src 'self' blob:{origin}; "
        f"connect-src 'self'{origin}; worker-src 'self' blob:; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


class _SpaFiles(StaticFiles):
    """The frontend's files, with a Content-Security-Policy; unknown paths outside the API get
    index.html (client routing)."""

    def __init__(self, *args: Any, policy: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy

    async def get_response(self, path: str, scope: Scope) -> Any:
        try:
            response = await super().get_response(path, scope)
        except StarletteHTTPException as exc:
            if exc.status_code != 404 or path.startswith("v1"):
                raise
            response = await super().get_response("index.html", scope)
        response.headers["Content-Security-Policy"] = self.policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


class _CountRequests:
    """Counts every answered request by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            route = getattr(scope.get("route"), "path", None)
            label = route if route else ("static" if "route" in scope else "unmatched")
            self.metrics.requests.labels(scope["method"], label, str(status["code"])).inc()


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for error in exc.errors():
            where = " ".join(str(p) for p in error.get("loc", ()) if p not in ("body",))
            parts.append(f"{where}: {error.get('msg', 'invalid')}".strip(": "))
        return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, 422)

    @app.exception_handler(JobNotFound)
    async def not_found(_request: Request, exc: JobNotFound) -> JSONResponse:
        return JSONResponse({"detail": f"no record {exc.args[0]!r}"}, 404)

    @app.exception_handler(ObjectMissing)
    async def object_missing(_request: Request, _exc: ObjectMissing) -> JSONResponse:
        return JSONResponse({"detail": "a file of this job is no longer stored"}, 404)

    @app.exception_handler(StorageError)
    @app.exception_handler(JobStoreError)
    async def unavailable(_request: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency failure: %s", exc)
        kind = "object storage" if isinstance(exc, StorageError) else "job store"
        return JSONResponse(
            {"detail": f"the {kind} is unavailable; try again shortly"},
            503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def internal(_request: Request, _exc: Exception) -> JSONResponse:
        # Starlette re-raises after answering, so the server logs the traceback.
        return JSONResponse({"detail": "internal server error"}, 500)


def create_app(settings: Settings | None = None, frontend_dir: Path | None = None) -> FastAPI:
    """The gateway for `settings` (default: from the environment)."""
    settings = settings or get_settings()
    metrics = Metrics(settings.resolved_broker_url)
    services = Services(
        settings=settings,
        store=open_job_store(settings),
        storage=open_storage(settings),
        celery=make_app(settings),
        limiter=RateLimiter(settings.rate_limit_per_minute),
        metrics=metrics,
    )
    app = FastAPI(
        title="StemDeck",
        summary="Split songs into stems (vocals, drums, bass, other), with EQ and genre.",
        version="0.1.0",
        docs_url="/docs",
    )
    app.state.services = services
    _install_error_handlers(app)
    for module in (
        routes_jobs,
        routes_batches,
        routes_files,
        routes_events,
        routes_models,
        routes_ops,
    ):
        app.include_router(module.router)
    frontend = frontend_dir if frontend_dir is not None else FRONTEND_DIST
    if (frontend / "index.html").is_file():
        policy = content_security_policy(settings)
        app.mount("/", _SpaFiles(directory=frontend, html=True, policy=policy), name="frontend")
    else:

        @app.get("/", include_in_schema=False)
        def root() -> dict[str, str]:
            return {"name": "StemDeck", "docs": "/docs", "jobs": "/v1/jobs"}

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[
                "Content-Range",
                "Accept-Ranges",
                "Content-Disposition",
                "Location",
                "Retry-After",
            ],
        )
    app.add_middleware(_CountRequests, metrics=metrics)
    return app
