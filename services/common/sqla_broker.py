"""kombu's SQLAlchemy transport, fixed for the embedded SQLite broker.

kombu 5.7's `sqla` transport hands every broker transport option to `create_engine`, so the
options Celery needs (`polling_interval`, `visibility_timeout`) make it fail with a TypeError;
it also caches one engine per URL in a class attribute, which a prefork worker's children
inherit across fork (SQLite connections must not cross a fork). This subclass passes only
`engine_options` to the engine, keeps one engine per process, waits on a locked SQLite file
instead of failing at once, and uses WAL so the API's writes and the workers' polls overlap.
`celery_app` registers it under kombu's `sqla`/`sqlalchemy` aliases.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from kombu.transport import sqlalchemy as base
from sqlalchemy import create_engine, event
from sqlalchemy.orm import sessionmaker

_LOCK = threading.Lock()
SQLITE_BUSY_TIMEOUT_S = 30


class Channel(base.Channel):
    _per_process: dict[tuple[int, str], Any] = {}  # noqa: RUF012 (a cache shared on purpose)

    def _engine_from_config(self) -> Any:
        conninfo = self.connection.client
        options = dict(conninfo.transport_options.get("engine_options") or {})
        url = conninfo.hostname
        if url.startswith("sqlite"):
            options.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_S})
            engine = create_engine(url, **options)

            @event.listens_for(engine, "connect")
            def _wal(connection: Any, _record: Any) -> None:
                connection.execute("PRAGMA journal_mode=WAL")

            return engine
        return create_engine(url, **options)

    def _open(self) -> Any:
        key = (os.getpid(), self.connection.client.hostname)
        with _LOCK:
            if key not in self._per_process:
                engine = self._engine_from_config()
                base.metadata.create_all(engine)
                self._per_process[key] = engine, sessionmaker(bind=engine)
        return self._per_process[key]


class Transport(base.Transport):
    Channel = Channel
    #: Seconds between polls of an empty queue (kombu's default is 1 s).
    polling_interval = 0.15
