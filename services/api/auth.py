"""API keys and per-key rate limits.

With no keys configured (the embedded default) everyone is the same owner "" and nothing is
limited: one person on their own machine. With keys, each request names one with
`Authorization: Bearer KEY` or `X-API-Key: KEY`; jobs belong to a hash of the key (the key
itself is never stored), so one key cannot see another's jobs — they answer 404, not 403, so
ids of others' jobs are not even confirmed to exist.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections import deque

from fastapi import HTTPException, Request

from stemdeck.common.settings import Settings

WINDOW_S = 60.0


def owner_id(key: str) -> str:
    """A stable, non-reversible owner id for a key (what job records store)."""
    return "key_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.headers.get("x-api-key", "").strip()
    return key or None


def authenticate(settings: Settings, request: Request) -> str | None:
    """The owner id of the request's key; None when keys are off. 401 when keys are on and the
    request has no valid one (each configured key is compared in constant time)."""
    if not settings.api_keys:
        return None
    key = presented_key(request)
    if key is None:
        raise HTTPException(
            401,
            "this server needs an API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    valid = False
    for candidate in settings.api_keys:
        valid |= hmac.compare_digest(key.encode(), candidate.encode())
    if not valid:
        raise HTTPException(401, "unknown API key", headers={"WWW-Authenticate": "Bearer"})
    return owner_id(key)


class RateLimiter:
    """At most `per_minute` requests per owner in any sliding 60 s window (in this process;
    several API replicas each allow that many)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, owner: str, now: float | None = None) -> None:
        """Count one request, or raise 429 with Retry-After (seconds until a slot frees)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(owner, deque())
            while hits and hits[0] <= now - WINDOW_S:
                hits.popleft()
            if len(hits) >= self.per_minute:
                wait = max(1, math.ceil(hits[0] + WINDOW_S - now))
                raise HTTPException(
                    429,
                    f"rate limit of {self.per_minute} requests per minute reached; "
                    f"retry in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle owners so the table stays small
                for idle in [o for o, h in self._hits.items() if not h or h[-1] <= now - WINDOW_S]:
                    del self._hits[idle]
