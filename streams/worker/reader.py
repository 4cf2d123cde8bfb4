"""One message back from Kafka by its coordinates: the event a void cancels (its offset comes
from event_log). Voids are rare, so each read has a short-lived consumer outside any group."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition

from projections.projection import Record
from streams.kafka_security import aiokafka_options
from streams.settings import Settings


class MessageGoneError(Exception):
    """A counted event's message is no longer in Kafka (retention, a rewritten topic)."""


def _consumer(settings: Settings) -> AIOKafkaConsumer:
    """A consumer outside any group, for reads by coordinates."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        **aiokafka_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


class KafkaMessageReader:
    def __init__(self, settings: Settings, timeout_s: float = 30.0) -> None:
        self._settings = settings
        self._timeout_s = timeout_s

    async def read(self, topic: str, partition: int, offset: int) -> Record:
        consumer = _consumer(self._settings)
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._timeout_s
            while loop.time() < deadline:
                got = await consumer.getmany(tp, timeout_ms=1000, max_records=1)
                for record in got.get(tp, []):
                    if record.offset == offset:
                        return record  # type: ignore[no-any-return]  # aiokafka is untyped
                    if record.offset > offset:
                        break
                else:
                    continue
                break
            raise MessageGoneError(f"{topic}[{partition}] offset {offset} is not in Kafka")
        finally:
            await consumer.stop()

    def history(self, topic: str, partition: int, last: int) -> AsyncIterator[list[Record]]:
        """A partition's messages up to `last`, in batches (`read_range`)."""
        return read_range(self._settings, topic, partition, last)


async def read_range(
    settings: Settings, topic: str, partition: int, last: int, batch_max: int = 5_000
) -> AsyncIterator[list[Record]]:
    """A partition's messages from its first to `last` (included), in batches, in order. A
    consumer of its own outside any group, as for `KafkaMessageReader.read`."""
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
