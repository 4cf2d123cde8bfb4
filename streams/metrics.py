"""Prometheus metrics of the worker and of HTTP ingest, each in a registry of its own.

The worker serves them on `--metrics-port` (FRONTLINE_WORKER_METRICS_PORT, default 6067) at
`/metrics`; `frontline serve` on its own port, beside `/v1/events`. Names are a public API
(dashboards and alerts use them): never rename one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger("frontline.metrics")

# Seconds from Kafka's append to the row being written: freshness (target p99 <= 1 s).
DELAY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
WRITE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Rows per write whose delay is observed: percentiles without a lock per event.
DELAY_SAMPLE = 64


class WorkerMetrics:
    """What `frontline worker` exposes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "frontline_worker_messages",
            "Messages projected, by outcome (accepted, duplicate, conflict, rejected, redelivered)",
            ["outcome"],
            registry=r,
        )
        self.rejected = Counter(
            "frontline_worker_rejected",
            "Messages dead-lettered, by code (conflicting_duplicate and misrouted included)",
            ["code"],
            registry=r,
        )
        self.dead_letters = Counter(
            "frontline_worker_dead_letters", "Dead letters acknowledged by Kafka", registry=r
        )
        self.dead_letter_failures = Counter(
            "frontline_worker_dead_letter_send_failures",
            "Dead-letter sends that failed and were retried (consumption waits meanwhile)",
            registry=r,
        )
        self.write_errors = Counter(
            "frontline_worker_clickhouse_write_errors",
            "ClickHouse reads or writes that failed and were retried",
            registry=r,
        )
        self.writes = Histogram(
            "frontline_worker_clickhouse_write_seconds",
            "Duration of one ClickHouse write (event log, counters, shifts, checkpoints)",
            buckets=WRITE_BUCKETS,
            registry=r,
        )
        self.delay = Histogram(
            "frontline_worker_event_to_clickhouse_seconds",
            "From Kafka's append of an accepted event to its row written (sampled per write)",
            buckets=DELAY_BUCKETS,
            registry=r,
        )
        self.checkpoint = Gauge(
            "frontline_worker_checkpoint_offset",
            "Last offset whose state ClickHouse holds, per partition",
            ["topic", "partition"],
            registry=r,
        )
        self.lag = Gauge(
            "frontline_worker_lag_messages",
            "Messages in Kafka beyond the ClickHouse checkpoint, per partition",
            ["topic", "partition"],
            registry=r,
        )
        self.unaccounted = Gauge(
            "frontline_worker_unaccounted_offsets",
            "Offsets up to the checkpoint that were never projected (a gap; 0 when consistent)",
            ["topic", "partition"],
            registry=r,
        )
        self.gaps = Counter(
            "frontline_worker_gaps_found",
            "Times a checkpoint was written with offsets unaccounted for",
            registry=r,
        )
        self._gap: dict[tuple[str, str], int] = {}

    def count(self, outcomes: Mapping[str, int], codes: Mapping[str, int]) -> None:
        for outcome, n in outcomes.items():
            if n:
                self.messages.labels(outcome).inc(n)
        for code, n in codes.items():
            self.rejected.labels(code).inc(n)

    def observe_delays(self, now_ms: int, kafka_ts_ms: Iterable[int]) -> None:
        for ts in kafka_ts_ms:
            self.delay.observe(max(now_ms - ts, 0) / 1000)

    def written(
        self, topic: str, partition: int, checkpoint: int, messages: int, begin: int, end: int
    ) -> None:
        """A partition's checkpoint was written; `begin`/`end`: Kafka's log start and end."""
        labels = (topic, str(partition))
        self.checkpoint.labels(*labels).set(checkpoint)
        self.lag.labels(*labels).set(max(end - checkpoint - 1, 0))
        gap = max(checkpoint + 1 - begin - messages, 0)
        if gap and not self._gap.get(labels):
            log.error(
                "%s[%d]: %d offsets up to checkpoint %d were never projected; run "
                "`frontline verify`",
                topic,
                partition,
                gap,
                checkpoint,
            )
            self.gaps.inc()
        self._gap[labels] = gap
        self.unaccounted.labels(*labels).set(gap)


class IngestMetrics:
    """What `frontline serve` exposes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "frontline_http_requests",
            "Requests to POST /v1/events, by status and error code ('' on 202)",
            ["status", "code"],
            registry=r,
        )
        self.events = Counter(
            "frontline_http_events",
            "Events in accepted requests, by result (accepted, rejected)",
            ["result"],
            registry=r,
        )
        self.rejected = Counter(
            "frontline_http_rejected",
            "Events rejected, by code (they go to the dead-letter topic)",
            ["code"],
            registry=r,
        )
        self.dead_letters = Counter(
            "frontline_http_dead_letters", "Dead letters sent by ingest", registry=r
        )
        self.seconds = Histogram(
            "frontline_http_request_seconds",
            "Duration of POST /v1/events, Kafka's acknowledgement included",
            buckets=WRITE_BUCKETS,
            registry=r,
        )


async def serve_metrics(registry: CollectorRegistry, request: web.Request) -> web.Response:
    """GET /metrics in Prometheus' text format."""
    body = generate_latest(registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
