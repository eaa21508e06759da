"""Where job and batch records live: Redis (compose, tests) or SQLite (embedded mode).

Every change goes through `update_job(id, change)`, which reads, applies and writes the record
atomically (Redis WATCH/MULTI, SQLite BEGIN IMMEDIATE), so workers reporting progress in
parallel never lose each other's updates, and a fan-in (the last EQ task to finish enqueues the
final step) happens exactly once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from stemdeck.common.jobs import ENDED, Batch, Job, JobStatus
from stemdeck.common.settings import Settings

Change = Callable[[Job], object]


class JobNotFound(KeyError):
    """No record with that id (never created, deleted, or expired)."""


class JobStoreError(RuntimeError):
    """The store could not be reached (transient: worth a retry)."""


class JobStore(Protocol):
    def create_job(self, job: Job) -> Job: ...
    def get_job(self, job_id: str) -> Job: ...
    def update_job(self, job_id: str, change: Change) -> Job: ...
    def delete_job(self, job_id: str) -> None: ...
    def list_jobs(self, owner: str, offset: int = 0, limit: int = 20) -> tuple[list[Job], int]: ...
    def create_batch(self, batch: Batch) -> Batch: ...
    def get_batch(self, batch_id: str) -> Batch: ...
    def delete_batch(self, batch_id: str) -> None: ...
    def expired(self, now: float) -> tuple[list[str], list[str]]: ...
    def stalled(self, before: float) -> list[str]: ...
    def check(self) -> None: ...

    #: True when a read never waits on a network (fine to do on an event loop).
    local: bool


class RedisJobStore:
    """Records as JSON strings; per-owner and expiry indexes as sorted sets."""

    #: Calls go over the network and may wait for timeouts: keep them off an event loop.
    local = False

    def __init__(self, url: str, prefix: str = "stemdeck") -> None:
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self.prefix = prefix

    def _key(self, kind: str, ident: str) -> str:
        return f"{self.prefix}:{kind}:{ident}"

    def create_job(self, job: Job) -> Job:
        with self._errors():
            pipe = self.redis.pipeline()
            pipe.set(self._key("job", job.id), job.model_dump_json())
            pipe.zadd(self._key("owner", job.owner), {job.id: job.created_at})
            pipe.zadd(self._key("active", "jobs"), {job.id: job.updated_at})
            if job.expires_at:
                pipe.zadd(self._key("expiry", "jobs"), {job.id: job.expires_at})
            pipe.execute()
        return job

    def get_job(self, job_id: str) -> Job:
        with self._errors():
            raw = self.redis.get(self._key("job", job_id))
        if raw is None:
            raise JobNotFound(job_id)
        return Job.model_validate_json(raw)

    def update_job(self, job_id: str, change: Change) -> Job:
        import redis

        key = self._key("job", job_id)
        with self._errors(), self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None:
                        raise JobNotFound(job_id)
                    job = Job.model_validate_json(raw)
                    change(job)
                    job.updated_at = time.time()
                    pipe.multi()
                    pipe.set(key, job.model_dump_json())
                    if job.expires_at:  # keep the expiry index in step, as SQLite's column is
                        pipe.zadd(self._key("expiry", "jobs"), {job_id: job.expires_at})
                    if job.status in ENDED:  # the reaper's index: jobs not yet ended
                        pipe.zrem(self._key("active", "jobs"), job_id)
                    else:
                        pipe.zadd(self._key("active", "jobs"), {job_id: job.updated_at})
                    pipe.execute()
                    return job
                except redis.WatchError:
                    continue

    def delete_job(self, job_id: str) -> None:
        job = self.get_job(job_id)
        with self._errors():
            pipe = self.redis.pipeline()
            pipe.delete(self._key("job", job_id))
            pipe.zrem(self._key("owner", job.owner), job_id)
            pipe.zrem(self._key("expiry", "jobs"), job_id)
            pipe.zrem(self._key("active", "jobs"), job_id)
            pipe.execute()

    def list_jobs(self, owner: str, offset: int = 0, limit: int = 20) -> tuple[list[Job], int]:
        index = self._key("owner", owner)
        with self._errors():
            total = int(self.redis.zcard(index))
            ids = self.redis.zrevrange(index, offset, offset + limit - 1)
            raws = self.redis.mget([self._key("job", i) for i in _names(ids)]) if ids else []
        return [Job.model_validate_json(r) for r in raws if r is not None], total

    def create_batch(self, batch: Batch) -> Batch:
        with self._errors():
            pipe = self.redis.pipeline()
            pipe.set(self._key("batch", batch.id), batch.model_dump_json())
            if batch.expires_at:
                pipe.zadd(self._key("expiry", "batches"), {batch.id: batch.expires_at})
            pipe.execute()
        return batch

    def get_batch(self, batch_id: str) -> Batch:
        with self._errors():
            raw = self.redis.get(self._key("batch", batch_id))
        if raw is None:
            raise JobNotFound(batch_id)
        return Batch.model_validate_json(raw)

    def delete_batch(self, batch_id: str) -> None:
        with self._errors():
            self.redis.delete(self._key("batch", batch_id))
            self.redis.zrem(self._key("expiry", "batches"), batch_id)

    def expired(self, now: float) -> tuple[list[str], list[str]]:
        with self._errors():
            jobs = self.redis.zrangebyscore(self._key("expiry", "jobs"), 0, now)
            batches = self.redis.zrangebyscore(self._key("expiry", "batches"), 0, now)
        return _names(jobs), _names(batches)

    def stalled(self, before: float) -> list[str]:
        """Running jobs whose record last changed before `before`."""
        with self._errors():
            ids = self.redis.zrangebyscore(self._key("active", "jobs"), 0, before)
            raws = self.redis.mget([self._key("job", i) for i in _names(ids)]) if ids else []
        jobs = [Job.model_validate_json(raw) for raw in raws if raw is not None]
        return [job.id for job in jobs if job.status == JobStatus.RUNNING]

    def check(self) -> None:
        with self._errors():
            self.redis.ping()

    def _errors(self) -> _RedisErrors:
        return _RedisErrors()


class _RedisErrors:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, _tb: object) -> None:
        import redis

        if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
            raise JobStoreError(f"job store (Redis) unreachable: {exc}") from exc


def _names(members: Iterable[object]) -> list[str]:
    """The members of a sorted-set range read without scores, as text (the client returns bytes;
    redis-py's types cannot tie that to its decode_responses=False)."""
    return [m.decode() if isinstance(m, bytes) else str(m) for m in members]


class SqliteJobStore:
    """Records in one SQLite file (WAL mode, so the API and workers read while one writes)."""

    #: A read by key is a local file lookup well under a millisecond, never blocked by writers.
    local = True

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connection() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, owner TEXT NOT NULL, "
                "created_at REAL NOT NULL, expires_at REAL, data TEXT NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, created_at)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, expires_at REAL, "
                "data TEXT NOT NULL)"
            )

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    def create_job(self, job: Job) -> Job:
        self._connection().execute(
            "INSERT INTO jobs VALUES (?, ?, ?, ?, ?)",
            (job.id, job.owner, job.created_at, job.expires_at, job.model_dump_json()),
        )
        return job

    def get_job(self, job_id: str) -> Job:
        row = self._connection().execute("SELECT data FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return Job.model_validate_json(row[0])

    def update_job(self, job_id: str, change: Change) -> Job:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT data FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobNotFound(job_id)
            job = Job.model_validate_json(row[0])
            change(job)
            job.updated_at = time.time()
            db.execute(
                "UPDATE jobs SET data = ?, expires_at = ? WHERE id = ?",
                (job.model_dump_json(), job.expires_at, job_id),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return job

    def delete_job(self, job_id: str) -> None:
        cursor = self._connection().execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        if cursor.rowcount == 0:
            raise JobNotFound(job_id)

    def list_jobs(self, owner: str, offset: int = 0, limit: int = 20) -> tuple[list[Job], int]:
        db = self._connection()
        total = db.execute("SELECT COUNT(*) FROM jobs WHERE owner = ?", (owner,)).fetchone()[0]
        rows = db.execute(
            "SELECT data FROM jobs WHERE owner = ? ORDER BY created_at DESC LIMIT ? OFFSET ?",
            (owner, limit, offset),
        ).fetchall()
        return [Job.model_validate_json(r[0]) for r in rows], int(total)

    def create_batch(self, batch: Batch) -> Batch:
        self._connection().execute(
            "INSERT INTO batches VALUES (?, ?, ?)",
            (batch.id, batch.expires_at, batch.model_dump_json()),
        )
        return batch

    def get_batch(self, batch_id: str) -> Batch:
        row = (
            self._connection()
            .execute("SELECT data FROM batches WHERE id = ?", (batch_id,))
            .fetchone()
        )
        if row is None:
            raise JobNotFound(batch_id)
        return Batch.model_validate_json(row[0])

    def delete_batch(self, batch_id: str) -> None:
        self._connection().execute("DELETE FROM batches WHERE id = ?", (batch_id,))

    def expired(self, now: float) -> tuple[list[str], list[str]]:
        db = self._connection()
        jobs = db.execute("SELECT id FROM jobs WHERE expires_at <= ?", (now,)).fetchall()
        batches = db.execute("SELECT id FROM batches WHERE expires_at <= ?", (now,)).fetchall()
        return [r[0] for r in jobs], [r[0] for r in batches]

    def stalled(self, before: float) -> list[str]:
        """Running jobs whose record last changed before `before`."""
        rows = (
            self._connection()
            .execute(
                "SELECT id FROM jobs WHERE json_extract(data, '$.status') = 'running' "
                "AND json_extract(data, '$.updated_at') < ?",
                (before,),
            )
            .fetchall()
        )
        return [r[0] for r in rows]

    def check(self) -> None:
        try:
            self._connection().execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise JobStoreError(f"job store ({self.path}) unusable: {exc}") from exc


def open_job_store(settings: Settings) -> JobStore:
    """The backend the settings name (`STEMDECK_JOB_STORE=sqlite|redis`)."""
    if settings.job_store == "redis":
        return RedisJobStore(settings.redis_url)
    return SqliteJobStore(settings.data_dir / "jobs.sqlite")
