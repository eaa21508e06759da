"""Container healthchecks for StemDeck's images: exit 0 when healthy, 1 (with a reason) when not.

    python deploy/healthcheck.py http URL       URL answers 2xx or 3xx (the API: /healthz, /readyz)
    python deploy/healthcheck.py worker ROLE    this container's Celery worker for ROLE answers a
                                                ping through the broker (node ROLE@hostname, the
                                                name `stemdeck worker ROLE` gives itself)

A worker counts as healthy only when the broker carries the ping both ways and its main process
answers, which a long-running task does not block (tasks run in the pool's child processes).
Every check ends within --timeout seconds, whatever the network does.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import urllib.error
import urllib.request

ROLES = ("separate", "eq", "genre", "coordinator")


def check_http(url: str, timeout: float) -> str:
    """'' when `url` answers below 400, else the reason."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url} unreachable: {exc}"
    return "" if status < 400 else f"{url} answered {status}"


def node_name(role: str, hostname: str | None = None) -> str:
    """The Celery node name `stemdeck worker ROLE` uses in this container (`-n ROLE@%h`)."""
    return f"{role}@{hostname or socket.gethostname()}"


def check_worker(role: str, timeout: float) -> str:
    """'' when this host's worker for `role` answers a ping, else the reason."""
    from stemdeck.common.celery_app import make_app
    from stemdeck.common.settings import get_settings

    node = node_name(role)
    app = make_app(get_settings())
    try:
        replies = app.control.ping(destination=[node], timeout=timeout) or []
    except Exception as exc:  # the broker is down or refuses us
        return f"cannot reach the broker: {exc}"
    finally:
        app.close()
    for reply in replies:
        if reply.get(node, {}).get("ok") == "pong":
            return ""
    return f"worker {node} did not answer within {timeout:g} s"


def build_parser() -> argparse.ArgumentParser:
    """The command line: `http URL` or `worker ROLE`, with --timeout."""
    parser = argparse.ArgumentParser(description="StemDeck container healthcheck.")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    sub = parser.add_subparsers(dest="kind", required=True)
    http = sub.add_parser("http", help="an HTTP endpoint answers")
    http.add_argument("url")
    worker = sub.add_parser("worker", help="this container's Celery worker answers a ping")
    worker.add_argument("role", choices=ROLES)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def give_up(*_: object) -> None:
        print(f"unhealthy: no answer within {args.timeout + 5:g} s", file=sys.stderr)
        sys.stderr.flush()
        raise SystemExit(1)

    # A hard stop besides the per-call timeouts (connection retries can add up).
    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(int(args.timeout) + 5)
    if args.kind == "http":
        problem = check_http(args.url, args.timeout)
    else:
        problem = check_worker(args.role, args.timeout)
    signal.alarm(0)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
