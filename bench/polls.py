"""The status-poll path alone: `stemdeck serve --no-workers`, one queued job, and closed-loop
clients polling `GET /v1/jobs/{id}` — what the API can answer when no separation competes for
the CPU (bench/load.py measures it under load).

    .venv/bin/python bench/polls.py [--clients 8,64] [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from pipeline import free_port, make_input, poll_throughput, wait_ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="8,64", help="Comma-separated client counts.")
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="stemdeck-polls-") as folder:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
        command = [sys.executable, "-m", "stemdeck.cli.main", "serve", "--port", str(port)]
        serve = subprocess.Popen(
            [*command, "--data", f"{folder}/data", "--no-workers"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(url, serve)
            song = make_input(Path(folder), 5)
            with song.open("rb") as handle:
                answer = httpx.post(
                    f"{url}/v1/jobs", files={"file": (song.name, handle, "audio/wav")}, timeout=60
                )
            job_id = answer.raise_for_status().json()["id"]
            for clients in (int(c) for c in args.clients.split(",")):
                r = poll_throughput(url, job_id, clients, args.seconds)
                print(f"{clients} clients: {r['per_second']:.0f} req/s, "
                      f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms")  # fmt: skip
        finally:
            serve.send_signal(signal.SIGINT)
            serve.wait(30)


if __name__ == "__main__":
    main()
