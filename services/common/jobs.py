"""The job record and its state machine: the one thing a client polls.

A job is `queued`, then `running`, and ends `succeeded`, `failed` or `cancelled`; it never leaves
an end state. Inside, each stage of the pipeline (declared in `stages`) has its own status,
progress 0-100, device, timings and error, so a person sees which step is slow or broken and what
it already produced. Overall progress is a weighted sum of the stages, so it only moves forward.
Stages change only through the functions here: `begin_stage`, `report_progress`, `finish_stage`,
`fail`, and `restart_stage` (the reaper's). The pipeline's own bookkeeping lives in `control`,
apart from the `results` a person reads.
"""

from __future__ import annotations

import math
import secrets
import time
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from stemdeck.common import stages as pipeline_stages


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StageStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ENDED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
_STAGE_ENDED = frozenset({StageStatus.SUCCEEDED, StageStatus.FAILED, StageStatus.CANCELLED})
_JOB_MOVES: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.RUNNING: frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}),
}

#: Stage names in pipeline order, with their share of the overall progress (from `stages`).
STAGE_WEIGHTS: dict[str, float] = {stage.name: stage.weight for stage in pipeline_stages.STAGES}
STAGES = tuple(STAGE_WEIGHTS)


class InvalidTransition(ValueError):
    """A status change the state machine forbids (e.g. a finished job starting again)."""


class Stage(BaseModel):
    status: StageStatus = StageStatus.PENDING
    progress: float = 0.0
    device: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    #: Times the reaper sent this stage again after its worker vanished mid-way.
    restarts: int = 0

    @property
    def seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or time.time()) - self.started_at


class JobOptions(BaseModel):
    """What the user asked for."""

    stems: Literal["four", "two"] = "four"
    format: Literal["wav", "flac", "mp3"] = "wav"
    model: str = "default"
    #: The soft-mask post-filter; None = the model's own default (its card).
    soft_mask: bool | None = None


class InputInfo(BaseModel):
    """The probed upload: what the separator will read."""

    filename: str
    key: str
    size_bytes: int
    format: str
    duration_s: float
    channels: int
    sample_rate: int


class JobError(BaseModel):
    stage: str
    message: str


class Control(BaseModel):
    """The pipeline's bookkeeping on the record (never shown to clients)."""

    #: Stages whose tasks the pipeline has sent, so that of two tasks finishing at once only
    #: one sends what comes next (the reaper re-sends a lost one on its own).
    sent: list[str] = Field(default_factory=list)


#: Bookkeeping flags records kept in `results` before `control` existed, and the stages each
#: one meant were sent: the fan-out after separation, and the final step.
_LEGACY_FLAGS: dict[str, tuple[str, ...]] = {
    "fanout_sent": tuple(
        s.name for s in pipeline_stages.STAGES if s.after == (pipeline_stages.SEPARATE.name,)
    ),
    "finalize_sent": (pipeline_stages.FINALIZE.name,),
    "parts_done": (),  # the stages' own statuses say as much now
}


class Job(BaseModel):
    """One song's way through the pipeline, stored as JSON in the job store."""

    id: str = Field(default_factory=lambda: new_id("job"))
    owner: str = ""
    batch_id: str | None = None
    title: str = ""
    track_number: int | None = None
    status: JobStatus = JobStatus.QUEUED
    options: JobOptions = Field(default_factory=JobOptions)
    input: InputInfo | None = None
    stages: dict[str, Stage] = Field(default_factory=lambda: {name: Stage() for name in STAGES})
    results: dict[str, Any] = Field(default_factory=dict)
    control: Control = Field(default_factory=Control)
    error: JobError | None = None
    callback_url: str | None = None
    created_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)
    expires_at: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _move_legacy_flags(cls, data: Any) -> Any:
        """Stored records from before `control`: their flags move out of `results` on read."""
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, dict) or not _LEGACY_FLAGS.keys() & results.keys():
            return data
        control = dict(data.get("control") or {})
        sent = list(control.get("sent") or [])
        for flag, names in _LEGACY_FLAGS.items():
            if results.get(flag):
                sent += [name for name in names if name not in sent]
        control["sent"] = sent
        results = {k: v for k, v in results.items() if k not in _LEGACY_FLAGS}
        return {**data, "results": results, "control": control}

    @property
    def progress(self) -> float:
        """Overall 0-100: weighted stage progress (a finished stage counts in full)."""
        total = 0.0
        for name, weight in STAGE_WEIGHTS.items():
            stage = self.stages.get(name, Stage())
            done = 100.0 if stage.status == StageStatus.SUCCEEDED else stage.progress
            total += weight * done
        return round(min(100.0, total), 1)

    def public(self) -> dict[str, Any]:
        """The record as the API shows it: progress included, owner and bookkeeping left out;
        each stage with its time so far and its label from the pipeline's declaration (not
        stored, so clients never keep a table of stage names of their own)."""
        data = self.model_dump(mode="json", exclude={"owner", "control"})
        data["progress"] = self.progress
        for name, stage in self.stages.items():
            spec = pipeline_stages.BY_NAME.get(name)
            data["stages"][name]["label"] = spec.label if spec else name
            data["stages"][name]["seconds"] = stage.seconds
        return data


def new_id(kind: str) -> str:
    """Unguessable ids: knowing one job's id must not reveal another's."""
    return f"{kind}_{secrets.token_urlsafe(12)}"


