"""`stemdeck serve`: the embedded single-machine mode (SQLite broker and job store, local
storage, worker child processes) takes a job over HTTP and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.api_env import poll, separated, serve_process, song_file

pytestmark = pytest.mark.service


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.slow
def test_serve_separates_a_job_and_stops_with_its_workers(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
    env |= {"STEMDECK_MODEL_DIR": os.environ["STEMDECK_MODEL_DIR"], "STEMDECK_DEVICE": "cpu"}
    data.mkdir()
    log = tmp_path / "serve.log"
    with serve_process(env, data, log) as (url, process):
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            assert client.get("/readyz").status_code == 200, client.get("/readyz").text
            song = song_file(tmp_path / "Embedded Song.wav", seconds=2.0)
            with song.open("rb") as handle:
                answer = client.post(
                    "/v1/jobs",
                    files={"file": (song.name, handle)},
                    data={"model": str(tiny_model_path)},
                )
            assert answer.status_code == 201, answer.text
            job_id = answer.json()["id"]
            record = poll(lambda: client.get(f"/v1/jobs/{job_id}").json(), separated, 120)
            assert record["stages"]["separate"]["status"] == "succeeded", (record, log.read_text())
            stem = client.get(f"/v1/jobs/{job_id}/stems/vocals", headers={"Range": "bytes=0-3"})
            assert stem.status_code == 206 and stem.content == b"RIFF"
        assert (data / "jobs.sqlite").is_file() and (data / "broker.sqlite").is_file()
        assert (data / "objects" / "jobs" / job_id / "stems" / "vocals.wav").is_file()
        assert f"StemDeck is running at {url}" in log.read_text()
        children = psutil.Process(process.pid).children(recursive=True)
        assert children, "no worker processes were started"
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        code = process.wait(30)
    stopped = time.monotonic() - started
    assert code == 0, log.read_text()
    assert stopped < 15, f"stopping took {stopped:.1f} s"
    deadline = time.monotonic() + 5
    while not all(_gone(child.pid) for child in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [child.pid for child in children if not _gone(child.pid)]
    assert left == [], f"orphaned worker processes: {left}"
