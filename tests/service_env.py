"""A whole service environment for tests, on either backend the product ships: Redis + moto S3
(what compose runs) or the embedded one (SQLite broker and job store, a local folder; what
`stemdeck serve` runs). Settings, in-process clients and Celery worker processes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stemdeck.common.jobs import Job
from stemdeck.common.jobstore import JobStore, open_job_store
from stemdeck.common.settings import Settings
from stemdeck.common.storage import Storage, open_storage
from tests.servers import free_port, moto_server, redis_server


def model_cache_env(data_dir: Path) -> dict[str, str]:
    """STEMDECK_MODEL_DIR for a product child process: the running test's own cache (conftest's
    autouse fixture sets it), else one beside `data_dir`. Module fixtures start their processes
    before any test's fixtures run; without this those would use the user's real model cache
    (the separator worker records each model's measured speed there), which every pytest-xdist
    worker and every test run would share."""
    own = os.environ.get("STEMDECK_MODEL_DIR")
    return {"STEMDECK_MODEL_DIR": own or str(data_dir.with_name(f"{data_dir.name}-model-cache"))}


@dataclass
class ServiceEnv:
    """Environment variables (for child processes) and the matching in-process clients."""

    env: dict[str, str]
    data_dir: Path
    #: A broker nobody consumes from (jobs sent there stay queued) and one that cannot answer.
    idle_broker: str = ""
    dead_broker: str = ""
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def embedded(self) -> bool:
        return self.env["STEMDECK_JOB_STORE"] == "sqlite"

    def settings(self) -> Settings:
        saved = os.environ.copy()
        os.environ.update(self.env)
        try:
            return Settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def store(self) -> JobStore:
        return open_job_store(self.settings())

    def storage(self) -> Storage:
        return open_storage(self.settings())

    def start_worker(
        self, role: str, *extra: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        log = (self.data_dir / f"worker-{role}-{len(self.workers)}.log").open("w")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stemdeck.cli.main",
                "worker",
                role,
                "--loglevel",
                "info",
                *extra,
            ],
            env={**os.environ, **model_cache_env(self.data_dir), **self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(process)
        return process

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
        for process in self.workers:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.workers.clear()

    def worker_logs(self) -> str:
        """Logs of the workers started here and of those `stemdeck serve` started."""
        logs = [*self.data_dir.glob("worker-*.log"), *self.data_dir.glob("logs/worker-*.log")]
        return "\n".join(p.read_text() for p in sorted(logs))


def wait_for(
    store: JobStore, job_id: str, done: Callable[[Job], bool], seconds: float = 120
) -> Job:
    """Poll the record until `done(job)`; the last record in the assertion message otherwise."""
    deadline = time.monotonic() + seconds
    job = store.get_job(job_id)
    while time.monotonic() < deadline:
        job = store.get_job(job_id)
        if done(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not get there in {seconds} s: {job.public()}")


@contextlib.contextmanager
def service_env(data_dir: Path, redis_url: str, s3_url: str) -> Iterator[ServiceEnv]:
    env = {
        "STEMDECK_DATA_DIR": str(data_dir),
        "STEMDECK_JOB_STORE": "redis",
        "STEMDECK_REDIS_URL": redis_url,
        "STEMDECK_BROKER_URL": redis_url,
        "STEMDECK_STORAGE": "s3",
        "STEMDECK_S3_ENDPOINT": s3_url,
        "STEMDECK_S3_BUCKET": f"stemdeck-{time.monotonic_ns()}",
        "STEMDECK_S3_ACCESS_KEY": "test",
        "STEMDECK_S3_SECRET_KEY": "test",
        "STEMDECK_DEVICE": "cpu",
    }
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with _running(ServiceEnv(env, data_dir, redis_url.replace("/0", "/3"), dead)) as service:
        yield service


@contextlib.contextmanager
def embedded_env(data_dir: Path) -> Iterator[ServiceEnv]:
    """The backends of `stemdeck serve`: everything in `data_dir`, no server processes."""
    env = {
        "STEMDECK_DATA_DIR": str(data_dir),
        "STEMDECK_JOB_STORE": "sqlite",
        "STEMDECK_STORAGE": "local",
        "STEMDECK_DEVICE": "cpu",
    }
    idle = f"sqla+sqlite:///{data_dir / 'idle-broker.sqlite'}"
    dead = f"sqla+sqlite:///{data_dir / 'no-such-folder' / 'broker.sqlite'}"
    with _running(ServiceEnv(env, data_dir, idle, dead)) as service:
        yield service


@contextlib.contextmanager
def _running(service: ServiceEnv) -> Iterator[ServiceEnv]:
    service.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        yield service
    finally:
        service.stop_workers()


#: The two backends the product ships; parametrize module fixtures with these.
BACKENDS = ("redis-s3", "embedded")


@contextlib.contextmanager
def backend_env(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceEnv]:
    """A ServiceEnv on one of BACKENDS, its servers (Redis, moto) started here and stopped after."""
    data = tmp_path_factory.mktemp("data")
    with contextlib.ExitStack() as stack:
        if kind == "embedded":
            env = stack.enter_context(embedded_env(data))
        else:
            redis = stack.enter_context(redis_server(tmp_path_factory.mktemp("redis")))
            s3 = stack.enter_context(moto_server())
            env = stack.enter_context(service_env(data, redis.url, s3.url))
        yield env
