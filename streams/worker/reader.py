"""Messages back from Kafka by their coordinates: the events a batch's voids cancel (their
offsets come from event_log). Voids are rare, so each batch's reads share one short-lived
consumer outside any group."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError, KafkaTimeoutError

from projections.projection import Record
from streams.kafka_security import aiokafka_options
from streams.settings import Settings

_READ_BYTES = 16 * 1024

log = logging.getLogger("frontline.worker")


def _transient(exc: KafkaError) -> bool:
    """A broker down, restarting or electing a leader: worth waiting for."""
    return bool(exc.retriable) or isinstance(exc, KafkaTimeoutError)


class MessageGoneError(Exception):
    """A counted event's message is no longer in Kafka (retention, a rewritten topic)."""


def _consumer(settings: Settings, fetch_bytes: int = 1024 * 1024) -> AIOKafkaConsumer:
    """A consumer outside any group, for reads by coordinates."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        **aiokafka_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=fetch_bytes,
    )


class KafkaMessageReader:
    def __init__(self, settings: Settings, timeout_s: float = 30.0) -> None:
        """`timeout_s`: how long one attempt waits for Kafka to answer before trying again."""
        self._settings = settings
        self._timeout_s = timeout_s

    async def read_many(
        self, topic: str, partition: int, offsets: Iterable[int]
    ) -> dict[int, Record]:
        """The messages at `offsets` of one partition, by offset, with one consumer: a batch's
        voids cost one consumer, not one each. Raises MessageGoneError for any not in Kafka;
        while Kafka does not answer it waits, as the worker's fetch does: the void cannot be
        counted without its target, and nothing after it in the partition either."""
        wanted = set(offsets)
        if not wanted:
            return {}
        found: dict[int, Record] = {}  # kept across attempts: each one goes on from the last
        delay = 0.5
        while True:
            try:
                await asyncio.wait_for(self._read(topic, partition, wanted, found), self._timeout_s)
                return found
            except (TimeoutError, KafkaError) as exc:
                delay = await _pause(f"a read-back of {topic}[{partition}]", exc, delay)

    async def _read(
        self, topic: str, partition: int, wanted: set[int], found: dict[int, Record]
    ) -> None:
        # A read wants one message, not the megabyte after it decoded into records; Kafka
        # still sends a whole record batch when it is larger than this.
        consumer = _consumer(self._settings, fetch_bytes=_READ_BYTES)
        try:
            await consumer.start()
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            # Only what Kafka says is outside the partition is gone; a fetch that returns
            # nothing may be a broker that is not answering.
            first = (await consumer.beginning_offsets([tp]))[tp]
            end = (await consumer.end_offsets([tp]))[tp]
            for offset in sorted(wanted):
                if not first <= offset < end:
                    raise MessageGoneError(
                        f"{topic}[{partition}] offset {offset} is not in Kafka "
                        f"(it holds {first}..{end - 1})"
                    )
            for offset in sorted(wanted):
                if offset in found:
                    continue  # came with an earlier fetch
                consumer.seek(tp, offset)
                while offset not in found:
                    got = await consumer.getmany(tp, timeout_ms=1000)
                    records = got.get(tp, [])
                    found.update((r.offset, r) for r in records if r.offset in wanted)
                    if records and records[-1].offset >= offset:
                        break  # past it: compacted, or a transaction marker
                if offset not in found:
                    raise MessageGoneError(f"{topic}[{partition}] offset {offset} is not in Kafka")
        finally:
            await consumer.stop()

    async def history(
        self, topic: str, partition: int, last: int, first: int = 0
    ) -> AsyncIterator[list[Record]]:
        """A partition's messages from `first` (or its first) to `last`, in batches
        (`read_range`). A Kafka outage at
        its start is waited out as for `read_many`; once started, the consumer reconnects by
        itself (its fetches come back empty meanwhile)."""
        delay = 0.5
        while True:
            consumer = _consumer(self._settings)
            try:
                await asyncio.wait_for(consumer.start(), self._timeout_s)
                break
            except (TimeoutError, KafkaError) as exc:
                await consumer.stop()
                delay = await _pause(f"a rebuild's read of {topic}[{partition}]", exc, delay)
        async for batch in read_range(
            self._settings, topic, partition, last, consumer=consumer, first=first
        ):
            yield batch


async def _pause(what: str, exc: TimeoutError | KafkaError, delay: float) -> float:
    """After Kafka did not answer: re-raises what waiting cannot mend, else logs, waits `delay`
    and returns the next one."""
    if isinstance(exc, KafkaError) and not _transient(exc):
        raise exc
    log.warning(
        "Kafka did not answer %s (%s); consumption paused, retrying in %.1fs",
        what, type(exc).__name__, delay,
    )  # fmt: skip
    await asyncio.sleep(delay)
    return min(delay * 2, 10.0)


async def read_range(
    settings: Settings,
    topic: str,
    partition: int,
    last: int,
    batch_max: int = 5_000,
    consumer: AIOKafkaConsumer | None = None,
    first: int = 0,
) -> AsyncIterator[list[Record]]:
    """A partition's messages from its first to `last` (included), in batches, in order. A
    consumer of its own outside any group, as for `KafkaMessageReader.read_many` (`consumer`:
    one already started, which this stops at the end)."""
    if consumer is None:
        consumer = _consumer(settings)
        await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        if first > 0:
            consumer.seek(tp, first)
        else:
            await consumer.seek_to_beginning(tp)
        while await consumer.position(tp) <= last:
            got = await consumer.getmany(tp, timeout_ms=2000, max_records=batch_max)
            batch = [r for r in got.get(tp, []) if r.offset <= last]
            if batch:
                yield batch
    finally:
        await consumer.stop()
