"""The Faust worker: event topics -> projection state -> ClickHouse, in micro-batches.

Thin glue (docs/architecture.md): `streams.worker.fetcher` takes whole micro-batches off the event
topics and hands each to the Faust agent through an in-memory channel; the projection is
`projections.projection` (pure); the I/O is `projections.store` (blocking, run in one writer
thread so the event loop keeps its heartbeats). Batch N is written while batch N+1 is
projected, one write in flight, in order. Offsets are committed after the write; they only
save work: a redelivered message at or before a partition's checkpoint is recognised and
skipped, so exactness never depends on them.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import faust
from aiohttp import web
from faust.app.base import BootStrategy
from mode import ServiceT

from projections.projection import (
    FlushRows,
    Outcome,
    PartitionState,
    Record,
    mark_written,
    project,
    take_flush,
)
from projections.routing import keys_in_place
from projections.store import StateStore
from streams.dead_letters import dead_letter
from streams.kafka_security import faust_credentials
from streams.metrics import DELAY_SAMPLE, WorkerMetrics, serve_metrics
from streams.settings import Settings
from streams.topics import dead_letter_topic, worker_group
from streams.worker.fetcher import TP, BatchFetcher

log = logging.getLogger("frontline.worker")
T = TypeVar("T")


# How long a dead letter may wait for Kafka's acknowledgement before it is sent again.
DEAD_LETTER_ACK_S = 30.0

# Python's default (700, 10, 10) ran a young collection every ~100 events and a full one every
# ~20,000; those walked ~1.5 M objects (recent event ids, the presence cache of the time,
# fetched batches) and took 11 s of a 60 s catch-up. A batch's objects die by reference count,
# not by cycles, so collecting a hundred times less often loses nothing: 18,754 -> 22,112
# events/s at scale 0.2.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Collect cyclic garbage less often (GC_THRESHOLDS); for the worker process only."""
    gc.set_threshold(*GC_THRESHOLDS)


class BatchLostError(Exception):
    """A fetched batch never reached the projection; the worker stops rather than skip it."""


class PositionGapError(Exception):
    """Kafka delivered a partition from further on than ClickHouse's checkpoint: counting on
    would silently skip events, so the worker stops and says why."""


class PartitionsChangedError(Exception):
    """The event topic's partition count changed under a running worker: event_ids now hash
    elsewhere, and a retry of an event already counted could be counted again."""


@dataclass
class BatchStats:
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    redelivered: int = 0
    rejected: int = 0

    def add(self, other: BatchStats) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.conflicts += other.conflicts
        self.redelivered += other.redelivered
        self.rejected += other.rejected


