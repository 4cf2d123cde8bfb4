"""`frontline verify`: every offset of the event topic up to each checkpoint is accounted for.

For each partition: the offsets Kafka holds from its log start up to the ClickHouse checkpoint
must be exactly those ClickHouse has a row for (event_log: counted; uncounted: duplicate,
conflict, rejection), and as many as the checkpoint says it covered. Counting first is cheap;
only a partition whose counts differ is read from Kafka, to name the missing offsets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kafka import KafkaConsumer, TopicPartition

from projections.consistency import recorded, recorded_offsets
from projections.store import StateStore
from streams.kafka_security import kafka_python_options
from streams.settings import Settings, check_kafka_reachable
from streams.topics import events_topic

SHOWN = 20  # missing offsets listed per partition


@dataclass
class PartitionCheck:
    topic: str
    partition: int
    checkpoint: int | None
    begin_offset: int
    expected: int  # offsets Kafka holds up to the checkpoint
    recorded: int  # offsets ClickHouse has a row for
    messages: int  # what the checkpoint says it covered
    missing: list[int] = field(default_factory=list)  # in Kafka, not in ClickHouse
    unexpected: list[int] = field(default_factory=list)  # in ClickHouse, not in Kafka

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected and self.recorded == self.expected


def kafka_offsets(
    settings: Settings, topic: str, partition: int, first: int, last: int
) -> set[int]:
    """The offsets of the data records Kafka holds in [first, last] (control records of
    transactions take offsets too, but are never returned: they are not events)."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        **kafka_python_options(settings),
        enable_auto_commit=False,
        isolation_level="read_uncommitted",
        max_poll_records=10_000,
    )
    tp = TopicPartition(topic, partition)
    try:
        consumer.assign([tp])
        consumer.seek(tp, first)
        found: set[int] = set()
        while consumer.position(tp) <= last:
            for records in consumer.poll(timeout_ms=2000).values():
                found.update(r.offset for r in records if r.offset <= last)
        return found
    finally:
        consumer.close()


def verify(
    settings: Settings, progress: Callable[[str], None] = lambda line: None
) -> list[PartitionCheck]:
    check_kafka_reachable(settings, timeout=2.0)  # at once, not after a bootstrap timeout
    topic = events_topic(settings)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, **kafka_python_options(settings)
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        begins = consumer.beginning_offsets(tps)
    finally:
        consumer.close()
    positions = StateStore(settings.clickhouse).positions()
    checks = []
    for tp in tps:
        checkpoint, messages = positions.get((tp.topic, tp.partition), (None, 0))
        begin = begins[tp]
        if checkpoint is None:
            checks.append(PartitionCheck(tp.topic, tp.partition, None, begin, 0, 0, 0))
            continue
        found = recorded(settings.dashboard, tp.topic, tp.partition, checkpoint)
        check = PartitionCheck(
            tp.topic,
            tp.partition,
            checkpoint,
            begin,
            expected=checkpoint + 1 - begin,
            recorded=found.offsets,
            messages=messages,
        )
        if check.recorded != check.expected:
            progress(f"{tp.topic}[{tp.partition}]: counts differ, reading offsets from Kafka")
            in_kafka = kafka_offsets(settings, tp.topic, tp.partition, begin, checkpoint)
            in_clickhouse = recorded_offsets(
                settings.dashboard, tp.topic, tp.partition, begin, checkpoint
            )
            check.expected = len(in_kafka)
            check.missing = sorted(in_kafka - in_clickhouse)
            check.unexpected = sorted(in_clickhouse - in_kafka)
        progress(
            f"{tp.topic}[{tp.partition}]: {'ok' if check.ok else 'GAP'} "
            f"({check.recorded:,} of {check.expected:,} offsets up to {checkpoint:,})"
        )
        checks.append(check)
    return checks
