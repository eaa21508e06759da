"""`stemdeck submit` / `stemdeck status` against a running API (here on the embedded backends:
local storage, SQLite job store and broker): ids printed, clear errors, exit codes."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from stemdeck.cli.client import _stage, track_folder
from stemdeck.cli.main import app
from stemdeck.common.jobs import STAGES, Job, JobStatus, fail, finish_stage, move, start_stage
from stemdeck.common.jobstore import open_job_store
from stemdeck.common.settings import Settings
from stemdeck.common.stages import SEPARATE
from stemdeck.common.storage import open_storage
from tests.api_env import api_thread, song_file
from tests.servers import free_port

pytestmark = pytest.mark.service

runner = CliRunner()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("embedded"), _env_file=None)


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[str]:
    with api_thread(settings) as url:
        yield url


def test_submit_of_two_files_makes_a_batch_and_prints_the_ids(server: str, tmp_path: Path) -> None:
    songs = [
        song_file(tmp_path / "01 - Opening.wav", seconds=1.5, seed=1),
        song_file(tmp_path / "02 - Closing.wav", seconds=1.5, seed=2),
    ]
    result = runner.invoke(
        app, ["submit", *map(str, songs), "--server", server, "--no-wait", "--format", "flac"]
    )
    assert result.exit_code == 0, result.output
    batch_id = re.search(r"batch (batch_\S+) \(2 tracks\)", result.output).group(1)
    job_ids = re.findall(r"job (job_\S+)", result.output)
    assert len(job_ids) == 2
    assert f"stemdeck status {batch_id}" in result.output
    batch = httpx.get(f"{server}/v1/batches/{batch_id}").json()
    assert batch["job_ids"] == job_ids
    assert [(j["track_number"], j["title"]) for j in batch["jobs"]] == [
        (1, "Opening"),
        (2, "Closing"),
    ]
    assert {j["options"]["format"] for j in batch["jobs"]} == {"flac"}

    status = runner.invoke(app, ["status", batch_id, "--server", server])
    assert status.exit_code == 0, status.output
    for job_id in job_ids:
        assert re.search(rf"{job_id}\s+queued", status.output)


def test_a_refused_upload_prints_the_servers_reason(server: str, tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp3"
    fake.write_text("not music\n" * 100)
    result = runner.invoke(app, ["submit", str(fake), "--server", server, "--no-wait"])
    assert result.exit_code == 1
    assert "415" in result.output and "'notes.mp3' is not an audio file" in result.output


def test_status_of_an_unknown_id_is_a_clear_error(server: str) -> None:
    result = runner.invoke(app, ["status", "job_doesnotexist", "--server", server])
    assert result.exit_code == 1
    assert "404" in result.output and "no job 'job_doesnotexist'" in result.output


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    song = song_file(tmp_path / "song.wav", seconds=1.5)
    for args in (["submit", str(song), "--no-wait"], ["status", "job_x"]):
        result = runner.invoke(app, [*args, "--server", nowhere])
        assert result.exit_code == 1
        assert f"cannot reach the StemDeck server at {nowhere}" in result.output
        assert "Traceback" not in result.output


def test_downloads_go_to_album_and_numbered_track_folders(tmp_path: Path) -> None:
    job = {"id": "job_1", "title": "Song: One?", "track_number": 3, "results": {}}
    assert (
        track_folder(tmp_path, job, "Best / Album") == tmp_path / "Best - Album" / "03 - Song_ One_"
    )
    tagged = {"id": "job_2", "title": "Solo", "track_number": None}
    tagged["results"] = {"tags": {"album": "Tagged"}}
    assert track_folder(tmp_path, tagged, None) == tmp_path / "Tagged" / "Solo"
    plain = {"id": "job_3", "title": "", "track_number": None, "results": {}}
    assert track_folder(tmp_path, plain, None) == tmp_path / "job_3"


def test_the_bars_show_the_running_stages_label(
    server: str, settings: Settings, tmp_path: Path
) -> None:
    """A track's bar reads the stage's label from the server's record ("Separating stems"),
    not its internal name."""
    song = song_file(tmp_path / "running.wav", seconds=1.5)
    result = runner.invoke(app, ["submit", str(song), "--server", server, "--no-wait"])
    job_id = re.search(r"job (job_\S+)", result.output).group(1)
    record = httpx.get(f"{server}/v1/jobs/{job_id}").json()
    assert _stage(record) == "queued"
    open_job_store(settings).update_job(job_id, lambda j: start_stage(j, SEPARATE.name))
    record = httpx.get(f"{server}/v1/jobs/{job_id}").json()
    assert _stage(record) == SEPARATE.label == "Separating stems"


def test_status_waits_and_downloads_finished_stems_again_after_an_interruption(
    server: str, settings: Settings, tmp_path: Path
) -> None:
    """The pipeline's end is played here by hand (stems stored, stages finished), so the
    client's follow-and-download path runs without the EQ and genre workers."""
    song = song_file(tmp_path / "04 - Finished.wav", seconds=1.5)
    result = runner.invoke(app, ["submit", str(song), "--server", server, "--no-wait"])
    job_id = re.search(r"job (job_\S+)", result.output).group(1)
    storage, store = open_storage(settings), open_job_store(settings)
    stems = {}
    for index, stem in enumerate(("vocals", "drums", "bass", "other")):
        key = f"jobs/{job_id}/stems/{stem}.wav"
        payload = bytes([index]) * (100_000 + index)
        storage.put_stream(key, io.BytesIO(payload))
        stems[stem] = {"key": key, "format": "wav", "bytes": len(payload)}

    def finish(job: Job) -> None:
        job.results["stems"] = stems
        for stage in STAGES:
            finish_stage(job, stage)
        move(job, JobStatus.SUCCEEDED)

    store.update_job(job_id, finish)
    out = tmp_path / "out"
    args = ["status", job_id, "--server", server, "--wait", "--out", str(out)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    folder = out / "04 - Finished"
    assert sorted(p.name for p in folder.iterdir()) == [f"{s}.wav" for s in sorted(stems)]
    assert (folder / "bass.wav").read_bytes() == bytes([2]) * 100_002
    (folder / "drums.wav").write_bytes(b"half")  # an interrupted download
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert (folder / "drums.wav").read_bytes() == bytes([1]) * 100_001


def test_a_failed_job_is_reported_with_exit_status_1(
    server: str, settings: Settings, tmp_path: Path
) -> None:
    song = song_file(tmp_path / "doomed.wav", seconds=1.5)
    result = runner.invoke(app, ["submit", str(song), "--server", server, "--no-wait"])
    job_id = re.search(r"job (job_\S+)", result.output).group(1)
    open_job_store(settings).update_job(job_id, lambda j: fail(j, "separate", "model exploded"))
    status = runner.invoke(app, ["status", job_id, "--server", server, "--wait"])
    assert status.exit_code == 1
    assert "failed" in status.output and "model exploded" in status.output