@dataclass
class Projector:
    """Per-process projection state for the partitions this worker consumes."""

    store: StateStore
    # While the next batch is already fetched, the rows of consecutive batches are written
    # together, up to this many messages: fewer, larger inserts and one row per counter changed
    # in all of them (docs/architecture.md, "Flow of one event").
    write_max: int = 20_000
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "ch"))
    states: dict[TP, PartitionState] = field(default_factory=dict)
    totals: BatchStats = field(default_factory=BatchStats)
    # Called with {partition: last offset} once a batch's rows and checkpoints are written.
    on_written: Callable[[dict[TP, int]], Awaitable[None]] | None = None
    # How many partitions a topic has (the fetcher's metadata): where an event_id belongs.
    partitions: Callable[[str], int] = lambda topic: 1
    # Kafka's log start and end offsets of a partition, as last seen (for metrics).
    bounds: Callable[[TP], tuple[int, int]] = lambda tp: (0, 0)
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)
    batches_done: int = 0  # batches projected and written, in order
    failed: BaseException | None = None  # set once projection stopped for good
    _writing: asyncio.Task[None] | None = None
    _progress: asyncio.Condition = field(default_factory=asyncio.Condition)
    # Projected, not yet handed to a write: rows, the partitions they move, the last batch.
    _log_rows: list[list[object]] = field(default_factory=list)
    _uncounted_rows: list[list[object]] = field(default_factory=list)
    _touched: dict[TP, PartitionState] = field(default_factory=dict)
    _pending_seq: int = 0
    _pending_messages: int = 0
    _taken_seq: int = 0  # the last batch handed to a write

    def forget(self, tps: Iterable[TP]) -> None:
        """A revoked partition's state may move on elsewhere: reload it if it comes back."""
        for tp in tps:
            self.states.pop(tp, None)

    async def drain(self, batches: int) -> None:
        """Wait until the first `batches` batches are projected and written (or the projection
        failed: then the worker is stopping and nothing more will be written)."""
        async with self._progress:
            await self._progress.wait_for(
                lambda: self.batches_done >= batches or self.failed is not None
            )

    async def fail(self, exc: BaseException) -> None:
        """Record that projection stopped for good; wakes anyone draining."""
        async with self._progress:
            self.failed = exc
            self._progress.notify_all()

    async def _done(self, batches: int) -> None:
        async with self._progress:
            self.batches_done = batches
            self._progress.notify_all()

    async def wait_for_write(self) -> None:
        """Wait for the write in flight, if any (it retries until it succeeds)."""
        if self._writing is not None:
            await self._writing
            self._writing = None

    async def settle(self) -> None:
        """Write everything projected so far and wait until it is written."""
        await self._start_write()
        await self.wait_for_write()

    async def _io(self, what: str, fn: Callable[[], T]) -> T:
        """Run blocking ClickHouse I/O; on failure stop here (so consumption stops) and retry."""
        delay = 0.5
        loop = asyncio.get_running_loop()
        while True:
            try:
                return await loop.run_in_executor(self.executor, fn)
            except Exception as exc:  # driver raises many types; every one means "retry later"
                self.metrics.write_errors.inc()
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                log.warning(
                    "ClickHouse %s failed (%s: %s); consumption paused, retrying in %.1fs",
                    what,
                    type(exc).__name__,
                    first,
                    delay,
                )
                self.store.reset()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _load_new(self, messages: Sequence[Record]) -> None:
        firsts: dict[TP, int] = {}
        for m in messages:
            tp = (m.topic, m.partition)
            if tp not in self.states and tp not in firsts:
                firsts[tp] = m.offset  # offsets rise within a partition's messages
        if not firsts:
            return
        await self.settle()  # a load sees every write made before it
        for (topic, partition), first in firsts.items():
            state = await self._io(
                f"load of {topic}[{partition}]",
                lambda t=topic, p=partition: self.store.load(t, p),  # type: ignore[misc]
            )
            if first > state.applied + 1:
                raise PositionGapError(
                    f"{topic}[{partition}] resumes at offset {first} but ClickHouse "
                    f"({self.store.database}) holds state up to {state.applied}. The database "
                    "was probably dropped or restored while the group's offsets stayed. "
                    "Stop every worker of this deployment and start one: it moves the group "
                    "back to the checkpoints."
                )
            state.partitions = self.partitions(topic)
            self.states[(topic, partition)] = state

    async def handle(
        self,
        seq: int,
        messages: Sequence[Record],
        dead: faust.TopicT,
        more_fetched: Callable[[], bool] = lambda: False,
    ) -> BatchStats:
        """Project batch number `seq`; write it now, or with the next batches if `more_fetched()`
        says one is already waiting (catch-up) and fewer than `write_max` messages wait."""
        if seq != self._pending_seq + 1:
            # A batch between the fetcher and here was lost: counting on would move the
            # checkpoints past events never projected.
            raise BatchLostError(
                f"batch {seq} arrived after batch {self._pending_seq}; stopping without "
                "committing (a restart resumes from the ClickHouse checkpoints)"
            )
        await self._load_new(messages)
        self._check_partition_counts(messages)
        in_place = keys_in_place(messages, self.partitions)
        log_rows, uncounted_rows = self._log_rows, self._uncounted_rows
        dead_letters: list[bytes] = []
        touched = self._touched
        states = self.states
        accepted = redelivered = duplicates = conflicts = rejected = 0
        codes: Counter[str] = Counter()
        for msg, routed in zip(messages, in_place, strict=True):
            tp = (msg.topic, msg.partition)
            state = states[tp]
            result = project(state, msg, routed)
            outcome = result.outcome
            if outcome is Outcome.ACCEPTED:
                touched[tp] = state  # its checkpoint moves on
                accepted += 1
                # ClickHouse derives the presence rows from these (migration 0003).
                log_rows.append(result.log_row)  # type: ignore[arg-type]  # set when accepted
                continue
            if outcome is Outcome.ALREADY_APPLIED:
                redelivered += 1
                continue
            touched[tp] = state
            uncounted_rows.append(result.uncounted_row)  # type: ignore[arg-type]  # set here
            if outcome is Outcome.DUPLICATE:
                duplicates += 1
            else:
                if outcome is Outcome.CONFLICT:
                    conflicts += 1
                else:
                    rejected += 1
                assert result.rejection is not None
                codes[result.rejection.code] += 1
                # Same record as ingest: bounded, digit runs masked.
                dead_letters.append(
                    dead_letter(
                        msg.value or b"",
                        code=result.rejection.code,
                        message=result.rejection.message,
                        field=result.rejection.field,
                        origin={
                            "via": "worker",
                            "topic": msg.topic,
                            "partition": msg.partition,
                            "offset": msg.offset,
                        },
                    )
                )
        stats = BatchStats(accepted, duplicates, conflicts, redelivered, rejected)
        self.metrics.count(
            {
                "accepted": accepted,
                "duplicate": duplicates,
                "conflict": conflicts,
                "rejected": rejected,
                "redelivered": redelivered,
            },
            codes,
        )
        # Dead letters are durable before the checkpoint moves past them.
        if dead_letters:
            await self._send_dead_letters(dead, dead_letters)
        self.totals.add(stats)
        self._pending_seq = seq
        self._pending_messages += len(messages)
        if self._pending_messages >= self.write_max or not more_fetched():
            await self._start_write()
        return stats

    def _check_partition_counts(self, messages: Sequence[Record]) -> None:
        for topic in {m.topic for m in messages}:
            now = self.partitions(topic)
            for (t, p), state in self.states.items():
                if t == topic and state.partitions != now:
                    raise PartitionsChangedError(
                        f"{topic} has {now} partitions, {state.partitions} when partition {p} "
                        "was loaded: event_ids now belong to other partitions, where retries "
                        "of events already counted would count again. Remove the added "
                        "partitions (recreate the topic from its history) or start a new "
                        "deployment; the worker stops."
                    )

    async def _send_dead_letters(self, dead: faust.TopicT, records: list[bytes]) -> None:
        """Send until Kafka acknowledges every record; while it does not, consumption waits
        (like a ClickHouse outage): a dead letter is never skipped, so neither is its offset."""
        delay = 0.5
        while records:
            failed: list[bytes] = []
            problem: BaseException | None = None
            sent: list[tuple[bytes, Awaitable[Any]]] = []
            for record in records:
                try:
                    sent.append((record, await dead.send(value=record)))
                except Exception as exc:  # aiokafka/faust raise many types; all mean "retry"
                    failed.append(record)
                    problem = exc
            for record, acknowledged in sent:
                try:
                    # Bounded: an acknowledgement that never comes (a producer wedged by a
                    # broker restart) must not hold consumption forever; the record is sent
                    # again (dead letters are at-least-once).
                    await asyncio.wait_for(acknowledged, DEAD_LETTER_ACK_S)
                    self.metrics.dead_letters.inc()
                except Exception as exc:
                    failed.append(record)
                    problem = exc
            records = failed
            if records:
                self.metrics.dead_letter_failures.inc(len(records))
                log.warning(
                    "dead-letter send failed for %d record(s) (%s: %s); consumption paused, "
                    "retrying in %.1fs",
                    len(records),
                    type(problem).__name__,
                    problem,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _start_write(self) -> None:
        """Hand everything projected so far to the writer, after the write in flight."""
        seq = self._pending_seq
        if seq == self._taken_seq:
            return  # nothing projected since the last write
        self._taken_seq = seq
        touched, log_rows, uncounted_rows = self._touched, self._log_rows, self._uncounted_rows
        flushes = [take_flush(s) for s in touched.values()]
        self._touched, self._log_rows, self._uncounted_rows = {}, [], []
        self._pending_messages = 0
        await self.wait_for_write()  # one write in flight, in batch order
        if flushes:
            self._writing = asyncio.ensure_future(
                self._write(seq, log_rows, uncounted_rows, flushes, list(touched.values()))
            )
            # Let the task hand the write to the writer thread now: the next batch may arrive
            # without the loop ever suspending, and the write would then wait until settle().
            await asyncio.sleep(0)
        else:
            await self._done(seq)

    async def _write(
        self,
        seq: int,
        log_rows: list[list[object]],
        uncounted_rows: list[list[object]],
        flushes: list[FlushRows],
        states: list[PartitionState],
    ) -> None:
        started = time.monotonic()
        await self._io("write", lambda: self.store.write(log_rows, flushes, uncounted_rows))
        metrics = self.metrics
        metrics.writes.observe(time.monotonic() - started)
        now_ms = int(time.time() * 1000)
        step = max(1, len(log_rows) // DELAY_SAMPLE)
        metrics.observe_delays(now_ms, (int(r[3]) for r in log_rows[::step]))  # type: ignore[call-overload]
        for state, rows in zip(states, flushes, strict=True):
            mark_written(state, rows)
            begin, end = self.bounds((rows.topic, rows.partition))
            metrics.written(rows.topic, rows.partition, rows.version, rows.messages, begin, end)
        if self.on_written is not None:
            await self.on_written({(f.topic, f.partition): f.version for f in flushes})
        await self._done(seq)


async def _health(projector: Projector, request: web.Request) -> web.Response:
    """200 while the projection runs; 503 once it stopped (the process is exiting)."""
    if projector.failed is not None:
        return web.json_response({"status": "failed", "error": str(projector.failed)}, status=503)
    return web.json_response({"status": "ok", "batches_done": projector.batches_done})


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
    write_max: int = 20_000,
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
    projector = Projector(StateStore(settings.clickhouse), write_max=write_max)
    handed = 0  # batches given to the agent

    async def on_revoked(revoked: set[TP]) -> None:
        # Finish and commit what was fetched before letting the partitions go; the new owner
        # loads their state from ClickHouse.
        await projector.drain(handed)
        projector.forget(revoked)
        if projector.failed is not None:
            # Nothing fetched after the failure may be committed: give the partitions up as
            # they are, the next owner resumes from the ClickHouse checkpoints.
            return

    fetcher = BatchFetcher(
        settings, batch_max=batch_max, within_s=batch_within_s, on_revoked=on_revoked
    )
    projector.on_written = fetcher.commit_written
    projector.partitions = fetcher.partition_count
    projector.bounds = fetcher.bounds

    @app.task  # type: ignore[untyped-decorator]  # faust's decorator is untyped
    async def metrics_server() -> None:
        port = settings.worker_metrics_port if metrics_port is None else metrics_port
        if not port:
            return
        web_app = web.Application()
        web_app.router.add_get("/metrics", partial(serve_metrics, projector.metrics.registry))
        web_app.router.add_get("/healthz", partial(_health, projector))
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

    @app.task  # type: ignore[untyped-decorator]  # faust's decorator is untyped
    async def fetch_batches() -> None:
        nonlocal handed
        # Faust's consumer opens the flow into stream queues on its first assignment; with that
        # consumer off (_BatchBoot), the fetcher opens it.
        app.flow_control.resume()
        await fetcher.start()
        try:
            while True:
                messages = await fetcher.next_batch()
                if messages:
                    handed += 1
                    await batches.send(value=(handed, messages))
        finally:
            await fetcher.stop()

    def _handed_after(seq: int) -> bool:
        return handed > seq

    @app.agent(batches, concurrency=1)  # type: ignore[arg-type]  # Stream vs StreamT
    async def project_events(
        stream: faust.Stream[tuple[int, list[Record]]],
    ) -> AsyncIterator[None]:
        last_report = time.monotonic()
        async for seq, messages in stream:
            try:
                # Another batch handed over already: catching up, its rows can join this write.
                await projector.handle(seq, messages, dead, partial(_handed_after, seq))
            except Exception as exc:
                # Never go on past a batch that was not fully projected and written: stop the
                # whole worker, loudly, with nothing committed beyond the last checkpoint.
                # Faust would restart the agent and the rest of the batch would be skipped.
                await projector.fail(exc)
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
                t = projector.totals
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

    return app
