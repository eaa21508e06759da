"""The pipeline as data: the stages a job goes through, their order, queues and tasks.

    separate ─┬─ eq (one task per stem) ─┬─ finalize
              └─ genre ──────────────────┘

This is the one place that knows the pipeline's shape and its stages' names. Everything else
reads it: the job record (its stage list and progress weights, `jobs`), the Celery routes and
worker roles (`celery_app`), the fan-out and fan-in (`pipeline.advance`), the reaper, and the
API's record, whose stages carry the `label` the web page shows. A stage starts
when every stage it comes `after` has succeeded; a stage with no `after` is sent by the API.

Plain data with no imports of the rest of StemDeck, so any process can read it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The worker role (and queue) of the work around the models: the final step of every job,
#: webhooks, the expiry cleanup and the reaper of stalled jobs. Light: no model is loaded.
COORDINATOR = "coordinator"


@dataclass(frozen=True)
class StageSpec:
    """One stage of the pipeline."""

    #: The stage's name in the job record (`job.stages[name]`, `job.error.stage`).
    name: str
    #: What a person reads for it (the API record's `stages[name].label`, the web page's list).
    label: str
    #: The Celery task doing it; it takes (job_id) or, with `per_stem`, (job_id, stem).
    task: str
    #: The queue the task waits in; the worker role of that name consumes it.
    queue: str
    #: The module defining the task (what that role's worker imports).
    module: str
    #: Share of the job's overall progress (the weights add up to 1).
    weight: float
    #: The stages that must have succeeded before this one is sent.
    after: tuple[str, ...] = ()
    #: Fan-out rule: one task per separated stem (the stem's result lands in
    #: `results[name][stem]`) instead of one task per job.
    per_stem: bool = False
    #: Time limit of one task: this many seconds, plus `limit_per_audio_s` per second of song.
    limit_s: float = 60.0
    limit_per_audio_s: float = 0.5

    def time_limits(self, audio_seconds: float) -> tuple[float, float]:
        """(soft, hard) seconds for one task on a song this long: generous for a CPU, yet finite."""
        soft = self.limit_s + self.limit_per_audio_s * audio_seconds
        return soft, soft + 60


SEPARATE = StageSpec(
    "separate", task="stemdeck.separate", queue="separate", module="stemdeck.separator.task",
    label="Separating stems", weight=0.70,
    limit_s=120.0, limit_per_audio_s=3.0,  # the separator runs at RTF < 0.3 on 2 cores
)  # fmt: skip
EQ = StageSpec(
    "eq", task="stemdeck.eq", queue="eq", module="stemdeck.eq.task",
    label="Auto-EQ per stem", weight=0.10,
    after=("separate",), per_stem=True,
)  # fmt: skip
GENRE = StageSpec(
    "genre", task="stemdeck.genre", queue="genre", module="stemdeck.genre.task",
    label="Genre and analysis", weight=0.15,
    after=("separate",), limit_per_audio_s=1.0,
)  # fmt: skip
FINALIZE = StageSpec(
    "finalize", task="stemdeck.finalize", queue=COORDINATOR, module="stemdeck.common.pipeline",
    label="Finishing", weight=0.05,
    after=("eq", "genre"),
)  # fmt: skip

#: Every stage, in pipeline order (the order of `job.stages` and of the UI's stage list).
STAGES: tuple[StageSpec, ...] = (SEPARATE, EQ, GENRE, FINALIZE)
BY_NAME: dict[str, StageSpec] = {stage.name: stage for stage in STAGES}
BY_TASK: dict[str, StageSpec] = {stage.task: stage for stage in STAGES}


def due(succeeded: set[str]) -> list[StageSpec]:
    """The stages that should be under way once the stages `succeeded` have: not succeeded
    themselves, and every stage they come after has."""
    return [s for s in STAGES if s.name not in succeeded and set(s.after) <= succeeded]


def _check() -> None:
    """The declaration is consistent: known predecessors that come earlier, weights adding to 1."""
    seen: set[str] = set()
    for stage in STAGES:
        unknown = set(stage.after) - seen
        assert not unknown, f"stage {stage.name} comes after unknown or later stages {unknown}"
        seen.add(stage.name)
    assert abs(sum(stage.weight for stage in STAGES) - 1.0) < 1e-9, "weights must add up to 1"


_check()
