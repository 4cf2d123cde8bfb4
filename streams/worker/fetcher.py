"""Batch consumption of the event topics for the worker.

Faust's topic streams hand an agent one message at a time: several asyncio tasks and queue hops
per message, 8,500-12,000 messages/s on this 2-core box with an agent that does nothing
(bench/bench_faust_ceiling.py), against 370,000-530,000/s for aiokafka's `getmany`. The worker's
target is 20,000 events/s end to end, so the event topics are fetched here in whole
micro-batches (same aiokafka client Faust uses, same consumer group) and each batch travels to
the Faust agent as one item of an in-memory channel.

It also decides what offsets Kafka gets: only positions whose state ClickHouse holds are
committed (`commit_written`), and on a rebalance the revoked partitions are finished and
committed before they are given up (`on_revoked`), the pattern aiokafka documents for
consumers that store their own state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from projections.projection import Record
from streams.kafka_security import aiokafka_options
from streams.settings import Settings
from streams.topics import events_topic, worker_group

log = logging.getLogger("frontline.fetcher")
TP = tuple[str, int]


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    def __init__(
        self,
        on_revoked: Callable[[set[TP]], Awaitable[None]],
        on_assigned: Callable[[set[TopicPartition]], Awaitable[None]],
    ) -> None:
        self._on_revoked = on_revoked
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if revoked:
            log.info("%d event partition(s) revoked: finishing their writes", len(revoked))
        await self._on_revoked({(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("assigned %d event partition(s)", len(assigned))
        await self._on_assigned(assigned)


class BatchFetcher:
    """One member of the worker group; yields batches of up to `batch_max` messages, each
    closed at most `within_s` after its first message arrived."""

    def __init__(
        self,
        settings: Settings,
        *,
        batch_max: int,
        within_s: float,
        on_revoked: Callable[[set[TP]], Awaitable[None]],
        session_timeout_s: float = 15.0,
    ) -> None:
        self.batch_max = batch_max
        self.within_s = within_s
        self._config: dict[str, Any] = dict(
            bootstrap_servers=settings.bootstrap_servers,
            **aiokafka_options(settings),
            group_id=worker_group(settings),
            client_id=f"{worker_group(settings)}-fetcher",
            enable_auto_commit=False,  # committed only after ClickHouse holds the state
            auto_offset_reset="earliest",
            # A killed worker's partitions move on after 15 s; heartbeats run in aiokafka's own
            # task, so a long ClickHouse write does not cost the membership.
            session_timeout_ms=int(session_timeout_s * 1000),
            heartbeat_interval_ms=3000,
            max_poll_interval_ms=600_000,  # a write retried while ClickHouse is down
            fetch_max_bytes=16 * 1024 * 1024,
            max_partition_fetch_bytes=2 * 1024 * 1024,
        )
        self._consumer: AIOKafkaConsumer | None = None
        self._topics = [events_topic(settings)]
        self._on_revoked = on_revoked
        self._listener = _Rebalance(self._revoked, self._note_log_starts)
        self._begins: dict[TP, int] = {}
        self._gathering: list[Record] = []  # the batch `next_batch` is filling

    async def start(self) -> None:
        # aiokafka binds to the running loop: created here, not in __init__.
        self._consumer = AIOKafkaConsumer(**self._config)
        self._consumer.subscribe(self._topics, listener=self._listener)
        await self._consumer.start()

    async def stop(self) -> None:
        # Leaves the group at once, so the others take the partitions without waiting for the
        # session timeout.
        if self._consumer is not None:
            await self._consumer.stop()

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("BatchFetcher.start() first")
        return self._consumer

    async def _revoked(self, revoked: set[TP]) -> None:
        # The batch being gathered is not handed over yet: what it holds of the revoked
        # partitions belongs to their next owner, who fetches it again from the committed
        # offset. Kept, it would be projected and written here too (two writers of one
        # partition), and a partition given back would come again from its committed offset
        # behind its own copy. aiokafka calls this while `getmany` waits out the rebalance.
        self._gathering[:] = [r for r in self._gathering if (r.topic, r.partition) not in revoked]
        await self._on_revoked(revoked)

    async def _note_log_starts(self, assigned: set[TopicPartition]) -> None:
        if not assigned:
            return
        try:
            starts = await self.consumer.beginning_offsets(list(assigned))
        except Exception as exc:  # metrics only: never hold up an assignment for them
            log.info("log start offsets unknown (%s: %s)", type(exc).__name__, exc)
            return
        self._begins.update({(tp.topic, tp.partition): o for tp, o in starts.items()})

    def bounds(self, tp: TP) -> tuple[int, int] | None:
        """Kafka's log start and end (high watermark) of a partition, as last seen; None once
        the partition is no longer assigned here (it moved while its write was in flight: a
        broker lost with the group coordinator reassigns without waiting for the revoke)."""
        partition = TopicPartition(*tp)
        if partition not in self.consumer.assignment():
            return None
        end = self.consumer.highwater(partition)
        return self._begins.get(tp, 0), 0 if end is None else int(end)

    def behind(self, written: Callable[[TP], int | None]) -> int:
        """Messages in Kafka past the last written offset (`written`, None: not known yet),
        over the partitions assigned here."""
        if self._consumer is None:
            return 0
        total = 0
        for tp in self._consumer.assignment():
            last, end = written((tp.topic, tp.partition)), self._consumer.highwater(tp)
            if last is not None and end is not None:
                total += max(0, end - (last + 1))
        return total

    def unanswered(self) -> int:
        """Assigned partitions no fetch has answered yet (Kafka's answer, records or none,
        carries the high watermark): the stall watch's view of a fetch that hangs before any
        of their state is loaded, where `behind` cannot see."""
        if self._consumer is None:
            return 0
        return sum(1 for tp in self._consumer.assignment() if self._consumer.highwater(tp) is None)

    def partition_count(self, topic: str) -> int:
        """How many partitions `topic` has, from the consumer's metadata."""
        partitions = self.consumer.partitions_for_topic(topic)
        if not partitions:
            raise RuntimeError(f"no metadata for {topic}; is it deleted?")
        return len(partitions)

    async def next_batch(self) -> list[Record]:
        """The next non-empty batch, in offset order within each partition."""
        loop = asyncio.get_running_loop()
        batch = self._gathering = []  # emptied of revoked partitions by `_revoked`
        deadline: float | None = None
        while len(batch) < self.batch_max:
            wait = 1.0 if deadline is None else deadline - loop.time()
            if wait <= 0:
                break
            got = await self.consumer.getmany(
                timeout_ms=max(int(wait * 1000), 1), max_records=self.batch_max - len(batch)
            )
            for records in got.values():
                batch.extend(records)  # ConsumerRecords are Records
            if not batch:
                deadline = None  # a rebalance took all it held
            elif deadline is None:
                deadline = loop.time() + self.within_s
        self._gathering = []
        return batch

    async def commit_written(self, positions: Mapping[TP, int]) -> None:
        """Commit `last written offset + 1` for the partitions still assigned here.

        Offsets only save work (a restarted worker skips what its checkpoint covers), so a
        commit that fails, during a rebalance say, is logged and left for the next one.
        """
        assigned = self.consumer.assignment()
        offsets = {
            tp: offset + 1
            for (topic, partition), offset in positions.items()
            if (tp := TopicPartition(topic, partition)) in assigned
        }
        if not offsets:
            return
        try:
            # aiokafka retries retriable errors forever; a commit must not hold up the writes.
            await asyncio.wait_for(self.consumer.commit(offsets), timeout=10)
        except Exception as exc:  # CommitFailedError, IllegalStateError, timeout...
            log.info("offset commit skipped (%s: %s)", type(exc).__name__, exc)
