"""The gateway's frame: the built frontend at /, OpenAPI docs, CORS, JSON errors everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stemdeck.common.settings import Settings
from tests.api_env import api_thread

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    dist = tmp_path_factory.mktemp("dist")
    (dist / "index.html").write_text("<!doctype html><title>StemDeck</title>")
    (dist / "assets").mkdir()
    (dist / "assets" / "app.js").write_text("console.log('mixer')")
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        cors_origins=["https://app.example.org"],
        _env_file=None,
    )
    with api_thread(settings, frontend_dir=dist) as url, httpx.Client(base_url=url) as http:
        yield http


def test_the_frontend_is_served_with_client_side_routes(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "<title>StemDeck</title>" in page.text
    assert client.get("/assets/app.js").text == "console.log('mixer')"
    assert "<title>StemDeck</title>" in client.get("/jobs/job_abc").text  # the app's own route
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}


def test_the_page_is_served_with_a_content_security_policy(client: httpx.Client) -> None:
    for path in ("/", "/assets/app.js", "/jobs/job_abc"):
        answer = client.get(path)
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "object-src 'none'" in policy, policy
        assert "frame-ancestors 'none'" in policy and "connect-src 'self';" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_openapi_documents_the_upload_forms(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    form = spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert set(form["schema"]["properties"]) == {
        "file",
        "stems",
        "format",
        "model",
        "soft_mask",
        "callback_url",
    }
    for path in ("/v1/batches", "/v1/jobs/{job_id}/stems/{stem}", "/v1/jobs/{job_id}/mix"):
        assert path in spec["paths"]


def test_errors_are_json_with_a_detail(client: httpx.Client) -> None:
    wrong_method = client.put("/v1/jobs")
    assert wrong_method.status_code == 405 and wrong_method.json() == {
        "detail": "Method Not Allowed"
    }
    bad_query = client.get("/v1/jobs", params={"offset": -1})
    assert bad_query.status_code == 422
    assert bad_query.json()["detail"] == "query offset: Input should be greater than or equal to 0"
    unknown = client.get("/v1/batches/batch_nope")
    assert unknown.status_code == 404 and "batch_nope" in unknown.json()["detail"]


def test_cors_allows_the_configured_origin_only(client: httpx.Client) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = client.options("/v1/jobs", headers={"Origin": "https://app.example.org", **preflight})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.org"
    other = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_root_without_a_built_frontend_points_to_the_docs(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)
    with api_thread(settings, frontend_dir=tmp_path / "no-dist") as url:
        assert httpx.get(url).json()["docs"] == "/docs"
