"""schemathesis against the API's own OpenAPI document, in process (ASGI) on the embedded
backends (SQLite job store and broker, local storage): every operation gets generated requests
— valid ones, and invalid ones where the schema has something to violate (bodies, query
parameters) — and not one may answer 5xx or raise. Path ids are sometimes those of a real,
finished job with stems (and its batch), so stems, ranges, zip, mix and events are exercised
beyond their 404s. At least 500 requests in all; deterministic (derandomized, no database).

Every 4xx must also be the API's own error shape: JSON with a string `detail`.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from stemdeck.api.app import create_app
from stemdeck.common.settings import Settings
from tests.conftest import make_song
from tests.test_security import give_stems

pytestmark = pytest.mark.unit

#: Generated examples per operation and mode; 12 operations take parameters, 3 take none.
EXAMPLES = 40
#: Total the run must reach.
AT_LEAST = 500
DELETING = ("DELETE /v1/jobs/{job_id}", "DELETE /v1/batches/{batch_id}")
STEMS = ("vocals", "drums", "bass", "other")
#: Printable ASCII without outer spaces (what a client can put in a header at all).
_HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(
    str.strip
)
#: Range headers, well-formed (often out of the file) and not.
RANGES = st.one_of(
    st.from_regex(r"\Abytes=[0-9]{0,25}-[0-9]{0,25}\Z"),
    st.from_regex(r"\Abytes=[0-9]{1,6}-[0-9]{0,6}(,[0-9]{0,6}-[0-9]{0,6}){1,3}\Z"),
    _HEADER_TEXT,
)
MIX_NAMES = st.sampled_from([*STEMS, "eq", "format", "guitar", ""])
MIX_VALUES = st.one_of(
    st.sampled_from(["0", "1", "2", "2.0001", "-0", "nan", "inf", "-inf", "1e308", "auto"]),
    st.sampled_from(["off", "wav", "flac", "mp3", "ogg", "AUTO", "FLAC"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    _HEADER_TEXT,
)


@dataclass
class Target:
    schema: Any
    job_id: str
    batch_id: str
    counts: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data = tmp_path_factory.mktemp("data")
    settings_ = Settings(data_dir=data, max_upload_mb=1, _env_file=None)
    app = create_app(settings_, frontend_dir=tmp_path_factory.mktemp("no-frontend"))
    services = app.state.services
    services.storage.check()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # A real job with stems, in a batch, through the API itself.
    buffer = io.BytesIO()
    sf.write(buffer, make_song(1.2, 8000, 1).T, 8000, format="WAV")

    async def submit() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            files = [("files", ("song.wav", buffer.getvalue()))]
            return await client.post("/v1/batches", files=files)

    answer = asyncio.run(submit())
    assert answer.status_code == 201, answer.text
    batch = answer.json()
    job_id = batch["job_ids"][0]
    give_stems(services.store, services.storage, job_id, tmp_path_factory.mktemp("stems"))
    yield Target(schema, job_id, batch["id"])


def _modes(operation: Any) -> list[Any]:
    """Positive always; negative where the schema constrains something that can be broken."""
    definition = operation.definition.raw
    constrained = "requestBody" in definition or any(
        p.get("in") == "query" for p in definition.get("parameters", [])
    )
    modes = [schemathesis.GenerationMode.POSITIVE]
    if constrained:
        modes.append(schemathesis.GenerationMode.NEGATIVE)
    return modes


def _run(target: Target, operation: Any, mode: Any) -> None:
    label = operation.label
    real_ids = label not in DELETING  # deleting the shared job would leave only 404s after

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def check(case: Any, data: st.DataObject) -> None:
        params = case.path_parameters or {}
        if real_ids and "job_id" in params and data.draw(st.booleans(), "real job"):
            params["job_id"] = target.job_id
        if real_ids and "batch_id" in params and data.draw(st.booleans(), "real batch"):
            params["batch_id"] = target.batch_id
        if "stem" in params and data.draw(st.booleans(), "real stem"):
            params["stem"] = data.draw(st.sampled_from(STEMS))
        if "stem" in params and data.draw(st.booleans(), "range"):  # not in the schema
            case.headers = {**(case.headers or {}), "Range": data.draw(RANGES, "range")}
        if label.endswith("/mix"):  # its parameters are the job's stem names: not in the schema
            extra = data.draw(st.dictionaries(MIX_NAMES, MIX_VALUES, max_size=4), "mix query")
            case.query = {**(case.query or {}), **extra}
        response = case.call()
        target.counts[label] = target.counts.get(label, 0) + 1
        target.statuses[response.status_code] = target.statuses.get(response.status_code, 0) + 1
        case.validate_response(response, checks=[not_a_server_error])
        if 400 <= response.status_code < 500:
            body = response.json()
            assert isinstance(body, dict) and isinstance(body.get("detail"), str), body
            assert "Traceback" not in response.text

    check()


@pytest.mark.slow
def test_no_generated_request_gets_a_server_error(target: Target) -> None:
    operations = [result.ok() for result in target.schema.get_all_operations()]
    assert len(operations) >= 15
    # Reads first, deletes last, so the real job stays for every operation that uses it.
    operations.sort(key=lambda op: op.label in DELETING)
    for operation in operations:
        for mode in _modes(operation):
            _run(target, operation, mode)
    total = sum(target.counts.values())
    print(f"\n{total} requests; by status {dict(sorted(target.statuses.items()))}")
    for label, count in sorted(target.counts.items()):
        print(f"  {count:4d}  {label}")
    assert total >= AT_LEAST, target.counts
    assert all(status < 500 for status in target.statuses)
    assert {s for s in target.statuses if 200 <= s < 300}, "nothing but errors was generated"


def test_the_document_itself_is_valid_openapi(target: Target) -> None:
    """schemathesis validated the document when loading it; each operation has a summary."""
    raw = target.schema.raw_schema
    assert raw["openapi"].startswith("3.")
    for path, methods in raw["paths"].items():
        for method, operation in methods.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
