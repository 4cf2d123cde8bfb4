"""Consumer lag per partition: where Kafka's log ends, what the worker committed, and what its
ClickHouse checkpoint covers (the position that counts for exactness)."""

from __future__ import annotations

from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.structs import OffsetAndMetadata

from projections.store import StateStore
from streams.kafka_security import kafka_python_options
from streams.settings import Settings, check_kafka_reachable
from streams.startup import retrying
from streams.topics import events_topic, worker_group


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    end_offset: int
    committed: int | None
    checkpoint: int | None
    begin_offset: int = 0
    messages: int = 0  # messages projected up to the checkpoint (0: not counted before 0004)

    @property
    def lag(self) -> int:
        """Messages not yet reflected in ClickHouse."""
        done = -1 if self.checkpoint is None else self.checkpoint
        return max(self.end_offset - (done + 1), 0)

    @property
    def unaccounted(self) -> int | None:
        """Offsets up to the checkpoint that were never projected (a gap): 0 when consistent,
        None when unknown (nothing projected, or a checkpoint from before migration 0004).
        Kafka's offsets are contiguous for Frontline's producers; a transactional producer's
        commit markers also take offsets and would show here (`frontline verify` tells)."""
        if self.checkpoint is None or self.messages == 0:
            return None
        return max(self.checkpoint + 1 - self.begin_offset - self.messages, 0)


def _event_partitions(consumer: KafkaConsumer, settings: Settings) -> list[TopicPartition]:
    topic = events_topic(settings)
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


def partition_lag(settings: Settings) -> list[PartitionLag]:
    check_kafka_reachable(settings, timeout=2.0)  # at once, not after a bootstrap timeout
    group = worker_group(settings)
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, **kafka_python_options(settings)
    )
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, **kafka_python_options(settings)
    )
    try:
        tps = _event_partitions(consumer, settings)
        ends = consumer.end_offsets(tps)
        begins = consumer.beginning_offsets(tps)
        # A new cluster creates its offsets topic on the first group request: "coordinator not
        # available" until then, retried like the start-up steps.
        offsets = retrying(
            "reading the group's offsets",
            # kafka-python 3.x: list_group_offsets (2.x called it list_consumer_group_offsets)
            lambda: admin.list_group_offsets({group: None}).get(group, {}),
            settings.startup_timeout,
        )
        committed = {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
    finally:
        consumer.close()
        admin.close()
    positions = StateStore(settings.clickhouse).positions()
    out = []
    for tp in tps:
        checkpoint, messages = positions.get((tp.topic, tp.partition), (None, 0))
        out.append(
            PartitionLag(
                tp.topic,
                tp.partition,
                ends[tp],
                committed.get((tp.topic, tp.partition)),
                checkpoint,
                begins[tp],
                messages,
            )
        )
    return out


def group_members(admin: KafkaAdminClient, group: str) -> int:
    """How many members the consumer group has right now."""
    return len(admin.describe_groups([group]).get(group, {}).get("members") or [])


def running_workers(settings: Settings) -> int:
    """Members of this deployment's worker group (0: no worker runs)."""
    check_kafka_reachable(settings, timeout=2.0)
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, **kafka_python_options(settings)
    )
    try:
        return group_members(admin, worker_group(settings))
    finally:
        admin.close()


def align_group_to_checkpoints(settings: Settings) -> str:
    """Start the worker group where ClickHouse says the projection is, not where Kafka says.

    Normally the two agree (offsets are committed after the write). They part when the database
    was dropped or restored while the group's offsets stayed: resuming from Kafka's offsets
    would then skip events. Only possible while the group has no active member; with members
    running, their positions already follow the checkpoints. Returns what it did.
    """
    check_kafka_reachable(settings, timeout=2.0)
    group = worker_group(settings)
    checkpoints = StateStore(settings.clickhouse).checkpoints()
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, **kafka_python_options(settings)
    )
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, **kafka_python_options(settings)
    )
    try:
        members = group_members(admin, group)
        if members:
            return f"group {group} has {members} active member(s): positions left as they are"
        offsets = {
            tp: OffsetAndMetadata(checkpoints.get((tp.topic, tp.partition), -1) + 1, "", -1)
            for tp in _event_partitions(consumer, settings)
        }
        admin.alter_group_offsets(group, offsets)
        return f"group {group}: positions set from {len(checkpoints)} ClickHouse checkpoint(s)"
    finally:
        consumer.close()
        admin.close()
