"""Load on the API over loopback: many clients polling job records while songs are submitted.

Starts `stemdeck serve` (embedded mode) with a fresh data folder and waits for its workers to
warm up; then, for --seconds, --pollers concurrent clients poll `GET /v1/jobs/{id}` of jobs
already submitted while --jobs short songs are uploaded at an even pace. Afterwards every job
must end `succeeded` (a job that fails or never ends is counted as lost). Prints throughput,
p50/p99 latency and error counts per request kind, and the API process's memory (RSS) at the
start, after 15 s of load (threads, connections and caches made), its peak and at the end: flat
memory means the end is no higher than the warmed-up figure plus noise.

    .venv/bin/python bench/load.py [--pollers 200] [--jobs 50] [--seconds 60] [--song-seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psutil
from pipeline import free_port, wait_ready, wait_warm

from stemdeck.common.audio import TARGET_RATE, write_audio

ENDED = ("succeeded", "failed", "cancelled")
#: RSS this far into the load is the warmed-up baseline (threads, connections, caches made).
WARM_S = 15.0


@dataclass
class Tally:
    """Latencies (s) and errors of one kind of request."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def summary(self, seconds: float) -> str:
        ms = np.array(self.latencies or [0.0]) * 1000
        count = len(self.latencies)
        return (
            f"{count} ok ({count / seconds:.0f}/s), p50 {np.percentile(ms, 50):.1f} ms, "
            f"p99 {np.percentile(ms, 99):.1f} ms, errors {sum(self.errors.values())}"
            + (f" {self.errors}" if self.errors else "")
        )


def make_songs(folder: Path, count: int, seconds: float) -> list[Path]:
    """Distinct short music-like songs (tones, a bass line and noise bursts)."""
    t = np.arange(round(seconds * TARGET_RATE)) / TARGET_RATE
    songs = []
    for number in range(count):
        rng = np.random.default_rng(number)
        pitch = 110 * 2 ** (rng.integers(0, 24) / 12)
        mono = 0.2 * np.sin(2 * np.pi * pitch * t) + 0.2 * np.sin(2 * np.pi * pitch / 4 * t)
        mono += (np.sin(2 * np.pi * 2 * t) > 0.95) * rng.normal(0, 0.2, t.size)
        path = folder / f"load-{number:03d}.wav"
        write_audio(path, np.stack([mono, 0.9 * mono]).astype(np.float32))
        songs.append(path)
    return songs


async def submitter(
    client: httpx.AsyncClient, songs: list[Path], seconds: float, ids: list[str], tally: Tally
) -> None:
    gap = seconds / max(1, len(songs))
    for song in songs:
        began = time.perf_counter()
        try:
            answer = await client.post(
                "/v1/jobs", files={"file": (song.name, song.read_bytes(), "audio/wav")}
            )
            if answer.status_code == 201:
                ids.append(answer.json()["id"])
                tally.latencies.append(time.perf_counter() - began)
            else:
                tally.error(str(answer.status_code))
        except httpx.HTTPError as exc:
            tally.error(type(exc).__name__)
        await asyncio.sleep(max(0.0, gap - (time.perf_counter() - began)))


async def poller(
    client: httpx.AsyncClient, ids: list[str], stop: float, tally: Tally, seed: int
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < stop:
        if not ids:
            await asyncio.sleep(0.05)
            continue
        began = time.perf_counter()
        try:
            answer = await client.get(f"/v1/jobs/{rng.choice(ids)}")
            if answer.status_code == 200:
                tally.latencies.append(time.perf_counter() - began)
            else:
                tally.error(str(answer.status_code))
        except httpx.HTTPError as exc:
            tally.error(type(exc).__name__)


async def watch_memory(
    process: psutil.Process, stop: float, samples: list[tuple[float, float]]
) -> None:
    """(seconds since the load began, RSS in MiB) every half second."""
    began = time.monotonic()
    while time.monotonic() < stop:
        samples.append((time.monotonic() - began, process.memory_info().rss / 2**20))
        await asyncio.sleep(0.5)


async def load(url: str, api: psutil.Process, songs: list[Path], args: argparse.Namespace) -> dict:
    ids: list[str] = []
    polls, submits = Tally(), Tally()
    rss = [(0.0, api.memory_info().rss / 2**20)]
    limits = httpx.Limits(max_connections=args.pollers + 10, max_keepalive_connections=args.pollers)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        began = time.monotonic()
        stop = began + args.seconds
        await asyncio.gather(
            submitter(client, songs, args.seconds * 0.8, ids, submits),
            watch_memory(api, stop, rss),
            *(poller(client, ids, stop, polls, seed) for seed in range(args.pollers)),
        )
        elapsed = time.monotonic() - began
    rss.append((elapsed, api.memory_info().rss / 2**20))
    return {"ids": ids, "polls": polls, "submits": submits, "rss": rss, "elapsed": elapsed}


def wait_ended(url: str, ids: list[str], seconds: float) -> dict[str, int]:
    """Final statuses of every job; 'lost' for one that did not end in time."""
    deadline = time.monotonic() + seconds
    final: dict[str, str] = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        while len(final) < len(ids) and time.monotonic() < deadline:
            for job_id in ids:
                if job_id not in final:
                    status = client.get(f"/v1/jobs/{job_id}").json()["status"]
                    if status in ENDED:
                        final[job_id] = status
            time.sleep(1.0)
    counts: dict[str, int] = {}
    for job_id in ids:
        state = final.get(job_id, "lost")
        counts[state] = counts.get(state, 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pollers", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--song-seconds", type=float, default=3.0)
    parser.add_argument("--drain-seconds", type=float, default=900.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="stemdeck-load-") as folder:
        data, port = Path(folder) / "data", free_port()
        url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
        command = [sys.executable, "-m", "stemdeck.cli.main", "serve", "--port", str(port)]
        serve = subprocess.Popen(
            [*command, "--data", str(data)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(url, serve)
            wait_warm(data)
            songs = make_songs(Path(folder), args.jobs, args.song_seconds)
            result = asyncio.run(load(url, psutil.Process(serve.pid), songs, args))
            outcome = wait_ended(url, result["ids"], args.drain_seconds)
        finally:
            serve.send_signal(signal.SIGINT)
            serve.wait(60)

    polls, submits, rss, elapsed = (result[k] for k in ("polls", "submits", "rss", "elapsed"))
    lost = args.jobs - outcome.get("succeeded", 0)
    print(f"load: {args.pollers} pollers for {elapsed:.0f} s, {args.jobs} songs of "
          f"{args.song_seconds:g} s submitted meanwhile; embedded mode on loopback")  # fmt: skip
    print(f"status polls: {polls.summary(elapsed)}")
    print(f"submissions:  {submits.summary(elapsed)}")
    print(f"jobs: {outcome} -> lost or not succeeded: {lost}")
    warm = next((mib for t, mib in rss if t >= WARM_S), rss[-1][1])
    peak = max(mib for _, mib in rss)
    print(f"API RSS (MiB): idle {rss[0][1]:.0f}, after {WARM_S:g} s of load {warm:.0f}, "
          f"peak {peak:.0f}, end {rss[-1][1]:.0f}")  # fmt: skip
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "load.json").write_text(
        json.dumps(
            {
                "pollers": args.pollers,
                "jobs": args.jobs,
                "elapsed_s": elapsed,
                "polls": {"count": len(polls.latencies), "errors": polls.errors},
                "submits": {"count": len(submits.latencies), "errors": submits.errors},
                "outcome": outcome,
                "rss_mib": {"idle": rss[0][1], "warm": warm, "peak": peak, "end": rss[-1][1]},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
