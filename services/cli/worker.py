"""`stemdeck worker ROLE`: a Celery worker for one queue, importing only that role's code."""

from __future__ import annotations

from typing import Annotated

import typer


def worker(
    role: Annotated[
        str,
        typer.Argument(
            help="separate, eq, genre, or coordinator (finalize, webhooks, expiry, reaper)."
        ),
    ],
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Tasks run at once.")
    ] = 1,
    pool: Annotated[
        str, typer.Option(help="prefork (a process per task), threads or solo.")
    ] = "prefork",
    beat: Annotated[
        bool,
        typer.Option(
            help="Also run the periodic scheduler (expiry cleanup, reaper): exactly one worker "
            "of a deployment, the coordinator's."
        ),
    ] = False,
    loglevel: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the worker for one pipeline role against the configured broker and stores."""
    from stemdeck.common.celery_app import ROLE_MODULES, make_app
    from stemdeck.common.settings import get_settings

    if role not in ROLE_MODULES:
        raise typer.BadParameter(f"unknown role {role!r}; use {', '.join(ROLE_MODULES)}")
    settings = get_settings()
    app = make_app(settings, include=ROLE_MODULES[role])
    app.set_default()
    argv = ["worker", "-Q", role, "-c", str(concurrency), "-P", pool, "-n", f"{role}@%h"]
    argv += ["--loglevel", loglevel, "--without-gossip", "--without-mingle"]
    if beat:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        argv += ["-B", "-s", str(settings.data_dir / "celerybeat-schedule")]
    app.worker_main(argv)
