"""Looking at the task broker without a Celery consumer: is it reachable, how long are queues.

Redis queues are lists (LLEN); the embedded SQLite broker keeps kombu's tables, counted with one
query. Both answer within a short timeout so /readyz and /metrics never hang on a dead broker.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit

from stemdeck.common.celery_app import QUEUES

TIMEOUT_S = 2.0


class BrokerError(RuntimeError):
    """The broker could not be reached."""


def _sqlite_path(url: str) -> str | None:
    prefix = "sqla+sqlite:///"
    return url[len(prefix) :] if url.startswith(prefix) else None


def check(url: str) -> None:
    """Raise BrokerError when the broker does not answer."""
    path = _sqlite_path(url)
    try:
        if url.startswith(("redis://", "rediss://")):
            import redis

            client = redis.Redis.from_url(
                url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
            )
            client.ping()
            client.close()
        elif path is not None:
            with sqlite3.connect(path, timeout=TIMEOUT_S) as db:
                db.execute("SELECT 1").fetchone()
        else:
            from kombu import Connection

            with Connection(url, connect_timeout=TIMEOUT_S) as connection:
                connection.ensure_connection(max_retries=1)
    except Exception as exc:
        raise BrokerError(f"broker {_shown(url)} unreachable: {exc}") from exc


def queue_depths(url: str) -> dict[str, int]:
    """Messages waiting per StemDeck queue; {} when the broker kind is not countable here."""
    path = _sqlite_path(url)
    if url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
        )
        try:
            return {queue: int(client.llen(queue)) for queue in QUEUES}
        finally:
            client.close()
    if path is not None:
        depths = dict.fromkeys(QUEUES, 0)
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=TIMEOUT_S) as db:
            try:
                rows = db.execute(
                    "SELECT q.name, COUNT(m.id) FROM kombu_queue q JOIN kombu_message m "
                    "ON m.queue_id = q.id WHERE m.visible = 1 GROUP BY q.name"
                ).fetchall()
            except sqlite3.OperationalError:  # no task sent yet: kombu made no tables
                rows = []
        depths.update({name: int(count) for name, count in rows if name in depths})
        return depths
    return {}


def _shown(url: str) -> str:
    """The URL without its password."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url
