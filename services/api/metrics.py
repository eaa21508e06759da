"""Prometheus metrics of the gateway, on a registry per app (tests run several apps at once).

What is counted, and its limits: requests by route and status; uploads accepted and refused;
jobs by end state and stage durations, observed when the API reads a record that has ended
(each job once per process) — jobs nobody asks about after they end are not seen, and with
several API replicas each counts what it saw; queue depths read from the broker at scrape time.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stemdeck.common import broker
from stemdeck.common.jobs import ENDED, Job, StageStatus

log = logging.getLogger(__name__)
STAGE_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 3600)
_SEEN_LIMIT = 50_000


class _QueueDepths(Collector):
    def __init__(self, broker_url: str) -> None:
        self.broker_url = broker_url

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "stemdeck_queue_depth", "Tasks waiting in each broker queue.", labels=["queue"]
        )
        try:
            depths = broker.queue_depths(self.broker_url)
        except Exception as exc:  # a scrape must not fail because the broker is down
            log.warning("queue depths unavailable: %s", exc)
            depths = {}
        for queue, depth in depths.items():
            family.add_metric([queue], depth)
        yield family


class Metrics:
    """The app's metrics; `observe(job)` is called wherever the API reads a record."""

    def __init__(self, broker_url: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "stemdeck_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.submitted = Counter(
            "stemdeck_jobs_submitted", "Jobs created by uploads.", registry=self.registry
        )
        self.refused = Counter(
            "stemdeck_uploads_refused",
            "Uploads refused, by HTTP status.",
            ["status"],
            registry=self.registry,
        )
        self.ended = Counter(
            "stemdeck_jobs_ended",
            "Jobs seen in an end state, by state (each job counted once).",
            ["state"],
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "stemdeck_stage_duration_seconds",
            "Duration of each finished pipeline stage of ended jobs.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_QueueDepths(broker_url))
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def observe(self, job: Job) -> None:
        """Count an ended job (once) and its stage durations."""
        if job.status not in ENDED:
            return
        with self._lock:
            if job.id in self._seen:
                return
            self._seen[job.id] = None
            if len(self._seen) > _SEEN_LIMIT:
                self._seen.popitem(last=False)
        self.ended.labels(job.status.value).inc()
        for name, stage in job.stages.items():
            if stage.status == StageStatus.SUCCEEDED and stage.seconds is not None:
                self.stage_seconds.labels(name).observe(stage.seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
