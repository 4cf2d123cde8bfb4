"""Reading counted messages back by their coordinates (a void's target): a Kafka outage is
waited out, a message no longer in Kafka is an error that names it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from kafka import KafkaProducer

from streams.settings import Settings
from streams.topic_admin import ensure
from streams.topics import events_topic
from streams.worker.reader import KafkaMessageReader, MessageGoneError
from tests.integration.servers import ThrowawayKafka


def _produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    try:
        for value in values:
            producer.send(topic, value, partition=0)
        producer.flush(30)
    finally:
        producer.close()


def test_a_read_during_a_kafka_outage_waits_for_kafka(isolated: Settings, tmp_path: Path) -> None:
    # Seen in CI: Kafka stopped while the worker looked up a void's target; the read failed
    # and the worker stopped, so nothing was counted after Kafka came back.
    kafka = ThrowawayKafka(tmp_path)
    kafka.start()
    try:
        own = isolated.model_copy(update={"kafka_bootstrap": kafka.bootstrap})
        ensure(own)
        topic = events_topic(own)
        _produce(own, topic, [b"m0", b"m1", b"m2", b"m3"])
        kafka.kill()

        async def read_across_the_outage() -> dict[int, bytes | None]:
            reader = KafkaMessageReader(own, timeout_s=1)
            task = asyncio.create_task(reader.read_many(topic, 0, [1, 3]))
            await asyncio.sleep(4)  # past the reader's own timeout, and a few retries
            assert not task.done(), f"the read gave up while Kafka was down: {task!r}"
            await asyncio.to_thread(kafka.start)
            got = await asyncio.wait_for(task, 120)
            return {offset: record.value for offset, record in got.items()}

        assert asyncio.run(read_across_the_outage()) == {1: b"m1", 3: b"m3"}
    finally:
        kafka.kill()


def test_an_offset_not_in_kafka_is_named(isolated: Settings) -> None:
    ensure(isolated)
    topic = events_topic(isolated)
    _produce(isolated, topic, [b"m0", b"m1"])
    reader = KafkaMessageReader(isolated, timeout_s=5)
    with pytest.raises(MessageGoneError, match=rf"{topic}\[0\] offset 7 is not in Kafka"):
        asyncio.run(reader.read_many(topic, 0, [1, 7]))
