"""Service overhead on loopback: what a job costs beyond the separator's own compute, and how
fast the API answers status polls.

Starts `stemdeck serve` (embedded mode: SQLite broker and job store, local storage) on a free
port with a fresh data folder, submits one song of --seconds seconds, waits for the job to end,
and reports:
  * end-to-end time (submit to `succeeded`) minus the separator's compute time (the time its
    model spent, as the worker records it): queueing, storage, EQ, genre/analysis and
    finalisation — the service's own cost. Target: <= 3 s for a 60 s song.
  * each stage's wall time from the record;
  * the separator's real-time factor inside the worker beside the same model on the same song
    run as `stemdeck separate` runs it (a fresh process, after the service has stopped): the
    worker should stay within 1.2x of it;
  * status-poll throughput: --clients concurrent clients polling `GET /v1/jobs/{id}` for
    --poll-seconds, with p50 and p99 latency.

    .venv/bin/python bench/pipeline.py [--seconds 60] [--clients 8] [--poll-seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from stemdeck.common.audio import TARGET_RATE, read_audio, write_audio

SONG = Path(__file__).resolve().parents[2] / "shared/audio/real/Karissa_Hobbs_-_Lets_Go_Fishin.ogg"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_input(folder: Path, seconds: float) -> Path:
    """A real song cut to `seconds` (looped if shorter); generated tones when it is absent."""
    path = folder / "bench-song.wav"
    if SONG.is_file():
        audio = read_audio(SONG)
        frames = round(seconds * TARGET_RATE)
        reps = int(np.ceil(frames / audio.shape[1]))
        audio = np.tile(audio, (1, reps))[:, :frames]
    else:
        t = np.arange(round(seconds * TARGET_RATE)) / TARGET_RATE
        mono = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 55 * t)
        audio = np.stack([mono, mono]).astype(np.float32)
    write_audio(path, audio)
    return path


def wait_ready(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"stemdeck serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("stemdeck serve did not become ready")


def wait_warm(data: Path, seconds: float = 180) -> float:
    """Seconds until every worker has loaded its models (its log says "warmed up"): the figure
    is a running service's cost per job, so the one-off start-up is reported apart."""
    started = time.monotonic()
    logs = [data / "logs" / f"worker-{role}.log" for role in ("separate", "eq", "genre")]
    while time.monotonic() - started < seconds:
        if all(p.is_file() and "warmed up" in p.read_text() for p in logs):
            return time.monotonic() - started
        time.sleep(0.2)
    raise SystemExit(f"the workers did not warm up in {seconds:g} s; see {data / 'logs'}")


def poll_throughput(url: str, job_id: str, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        mine: list[float] = []
        with httpx.Client(timeout=10) as http:
            while time.monotonic() < stop:
                began = time.perf_counter()
                http.get(f"{url}/v1/jobs/{job_id}").raise_for_status()
                mine.append(time.perf_counter() - began)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "per_second": len(latencies) / seconds,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


#: `stemdeck separate`'s path for the server's default model, timed by the engine itself.
BENCHMARK_CODE = """
import json, sys, tempfile
from pathlib import Path
from stemdeck.separator.repository import open_model
from stemdeck.separator.separate import Separator
separator = Separator(open_model(None))
with tempfile.TemporaryDirectory() as out:
    result = separator.separate_file(Path(sys.argv[1]), Path(out))
print(json.dumps({"rtf": result.real_time_factor, "seconds": result.seconds}))
"""


def benchmark_rtf(song: Path) -> float:
    """The default model's RTF on `song` outside the service, in a fresh process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
    run = subprocess.run(
        [sys.executable, "-c", BENCHMARK_CODE, str(song)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(run.stdout.strip().splitlines()[-1])["rtf"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--poll-seconds", type=float, default=10.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="stemdeck-bench-") as folder:
        data = Path(folder) / "data"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stemdeck.cli.main",
                "serve",
                "--port",
                str(port),
                "--data",
                str(data),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(url, serve)
            warm = wait_warm(data)
            song = make_input(Path(folder), args.seconds)
            began = time.perf_counter()
            with song.open("rb") as handle:
                answer = httpx.post(
                    f"{url}/v1/jobs", files={"file": (song.name, handle, "audio/wav")}, timeout=60
                )
            answer.raise_for_status()
            job_id = answer.json()["id"]
            while True:
                record = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()
                if record["status"] in ("succeeded", "failed", "cancelled"):
                    break
                time.sleep(0.25)  # about the page's pace; faster polls load the cores
            total = time.perf_counter() - began
            if record["status"] != "succeeded":
                raise SystemExit(f"job ended {record['status']}: {record.get('error')}")
            compute = record["results"]["separation"]["seconds"]
            worker_rtf = record["results"]["separation"]["real_time_factor"]
            polls = poll_throughput(url, job_id, args.clients, args.poll_seconds)
        finally:
            serve.send_signal(signal.SIGINT)
            serve.wait(60)
        cli_rtf = benchmark_rtf(song)

    stages = {name: stage["seconds"] for name, stage in record["stages"].items()}
    print(f"song: {args.seconds:g} s; embedded mode (SQLite broker and job store, local files)")
    print(f"workers warmed up {warm:.1f} s after the API was ready (once per start)")
    print(f"end to end: {total:.2f} s; separator compute: {compute:.2f} s; "
          f"service overhead: {total - compute:.2f} s (target <= 3 s)")  # fmt: skip
    print(f"separator RTF: {worker_rtf:.3f} in the worker, {cli_rtf:.3f} as `stemdeck separate` "
          f"runs it (ratio {worker_rtf / cli_rtf:.2f}; target <= 1.2)")  # fmt: skip
    print("stage wall times (s): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    print(f"status polls: {args.clients} clients for {args.poll_seconds:g} s: "
          f"{polls['per_second']:.0f} req/s, p50 {polls['p50_ms']:.1f} ms, "
          f"p99 {polls['p99_ms']:.1f} ms")  # fmt: skip
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "pipeline.json").write_text(
        json.dumps(
            {
                "total_s": total,
                "compute_s": compute,
                "worker_rtf": worker_rtf,
                "benchmark_rtf": cli_rtf,
                "stages": stages,
                "polls": polls,
            }
        )
    )


if __name__ == "__main__":
    main()
