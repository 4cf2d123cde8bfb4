"""Reading counted messages back from Kafka (a void's target, a rebuild's history): a Kafka
outage is waited out, a message no longer in Kafka is an error that names it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from kafka import KafkaProducer

from projections.projection import Record
from streams.settings import Settings
from streams.topic_admin import ensure
from streams.topics import events_topic
from streams.worker.reader import KafkaMessageReader, MessageGoneError
from tests.integration.servers import own_kafka


def _produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    try:
        for value in values:
            producer.send(topic, value, partition=0)
        producer.flush(30)
    finally:
        producer.close()


def test_reads_started_during_a_kafka_outage_wait_for_kafka(
    isolated: Settings, tmp_path: Path
) -> None:
    # Seen in CI: Kafka stopped while the worker looked up a void's target; the read failed
    # and the worker stopped, so nothing was counted after Kafka came back. A rebuild's read
    # of a partition's history (after a cut write) started the same way.
    with own_kafka(isolated, tmp_path) as (kafka, own):
        topic = events_topic(own)
        _produce(own, topic, [b"m0", b"m1", b"m2", b"m3"])
        kafka.kill()
        reader = KafkaMessageReader(own, timeout_s=1)

        async def history() -> list[bytes | None]:
            return [r.value async for batch in reader.history(topic, 0, 3) for r in batch]

        async def across_the_outage() -> tuple[dict[int, Record], list[bytes | None]]:
            void_target = asyncio.ensure_future(reader.read_many(topic, 0, [1, 3]))
            rebuild = asyncio.ensure_future(history())
            await asyncio.sleep(4)  # past the reader's own 1 s timeout, and a few retries
            for task in (void_target, rebuild):
                assert not task.done(), f"a read gave up while Kafka was down: {task!r}"
            await asyncio.to_thread(kafka.start)
            return await asyncio.wait_for(asyncio.gather(void_target, rebuild), 120)

        found, whole = asyncio.run(across_the_outage())
        assert {offset: record.value for offset, record in found.items()} == {1: b"m1", 3: b"m3"}
        assert whole == [b"m0", b"m1", b"m2", b"m3"]


def test_an_offset_not_in_kafka_is_named(isolated: Settings) -> None:
    ensure(isolated)
    topic = events_topic(isolated)
    _produce(isolated, topic, [b"m0", b"m1"])
    reader = KafkaMessageReader(isolated, timeout_s=5)
    with pytest.raises(MessageGoneError, match=rf"{topic}\[0\] offset 7 is not in Kafka"):
        asyncio.run(reader.read_many(topic, 0, [1, 7]))
