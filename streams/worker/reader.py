"""Messages back from Kafka by their coordinates: the events a batch's voids cancel (their
offsets come from event_log). Voids are rare, so each batch's reads share one short-lived
consumer outside any group."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

from projections.projection import Record
from streams.kafka_security import aiokafka_options
from streams.settings import Settings

_READ_BYTES = 16 * 1024


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
        self._settings = settings
        self._timeout_s = timeout_s

    async def read_many(
        self, topic: str, partition: int, offsets: Iterable[int]
    ) -> dict[int, Record]:
        """The messages at `offsets` of one partition, by offset, with one consumer: a batch's
        voids cost one consumer, not one each. Raises MessageGoneError for any not in Kafka."""
        wanted = set(offsets)
        found: dict[int, Record] = {}
        if not wanted:
            return found
        # A read wants one message, not the megabyte after it decoded into records; Kafka
        # still sends a whole record batch when it is larger than this.
        consumer = _consumer(self._settings, fetch_bytes=_READ_BYTES)
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._timeout_s
            for offset in sorted(wanted):
                if offset in found:
                    continue  # came with an earlier fetch
                consumer.seek(tp, offset)
                while offset not in found and loop.time() < deadline:
                    got = await consumer.getmany(tp, timeout_ms=1000)
                    records = got.get(tp, [])
                    found.update((r.offset, r) for r in records if r.offset in wanted)
                    if records and records[-1].offset >= offset:
                        break  # past it: compacted or deleted
                if offset not in found:
                    raise MessageGoneError(f"{topic}[{partition}] offset {offset} is not in Kafka")
            return found
        finally:
            await consumer.stop()

    def history(self, topic: str, partition: int, last: int) -> AsyncIterator[list[Record]]:
        """A partition's messages up to `last`, in batches (`read_range`)."""
        return read_range(self._settings, topic, partition, last)


async def read_range(
    settings: Settings, topic: str, partition: int, last: int, batch_max: int = 5_000
) -> AsyncIterator[list[Record]]:
    """A partition's messages from its first to `last` (included), in batches, in order. A
    consumer of its own outside any group, as for `KafkaMessageReader.read_many`."""
    consumer = _consumer(settings)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        while await consumer.position(tp) <= last:
            got = await consumer.getmany(tp, timeout_ms=2000, max_records=batch_max)
            batch = [r for r in got.get(tp, []) if r.offset <= last]
            if batch:
                yield batch
    finally:
        await consumer.stop()
