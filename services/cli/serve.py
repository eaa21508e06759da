"""`stemdeck serve`: the whole service on one machine, with no Redis, no S3 and no Docker.

The API runs in this process (uvicorn); the workers run as child processes, one per role
(`stemdeck worker separate|eq|genre|coordinator`; the coordinator, which finalizes jobs, sends
webhooks and reaps stalled jobs, also runs the periodic scheduler). Everything lives
in one data folder: objects, the SQLite job store and the SQLite broker. A worker whose task
module is not installed is skipped with a message (the service still answers; its stage waits).
Ctrl-C or SIGTERM stops the API, then the workers: politely first, then firmly, so nothing is
left running.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated

import typer

from stemdeck.common.stages import COORDINATOR, EQ, GENRE, SEPARATE

log = logging.getLogger("stemdeck.serve")
#: Pool processes per role (the roles are `celery_app.QUEUES`): one separator (it uses every
#: core itself), two single-threaded EQ processes so a job's four stems go two at a time, one
#: GenreNet, one coordinator (its tasks take milliseconds).
POOL = {SEPARATE.queue: 1, EQ.queue: 2, GENRE.queue: 1, COORDINATOR: 1}
#: The role that runs the periodic scheduler (expiry cleanup, reaper): exactly one does.
SCHEDULER_ROLE = COORDINATOR
#: Seconds a worker gets to finish on SIGTERM, then on SIGQUIT, before it is killed.
TERM_GRACE_S = 5.0
QUIT_GRACE_S = 2.0


def missing_modules(role: str) -> list[str]:
    """Task modules of `role` that cannot be imported here."""
    from stemdeck.common.celery_app import ROLE_MODULES

    missing = []
    for module in ROLE_MODULES[role]:
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        if not found:
            missing.append(module)
    return missing


def _die_with_parent() -> None:  # pragma: no cover (runs in the child before exec)
    """Linux: the worker gets SIGTERM if `stemdeck serve` itself is killed."""
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Worker:
    role: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)
    _log: IO[str] | None = None

    def start(self) -> None:
        self._log = self.log_path.open("a")
        self.process = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)  # the worker and its pool children

    def wait(self, seconds: float) -> bool:
        if self.process is None:
            return True
        try:
            self.process.wait(seconds)
            return True
        except subprocess.TimeoutExpired:
            return False

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()


class Supervisor:
    """Starts the workers, restarts one that dies (at most 5 times in 10 minutes), and stops
    them all on the way out."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="workers", daemon=True)

    def start(self) -> None:
        for worker in self.workers:
            worker.start()
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(2.0):
            for worker in self.workers:
                if worker.alive() or self._stop.is_set():
                    continue
                code = worker.process.returncode if worker.process else None
                now = time.monotonic()
                worker.restarts = [t for t in worker.restarts if now - t < 600]
                if len(worker.restarts) >= 5:
                    continue
                worker.restarts.append(now)
                print(
                    f"worker {worker.role} exited ({code}); restarting (log: {worker.log_path})",
                    file=sys.stderr,
                )
                worker.close_log()
                worker.start()

    def stop(self) -> None:
        """SIGTERM (Celery's warm shutdown), then SIGQUIT (cold), then SIGKILL, per group."""
        self._stop.set()
        self._thread.join(5)
        for signum, grace in (
            (signal.SIGTERM, TERM_GRACE_S),
            (signal.SIGQUIT, QUIT_GRACE_S),
            (signal.SIGKILL, 5.0),
        ):
            running = [w for w in self.workers if w.alive()]
            if not running:
                break
            for worker in running:
                worker.signal_group(signum)
            deadline = time.monotonic() + grace
            for worker in running:
                worker.wait(max(0.0, deadline - time.monotonic()))
        for worker in self.workers:
            worker.signal_group(signal.SIGKILL)  # pool children left behind, if any
            worker.close_log()


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises the signal that stopped it once it is done, which would kill this
        process (SIGTERM) before the workers are stopped; here the signal only stops the API."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            signums = (signal.SIGINT, signal.SIGTERM)
            original = {signum: signal.signal(signum, self.handle_exit) for signum in signums}
            try:
                yield
            finally:
                for signum, handler in original.items():
                    signal.signal(signum, handler)

    return Server


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data: Annotated[
        Path | None,
        typer.Option(help="Data folder (objects, job store, broker); default $STEMDECK_DATA_DIR."),
    ] = None,
    workers: Annotated[
        bool, typer.Option("--workers/--no-workers", help="Start the pipeline workers too.")
    ] = True,
) -> None:
    """Run StemDeck on this machine: the web API plus its workers, all in one data folder."""
    if data is not None:
        os.environ["STEMDECK_DATA_DIR"] = str(data.expanduser().resolve())
    os.environ.setdefault("STEMDECK_STORAGE", "local")
    os.environ.setdefault("STEMDECK_JOB_STORE", "sqlite")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    import uvicorn

    from stemdeck.api.app import create_app
    from stemdeck.common.settings import get_settings

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["STEMDECK_DATA_DIR"] = str(settings.data_dir.resolve())
    logs = settings.data_dir / "logs"
    logs.mkdir(exist_ok=True)
    app = create_app(settings)

    chosen: list[Worker] = []
    for role in POOL if workers else ():
        missing = missing_modules(role)
        if missing:
            print(
                f"note: the {role} worker is not started: {', '.join(missing)} is not installed "
                f"yet, so the {role} stage of jobs will wait",
                file=sys.stderr,
            )
            continue
        argv = [sys.executable, "-m", "stemdeck.cli.main", "worker", role, "-c", str(POOL[role])]
        argv += ["--beat"] if role == SCHEDULER_ROLE else []
        chosen.append(Worker(role, argv, logs / f"worker-{role}.log"))
    supervisor = Supervisor(chosen)

    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3
    )
    server = _server_class()(config)

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            names = ", ".join(w.role for w in chosen) or "none"
            print(
                f"StemDeck is running at http://{host}:{port}  (API docs: /docs; "
                f"data: {settings.data_dir}; workers: {names}; logs: {logs}). Ctrl-C stops it.",
                flush=True,
            )

    supervisor.start()
    threading.Thread(target=announce, daemon=True).start()
    try:
        server.run()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):  # stopping is bounded; let it finish
            signal.signal(signum, signal.SIG_IGN)
        if chosen:
            print("stopping workers ...", file=sys.stderr, flush=True)
        supervisor.stop()
    if not server.started:
        raise typer.Exit(1)
