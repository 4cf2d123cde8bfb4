"""A rebalance while the fetcher gathers a batch: the batch keeps no message of a partition this
worker gave up, and none twice."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer

from projections.projection import Record
from streams.kafka_security import aiokafka_options
from streams.settings import Settings
from streams.topic_admin import ensure
from streams.topics import events_topic, worker_group
from streams.worker.fetcher import TP, BatchFetcher


def _produce(settings: Settings, topic: str, per_partition: int) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    try:
        for partition in range(settings.topic_partitions):
            for i in range(per_partition):
                producer.send(topic, f"p{partition}-{i}".encode(), partition=partition)
        producer.flush(30)
    finally:
        producer.close()


def test_a_batch_gathered_across_a_rebalance_holds_only_partitions_still_assigned(
    isolated: Settings,
) -> None:
    # Before the fix the batch kept what it had gathered from every partition before the
    # rebalance: the worker loaded and wrote partitions the joining worker now owned (two
    # writers of one partition), and held twice the messages of partitions it got back.
    ensure(isolated)
    topic = events_topic(isolated)
    _produce(isolated, topic, 50)

    async def gather_across_a_join() -> tuple[list[Record], set[TopicPartition], list[set[TP]]]:
        revoked: list[set[TP]] = []

        async def note(tps: set[TP]) -> None:
            revoked.append(tps)

        # A batch that stays open for 12 s, long enough for a second member to join.
        fetcher = BatchFetcher(isolated, batch_max=1_000_000, within_s=12, on_revoked=note)
        await fetcher.start()
        joining = AIOKafkaConsumer(
            bootstrap_servers=isolated.bootstrap_servers,
            **aiokafka_options(isolated),
            group_id=worker_group(isolated),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            gathering = asyncio.ensure_future(fetcher.next_batch())
            while not fetcher.consumer.assignment():
                await asyncio.sleep(0.1)
            await asyncio.sleep(1)  # the first records are in the batch
            assert not gathering.done()
            joining.subscribe([topic])
            await joining.start()
            while not joining.assignment():
                await joining.getmany(timeout_ms=200)
            batch = await gathering
            return batch, set(fetcher.consumer.assignment()), revoked
        finally:
            await joining.stop()
            await fetcher.stop()

    batch, kept, revoked = asyncio.run(gather_across_a_join())
    assert revoked, "no rebalance while the batch was gathered: nothing was tested"
    assert 0 < len(kept) < isolated.topic_partitions
    given_up = sorted(
        {(r.topic, r.partition) for r in batch} - {(tp.topic, tp.partition) for tp in kept}
    )
    assert not given_up, f"the batch holds messages of partitions given up: {given_up}"
    coordinates = [(r.partition, r.offset) for r in batch]
    assert len(coordinates) == len(set(coordinates)), "the batch holds a message twice"
    assert batch, "the batch holds nothing of the partitions kept"