def move(job: Job, status: JobStatus) -> Job:
    """Change the job's status, or raise InvalidTransition."""
    if status == job.status:
        return job
    if status not in _JOB_MOVES.get(job.status, frozenset()):
        raise InvalidTransition(f"job {job.id} is {job.status}; it cannot become {status}")
    job.status = status
    job.updated_at = time.time()
    if status in ENDED:
        for stage in job.stages.values():
            running = stage.status == StageStatus.RUNNING
            pending = stage.status == StageStatus.PENDING
            if running or (pending and status == JobStatus.CANCELLED):
                _end_stage(stage, StageStatus.CANCELLED)
    return job


def start_stage(job: Job, name: str, device: str | None = None) -> Job:
    """Mark a stage running (and the job with it); a stage that already ended is left alone."""
    _check_open(job)
    stage = job.stages[name]
    if stage.status in _STAGE_ENDED:
        raise InvalidTransition(f"stage {name} of job {job.id} already {stage.status}")
    if job.status == JobStatus.QUEUED:
        move(job, JobStatus.RUNNING)
    stage.status = StageStatus.RUNNING
    stage.started_at = stage.started_at or time.time()
    stage.device = device or stage.device
    job.updated_at = time.time()
    return job


def succeeded_stages(job: Job) -> set[str]:
    """Names of the stages that have succeeded."""
    return {name for name, stage in job.stages.items() if stage.status == StageStatus.SUCCEEDED}


def begin_stage(job: Job, name: str, device: str | None = None) -> Job:
    """A stage's task starts: the stage is marked running unless the job or the stage has
    already ended (then nothing changes; the task sees that in the record and stops)."""
    if job.status in ENDED or job.stages[name].status in _STAGE_ENDED:
        return job
    return start_stage(job, name, device)


def restart_stage(job: Job, name: str) -> Job:
    """A stage whose worker vanished goes back to pending, its tasks about to be sent again
    (the reaper's move); counted in `restarts`. Ended jobs and stages cannot restart."""
    _check_open(job)
    stage = job.stages[name]
    if stage.status in _STAGE_ENDED:
        raise InvalidTransition(f"stage {name} of job {job.id} already {stage.status}")
    stage.status = StageStatus.PENDING
    stage.restarts += 1
    job.updated_at = time.time()
    return job


def report_progress(job: Job, name: str, percent: float) -> Job:
    """Progress of a running stage; never moves backwards, stays below 100 until it ends."""
    stage = job.stages[name]
    if stage.status == StageStatus.RUNNING and math.isfinite(percent):
        stage.progress = max(stage.progress, min(99.9, round(float(percent), 1)))
        job.updated_at = time.time()
    return job


def finish_stage(job: Job, name: str) -> Job:
    """Mark a stage succeeded. Finishing it again is a no-op: a task redelivered, or sent again
    by the reaper, may finish after its twin did."""
    _check_open(job)
    stage = job.stages[name]
    if stage.status == StageStatus.SUCCEEDED:
        return job
    if stage.status != StageStatus.RUNNING:
        start_stage(job, name)
    _end_stage(stage, StageStatus.SUCCEEDED)
    stage.progress = 100.0
    job.updated_at = time.time()
    return job


def fail(job: Job, name: str, message: str) -> Job:
    """The stage failed: the job fails with a message a person understands; results stay.
    A stage that already ended keeps its end (a redelivered twin failing late changes nothing)."""
    if job.status in ENDED or job.stages[name].status in _STAGE_ENDED:
        return job
    _end_stage(job.stages[name], StageStatus.FAILED, message)
    job.error = JobError(stage=name, message=message)
    return move(job, JobStatus.FAILED)


def _end_stage(stage: Stage, status: StageStatus, error: str | None = None) -> None:
    stage.status = status
    stage.finished_at = time.time()
    stage.error = error


def _check_open(job: Job) -> None:
    if job.status in ENDED:
        raise InvalidTransition(f"job {job.id} already {job.status}")


class Batch(BaseModel):
    """An album: several jobs submitted together, polled as one."""

    id: str = Field(default_factory=lambda: new_id("batch"))
    owner: str = ""
    title: str = ""
    job_ids: list[str] = Field(default_factory=list)
    callback_url: str | None = None
    created_at: float = Field(default_factory=time.time)
    expires_at: float | None = None

    def summary(self, jobs: list[Job]) -> dict[str, Any]:
        """Aggregated view: overall progress is the mean of the tracks', status the worst."""
        statuses = [job.status for job in jobs]
        if not jobs:
            status = JobStatus.QUEUED
        elif all(s == JobStatus.SUCCEEDED for s in statuses):
            status = JobStatus.SUCCEEDED
        elif all(s in ENDED for s in statuses):
            status = JobStatus.FAILED if JobStatus.FAILED in statuses else JobStatus.CANCELLED
        elif any(s != JobStatus.QUEUED for s in statuses):
            status = JobStatus.RUNNING
        else:
            status = JobStatus.QUEUED
        data = self.model_dump(mode="json", exclude={"owner"})
        data["status"] = status
        data["progress"] = round(sum(job.progress for job in jobs) / max(1, len(jobs)), 1)
        data["counts"] = {s.value: statuses.count(s) for s in JobStatus}
        data["jobs"] = [job.public() for job in jobs]
        return data
