"""The Faust worker: event topics -> projection state -> ClickHouse, in micro-batches.

Thin glue (docs/architecture.md): the projection is `projections.state` (pure), the I/O is
`projections.state_store` (blocking, run in one writer thread so Faust's event loop keeps its
heartbeats). Offsets Faust commits only save work: a redelivered message at or before a
partition's checkpoint is recognised and skipped, so exactness never depends on them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import faust

from projections.state import (
    Message,
    Outcome,
    PartitionState,
    flush_rows,
    mark_flushed,
    project,
)
from projections.state_store import StateStore
from streams.rejects import reject_record
from streams.settings import Settings
from streams.topics import dead_letter_topic, event_topics, worker_group

log = logging.getLogger("frontline.worker")
T = TypeVar("T")
TP = tuple[str, int]
PRESENCE_CACHE = 300_000  # recent presence rows not re-sent; any overflow is only re-inserted


class PositionGapError(Exception):
    """Kafka delivered a partition from further on than ClickHouse's checkpoint: counting on
    would silently skip events, so the worker stops and says why."""


@dataclass
class BatchStats:
    accepted: int = 0
    duplicates: int = 0
    redelivered: int = 0
    rejected: int = 0

    def add(self, other: BatchStats) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.redelivered += other.redelivered
        self.rejected += other.rejected


@dataclass
class Projector:
    """Per-process projection state for the partitions this worker consumes."""

    store: StateStore
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "ch"))
    states: dict[TP, PartitionState] = field(default_factory=dict)
    presence_sent: dict[tuple[str, date, str, str], None] = field(default_factory=dict)
    totals: BatchStats = field(default_factory=BatchStats)

    def forget(self, tps: Iterable[TP]) -> None:
        """A revoked partition's state may move on elsewhere: reload it if it comes back."""
        for tp in tps:
            self.states.pop(tp, None)

    async def _io(self, what: str, fn: Callable[[], T]) -> T:
        """Run blocking ClickHouse I/O; on failure stop here (so consumption stops) and retry."""
        delay = 0.5
        loop = asyncio.get_running_loop()
        while True:
            try:
                return await loop.run_in_executor(self.executor, fn)
            except Exception as exc:  # driver raises many types; every one means "retry later"
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

    async def handle(self, messages: Sequence[Message], dead: faust.TopicT) -> BatchStats:
        stats = BatchStats()
        for tp in {(m.topic, m.partition) for m in messages}:
            if tp not in self.states:
                topic, partition = tp
                state = await self._io(
                    f"load of {topic}[{partition}]",
                    lambda t=topic, p=partition: self.store.load(t, p),  # type: ignore[misc]
                )
                first = min(m.offset for m in messages if (m.topic, m.partition) == tp)
                if first > state.applied + 1:
                    raise PositionGapError(
                        f"{topic}[{partition}] resumes at offset {first} but ClickHouse "
                        f"({self.store.database}) holds state up to {state.applied}. The database "
                        "was probably dropped or restored while the group's offsets stayed. "
                        "Stop every worker of this deployment and start one: it moves the group "
                        "back to the checkpoints."
                    )
                self.states[tp] = state
        log_rows: list[tuple[object, ...]] = []
        presence: list[tuple[str, date, str, str]] = []
        pending_dead: list[Any] = []
        touched: dict[TP, PartitionState] = {}
        for msg in messages:
            state = self.states[(msg.topic, msg.partition)]
            result = project(state, msg)
            if result.outcome is not Outcome.ALREADY_APPLIED:
                touched[(msg.topic, msg.partition)] = state  # its checkpoint moves on
            if result.outcome is Outcome.ACCEPTED:
                stats.accepted += 1
                assert result.log_row is not None
                log_rows.append(result.log_row)
                for row in result.presence:
                    if row not in self.presence_sent:
                        self.presence_sent[row] = None
                        presence.append(row)
            elif result.outcome is Outcome.DUPLICATE:
                stats.duplicates += 1
            elif result.outcome is Outcome.ALREADY_APPLIED:
                stats.redelivered += 1
            else:
                stats.rejected += 1
                assert result.rejection is not None
                # Same record as ingest, with a rejected phone number masked.
                record = reject_record(
                    msg.value,
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
                pending_dead.append(await dead.send(value=record))
        while len(self.presence_sent) > PRESENCE_CACHE:
            del self.presence_sent[next(iter(self.presence_sent))]
        # Dead letters are durable before the checkpoint moves past them.
        for fut in pending_dead:
            await fut
        flushes = [flush_rows(s) for s in touched.values()]
        if flushes:
            await self._io("write", lambda: self.store.write(log_rows, presence, flushes))
            for state, rows in zip(touched.values(), flushes, strict=True):
                mark_flushed(state, rows)
        self.totals.add(stats)
        return stats


def create_app(
    settings: Settings, *, batch_max: int = 5000, batch_within_s: float = 0.2
) -> faust.App:
    """The Faust app of one deployment; its id (= consumer group) carries the topic prefix."""
    app = faust.App(
        worker_group(settings),
        broker=[f"kafka://{server}" for server in settings.bootstrap_servers],
        store="memory://",
        web_enabled=False,
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        # A killed worker's partitions move on after 15 s, not Faust's default 60 s; heartbeats
        # run in aiokafka's own task, so a busy batch does not cost the membership.
        broker_session_timeout=15.0,
        broker_heartbeat_interval=3.0,
        stream_buffer_maxsize=batch_max * 4,
        producer_acks=-1,
        logging_config=None,
    )
    source = app.topic(
        *event_topics(settings).values(),
        value_serializer="raw",
        key_serializer="raw",
        allow_empty=True,
    )
    dead = app.topic(dead_letter_topic(settings), value_serializer="raw", key_serializer="raw")
    projector = Projector(StateStore(settings.clickhouse))
    app.frontline_projector = projector  # type: ignore[attr-defined]

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        projector.forget((tp.topic, tp.partition) for tp in revoked)

    @app.agent(source, concurrency=1)  # type: ignore[arg-type]  # Stream has take_events
    async def project_events(stream: faust.Stream[bytes]) -> AsyncIterator[None]:
        last_report = time.monotonic()
        async for batch in stream.take_events(batch_max, within=batch_within_s):
            messages = [
                Message(
                    e.message.topic,
                    e.message.partition,
                    e.message.offset,
                    int((e.message.timestamp or 0) * 1000),
                    e.message.value or b"",
                )
                for e in batch
            ]
            try:
                await projector.handle(messages, dead)
            except PositionGapError as exc:
                log.critical("%s", exc)
                await app.crash(exc)
                return
            if time.monotonic() - last_report > 10:
                t = projector.totals
                log.info(
                    "projected: %d accepted, %d duplicates, %d redelivered, %d rejected",
                    t.accepted,
                    t.duplicates,
                    t.redelivered,
                    t.rejected,
                )
                last_report = time.monotonic()
            yield None

    return app
