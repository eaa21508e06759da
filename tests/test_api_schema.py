"""The API's contract (issue 24): the OpenAPI document describes every record and result field
the API returns, workers cannot write a result it does not describe, and the web app's types
(`frontend/src/api-schema.ts`) are generated from it and current.

`assert_documented` checks a real answer against the served document itself; the whole
pipeline tests (test_api_pipeline.py) use it on finished jobs and albums.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # comes with schemathesis
import numpy as np
import pytest
from pydantic import ValidationError

from stemdeck.api.app import create_app
from stemdeck.api.context import job_view
from stemdeck.api.tags import Tags
from stemdeck.common.jobs import Job
from stemdeck.common.results import put
from stemdeck.common.settings import Settings
from stemdeck.eq.filters import band_definition
from stemdeck.genre.predict import GenrePrediction

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "frontend" / "scripts" / "api_types.py"


def assert_documented(spec: dict[str, Any], schema: str, value: Any) -> None:
    """`value` is valid against `components.schemas[schema]` of the OpenAPI document `spec`
    (every result model forbids undeclared keys, so an undocumented field fails here)."""
    root = {**spec, "$ref": f"#/components/schemas/{schema}"}
    jsonschema.Draft202012Validator(root).validate(value)


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), _env_file=None)
    return create_app(settings, frontend_dir=tmp_path_factory.mktemp("no-frontend")).openapi()


def test_the_generated_frontend_types_are_current() -> None:
    if not (ROOT / "frontend" / "node_modules" / ".bin" / "openapi-typescript").is_file():
        pytest.skip("frontend/node_modules is missing (scripts/build-frontend installs it)")
    run = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]


def test_the_record_routes_document_their_answers(spec: dict[str, Any]) -> None:
    answers = {
        ("/v1/jobs", "post", "201"): "JobView",
        ("/v1/jobs", "get", "200"): "JobList",
        ("/v1/jobs/{job_id}", "get", "200"): "JobView",
        ("/v1/jobs/{job_id}/cancel", "post", "200"): "JobView",
        ("/v1/batches", "post", "201"): "BatchView",
        ("/v1/batches/{batch_id}", "get", "200"): "BatchView",
        ("/v1/models", "get", "200"): "ModelList",
    }
    for (path, method, status), name in answers.items():
        content = spec["paths"][path][method]["responses"][status]["content"]
        assert content["application/json"]["schema"] == {"$ref": f"#/components/schemas/{name}"}
    schemas = spec["components"]["schemas"]
    results = schemas["Results"]
    assert results["additionalProperties"] is False and "required" not in results
    assert set(results["properties"]) == {
        "tags", "stems", "separation", "eq", "eq_bands", "genre", "analysis", "manifest",
    }  # fmt: skip
    for name in ("StemFile", "Separation", "EqRecommendation", "Genre", "Analysis"):
        assert schemas[name]["additionalProperties"] is False, name
    genre = schemas["Genre"]
    assert {"tags", "uncertain", "model"} <= set(genre["properties"])
    assert genre["required"] == ["label"]


def _genre() -> dict[str, Any]:
    """A tagger's result as the genre worker stores it (`GenrePrediction.to_json`)."""
    return GenrePrediction(
        labels=("rock", "pop", "jazz"),
        probabilities=np.array([0.5, 0.3, 0.2]),
        window_probabilities=np.array([[0.6, 0.3, 0.1], [0.4, 0.3, 0.3]]),
        windows=((0.0, 3.0), (3.0, 6.0)),
        model="musicnn",
        uncertain_below=0.55,
        tags=(("guitar", 0.81, "musicnn"), ("male vocal", 0.4, "musicnn")),
    ).to_json()


def test_workers_write_only_what_the_document_describes(spec: dict[str, Any]) -> None:
    job = Job(title="Song")
    put(job.results, "tags", Tags(title="Song", track_number=3).as_dict())
    put(job.results, "eq_bands", band_definition())
    put(job.results, "genre", _genre())
    put(job.results, "genre", {"label": None, "note": "too short to classify"})
    flat = {"gains_db": {"low": 0.0, "mid": 0.0, "high": 0.0}, "spread_db": None, "windows": 0}
    put(job.results, "eq", {"vocals": {**flat, "note": "left flat: silent"}})
    put(job.results, "analysis", {"note": "too short to analyse"})
    assert job.results["genre"] == {"label": None, "note": "too short to classify"}  # as given
    assert_documented(spec, "JobView", job_view(job))

    refused = [
        ("genre", {**_genre(), "mood": "happy"}),  # a field the API does not document
        ("genre", {"confidence": 0.5}),  # label missing
        ("eq", {"vocals": {**flat, "windows": "many"}}),  # mistyped
        ("separation", {"seconds": 1.0}),  # incomplete
        ("parts_done", ["genre"]),  # bookkeeping is no result
    ]
    for key, value in refused:
        with pytest.raises(ValidationError):
            put(job.results, key, value)
    assert "parts_done" not in job.results and "separation" not in job.results
