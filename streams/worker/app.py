"""The Faust worker: the event topic -> projection state -> ClickHouse, in micro-batches.

Thin glue (docs/architecture.md): `streams.worker.fetcher` takes whole micro-batches off the
event topic and hands each to the Faust agent through an in-memory channel; the agent feeds
them to `streams.worker.pipeline` (project, dead letters, gather, write in order, commit).
Offsets are committed after the write; they only save work: a redelivered message at or before
a partition's checkpoint is recognised and skipped, so exactness never depends on them.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import faust
from aiohttp import web
from faust.app.base import BootStrategy
from mode import ServiceT
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from projections.projection import Record
from projections.store import StateStore
from streams.kafka_security import faust_credentials
from streams.metrics import WorkerMetrics, serve_metrics
from streams.settings import Settings
from streams.topics import dead_letter_topic, worker_group
from streams.worker import WORKER_WRITE_MAX
from streams.worker.fetcher import TP, BatchFetcher
from streams.worker.pipeline import BatchLostError, Pipeline
from streams.worker.reader import KafkaMessageReader
from streams.worker.stall import watch

log = logging.getLogger("frontline.worker")

__all__ = ["BatchLostError", "FaustDeadLetters", "Pipeline", "create_worker_app"]

# How long a dead letter may wait for Kafka's acknowledgement before it is sent again.
DEAD_LETTER_ACK_S = 30.0


class _NotAcknowledged(Exception):  # noqa: N818 - what happened
    def __init__(self, records: list[bytes], cause: BaseException | None) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.records = records


@dataclass
class FaustDeadLetters:
    """The dead-letter topic, through the Faust app's producer: `send` returns once Kafka has
    acknowledged every record; while it does not, consumption waits (like a ClickHouse
    outage): a dead letter is never skipped, so neither is its offset."""

    topic: faust.TopicT
    metrics: WorkerMetrics

    async def send(self, records: list[bytes]) -> None:
        remaining = list(records)

        def note(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "dead-letter send failed for %d record(s) (%s); consumption paused, "
                "retrying in %.1fs",
                len(remaining),
                exc,
                wait,
            )

        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(_NotAcknowledged),
            wait=wait_exponential(multiplier=0.5, max=30),
            before_sleep=note,
            reraise=True,
        ):
            with attempt:
                try:
                    remaining = await self._send_once(remaining)
                except _NotAcknowledged as exc:
                    remaining = exc.records  # only these are sent again
                    raise

    async def _send_once(self, records: list[bytes]) -> list[bytes]:
        """Send every record; [] when all are acknowledged, else raise with those that
        are not (only they are sent again)."""
        failed: list[bytes] = []
        problem: BaseException | None = None
        sent: list[tuple[bytes, Awaitable[Any]]] = []
        for record in records:
            try:
                sent.append((record, await self.topic.send(value=record)))
            except Exception as exc:  # aiokafka/faust raise many types; all mean "retry"
                failed.append(record)
                problem = exc
        for record, acknowledged in sent:
            try:
                # Bounded: an acknowledgement that never comes (a producer wedged by a broker
                # restart) must not hold consumption forever; the record is sent again (dead
                # letters are at-least-once).
                await asyncio.wait_for(acknowledged, DEAD_LETTER_ACK_S)
                self.metrics.dead_letters.inc()
            except Exception as exc:
                failed.append(record)
                problem = exc
        if failed:
            self.metrics.dead_letter_failures.inc(len(failed))
            raise _NotAcknowledged(failed, problem)
        return []


@dataclass
class Handoff:
    """Batches the fetcher has handed to the agent, numbered from 1: the agent checks it gets
    them all, the rebalance callback waits until all are written."""

    handed: int = 0

    def next(self) -> int:
        self.handed += 1
        return self.handed

    def ahead_of(self, seq: int) -> bool:
        """Another batch is already handed over: catching up."""
        return self.handed > seq


async def _health(pipeline: Pipeline, request: web.Request) -> web.Response:
    """200 while the projection runs; 503 once it stopped (the process is exiting)."""
    if pipeline.failed is not None:
        return web.json_response({"status": "failed", "error": str(pipeline.failed)}, status=503)
    return web.json_response({"status": "ok", "batches_done": pipeline.batches_done})


class _BatchBoot(BootStrategy):
    # The event topics are fetched by streams.worker.fetcher in whole batches; Faust's per-message
    # consumer (and its conductor) are not started. Faust documents this switch for subclasses.
    enable_kafka_consumer = False

    def tables(self) -> Iterable[ServiceT]:
        # No Faust tables (docs/architecture.md); their recovery would wait for an assignment
        # from the consumer that is not started.
        return []


class WorkerApp(faust.App):
    BootStrategy = _BatchBoot


def create_worker_app(
    settings: Settings,
    *,
    batch_max: int = 5000,
    batch_within_s: float = 0.2,
    write_max: int = WORKER_WRITE_MAX,
    metrics_port: int | None = None,
) -> faust.App:
    """The Faust app of one deployment; its id (= consumer group) carries the topic prefix."""
    app = WorkerApp(
        worker_group(settings),
        broker=[f"kafka://{server}" for server in settings.bootstrap_servers],
        broker_credentials=faust_credentials(settings),
        store="memory://",
        web_enabled=False,
        topic_disable_leader=True,
        topic_allow_declare=False,
        producer_acks=-1,
        logging_config=None,
        # Faust wants a data directory even without tables; not the current directory.
        datadir=str(Path(tempfile.gettempdir()) / f"frontline-faust.{worker_group(settings)}"),
    )
    # One batch queued at most: the fetcher stays one batch ahead of the agent (memory: one
    # batch fetched, one queued, one projected; rows of up to write_max messages waiting and
    # as many being written).
    batches = app.channel(maxsize=1)
    dead = app.topic(dead_letter_topic(settings), value_serializer="raw", key_serializer="raw")
    metrics = WorkerMetrics()
    pipeline = Pipeline(
        StateStore(settings.clickhouse),
        FaustDeadLetters(dead, metrics),
        write_max=write_max,
        metrics=metrics,
    )
    handoff = Handoff()

    async def on_revoked(revoked: set[TP]) -> None:
        # Finish and commit what was fetched before letting the partitions go; the new owner
        # loads their state from ClickHouse. After a failure nothing more is written: the
        # partitions go as they are, and the next owner resumes from the checkpoints.
        await pipeline.drain(handoff.handed)
        pipeline.forget(revoked)

    fetcher = BatchFetcher(
        settings, batch_max=batch_max, within_s=batch_within_s, on_revoked=on_revoked
    )
    pipeline.on_written = fetcher.commit_written
    pipeline.reader = KafkaMessageReader(settings)
    pipeline.partitions = fetcher.partition_count
    pipeline.bounds = fetcher.bounds

    @app.task  # type: ignore[untyped-decorator]  # faust's decorator is untyped
    async def metrics_server() -> None:
        port = settings.worker_metrics_port if metrics_port is None else metrics_port
        if not port:
            return
        web_app = web.Application()
        web_app.router.add_get("/metrics", partial(serve_metrics, metrics.registry))
        web_app.router.add_get("/healthz", partial(_health, pipeline))
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, settings.http_host, port).start()
        except OSError as exc:
            # A second worker on the same machine: it counts all the same, without /metrics.
            log.warning(
                "metrics port %s:%d is not available (%s); this worker serves no /metrics "
                "(give each worker its own --metrics-port)",
                settings.http_host,
                port,
                exc.strerror or exc,
            )
            await runner.cleanup()
            return
        log.info("metrics on http://%s:%d/metrics", settings.http_host, port)

    def waiting() -> str | None:
        handed, done = handoff.handed, pipeline.batches_done
        if handed > done:
            return f"batch {done + 1} of {handed} handed over is not written"
        behind = fetcher.behind(lambda tp: s.checkpoint if (s := pipeline.states.get(tp)) else None)
        if behind:
            return f"{behind:,} message(s) wait in Kafka past the checkpoints"
        unanswered = fetcher.unanswered()
        return f"no fetch of {unanswered} assigned partition(s) answered" if unanswered else None

    @app.task  # type: ignore[untyped-decorator]  # faust's decorator is untyped
    async def watch_for_stalls() -> None:
        if settings.worker_stall_s:
            await watch(settings.worker_stall_s, lambda: pipeline.batches_done, waiting)

    @app.task  # type: ignore[untyped-decorator]  # faust's decorator is untyped
    async def fetch_batches() -> None:
        # Faust's consumer opens the flow into stream queues on its first assignment; with that
        # consumer off (_BatchBoot), the fetcher opens it.
        app.flow_control.resume()
        await fetcher.start()
        try:
            while True:
                messages = await fetcher.next_batch()
                if messages:
                    await batches.send(value=(handoff.next(), messages))
        finally:
            # Stopping: a rebalance must not wait for the batches handed to the agent.
            await pipeline.close()
            await fetcher.stop()

    @app.agent(batches, concurrency=1)  # type: ignore[arg-type]  # Stream vs StreamT
    async def project_events(
        stream: faust.Stream[tuple[int, list[Record]]],
    ) -> AsyncIterator[None]:
        last_report = time.monotonic()
        try:
            async for seq, messages in stream:
                try:
                    # Another batch handed over already: catching up, its rows can join this write.
                    await pipeline.handle(seq, messages, partial(handoff.ahead_of, seq))
                except Exception as exc:
                    # Never go on past a batch that was not fully projected and written: stop the
                    # whole worker, loudly, with nothing committed beyond the last checkpoint.
                    # Faust would restart the agent and the rest of the batch would be skipped.
                    await pipeline.fail(exc)
                    log.critical(
                        "projection stopped at batch %d: %s: %s. Nothing past the last ClickHouse "
                        "checkpoint is committed; a restarted worker resumes from there.",
                        seq,
                        type(exc).__name__,
                        exc,
                    )
                    await app.crash(exc)
                    return
                if time.monotonic() - last_report > 10:
                    t = pipeline.totals
                    log.info(
                        "projected: %d accepted, %d duplicates, %d conflicts, %d redelivered, "
                        "%d rejected",
                        t.accepted,
                        t.duplicates,
                        t.conflicts,
                        t.redelivered,
                        t.rejected,
                    )
                    last_report = time.monotonic()
                yield None
        finally:
            # The agent stops with the worker: batches handed over are no longer projected.
            await pipeline.close()

    return app
