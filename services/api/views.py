"""The records the API answers with, as OpenAPI documents them (`response_model` of the routes).

`context.job_view` and `context.batch_view` build these dicts; the routes send them as they
are (status polls are hot, and a stored record must stay readable), and the models here only
describe them: `tests/test_api_schema.py` checks real records against them, and the web app's
types are generated from the schema they make.
"""

from __future__ import annotations

from typing import NotRequired

from pydantic import BaseModel, ConfigDict, Field, with_config
from typing_extensions import TypedDict

from stemdeck.common.jobs import InputInfo, JobError, JobOptions, JobStatus, StageStatus
from stemdeck.common.results import Results

_VIEW = ConfigDict(extra="forbid", use_attribute_docstrings=True)
#: For the stored models whose fields have defaults: those are always sent all the same.
#: (Not on the views that hold TypedDicts: pydantic 2.14 applies the setting to a TypedDict's
#: NotRequired keys when the model holding it has it.)
_SENT = ConfigDict(**_VIEW, json_schema_serialization_defaults_required=True)
_OPTIONAL_KEYS = ConfigDict(extra="forbid")


class StageView(BaseModel):
    """One pipeline stage: label, status, progress 0-100, device, timings, error."""

    # A stage as stored (`Stage`'s fields, after the two it lacks), plus `label` (from the
    # pipeline's declaration, `common/stages.py`) and `seconds` (a property of `Stage`): neither
    # is a stored field it could inherit, and a subclass would put them last. Spelled out so the
    # type checker sees a class; tests/test_api_schema.py fails if `Stage` gains a field.
    model_config = _SENT
    label: str = Field(description="What a person reads for the stage (the web page's name).")
    seconds: float | None = Field(description="Time the stage has run (so far, while it runs).")
    status: StageStatus = StageStatus.PENDING
    progress: float = 0.0
    device: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    restarts: int = 0


class OptionsView(JobOptions):
    model_config = _SENT


@with_config(_OPTIONAL_KEYS)
class Links(TypedDict):
    """URLs a client follows; stems, zip and mix once the stems exist."""

    self: str
    events: str
    stems: NotRequired[dict[str, str]]
    zip: NotRequired[str]
    mix: NotRequired[str]


class JobView(BaseModel):
    """One song's job: status, per-stage progress, options, the probed input and the results."""

    model_config = _VIEW
    id: str
    batch_id: str | None
    title: str
    track_number: int | None
    status: JobStatus
    options: OptionsView
    input: InputInfo | None
    stages: dict[str, StageView]
    results: Results
    error: JobError | None
    callback_url: str | None
    created_at: float
    updated_at: float
    expires_at: float | None
    progress: float
    """Overall 0-100, weighted over the stages."""
    links: Links


class JobList(BaseModel):
    model_config = _VIEW
    jobs: list[JobView]
    total: int
    offset: int
    limit: int


@with_config(_OPTIONAL_KEYS)
class BatchLinks(TypedDict):
    self: str


class BatchView(BaseModel):
    """An album: its tracks' jobs with the aggregated status and progress."""

    model_config = _VIEW
    id: str
    title: str
    job_ids: list[str]
    callback_url: str | None
    created_at: float
    expires_at: float | None
    status: JobStatus
    """succeeded when all tracks did; failed or cancelled when all ended; else running/queued."""
    progress: float
    """Mean of the tracks' progress."""
    counts: dict[str, int]
    """Tracks per status."""
    jobs: list[JobView]
    links: BatchLinks
