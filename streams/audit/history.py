"""Reading chosen messages back from the event topic: the events behind rows of event_log.

ClickHouse knows which offsets hold the events an auditor asks for (a day, an org, a type);
Kafka holds their content. Partitions are read one after another by one consumer (no group:
nobody's position moves), each from its first wanted offset to its last, seeking over long runs
of offsets not wanted; no more records are fetched than up to the last wanted one.

aiokafka hands out records one by one through a generator that wraps each record its C
extension parsed in a ConsumerRecord (a Python dataclass: 1.8 us a record here, a third of an
export's reading), and getmany() collects them in lists. These reads take whole record batches
as parsed instead (their records have offset, timestamp, key, value: all they use), through
`_raw_batches`, which relies on aiokafka 0.14's PartitionRecords (pinned in pyproject.toml)
and falls back to the usual records, one per batch, when it is not there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any, NamedTuple

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException

from streams.collector import collecting_rarely
from streams.kafka_security import aiokafka_options
from streams.settings import Settings


class Message(NamedTuple):  # a tuple: made for every message read (a frozen dataclass: 4x)
    partition: int
    offset: int
    timestamp_ms: int
    value: bytes


class MissingFromKafkaError(Exception):
    """Offsets event_log holds that Kafka no longer has (retention, or a rewritten topic)."""


@contextmanager
def _raw_batches() -> Iterator[None]:
    """Within: every aiokafka consumer of this process returns, from getmany(), record batches
    as parsed instead of records (use `_batches` on what it returns). For consumers that read
    uncommitted (aiokafka's default, and these reads'), as aiokafka does: CRCs checked, control
    batches skipped. Only the history reads run then; nothing else consumes meanwhile."""
    records = getattr(fetcher, "PartitionRecords", None)
    unpack = getattr(records, "_unpack_records", None)
    if records is None or unpack is None:
        yield
        return

    def batches(self: Any) -> Iterator[Any]:
        source = self._records
        while source.has_next():
            batch = source.next_batch()
            if self._check_crcs and not batch.validate_crc():
                raise CorruptRecordException(f"Invalid CRC - {self._tp}")
            self.next_fetch_offset = batch.next_offset
            if not batch.is_control_batch:
                yield _Batch(batch)

    records._unpack_records = batches
    try:
        yield
    finally:
        records._unpack_records = unpack


class _Batch(tuple[Any]):
    """A record batch, marked as such (see `_batches`)."""

    __slots__ = ()

    def __new__(cls, batch: Any) -> _Batch:
        return super().__new__(cls, (batch,))


def _batches(got: Sequence[Any]) -> Iterator[Any]:
    """What getmany() returned for a partition, as batches of records: the batches themselves
    under `_raw_batches`, else each ConsumerRecord as a batch of one. A batch may start before
    the position sought (it is Kafka's unit), so readers skip offsets they did not ask for."""
    for item in got:
        yield item[0] if type(item) is _Batch else (item,)


def read_offsets(
    settings: Settings,
    topic: str,
    wanted: Mapping[int, Sequence[int]],
    on_message: Callable[[Message], None],
    batch_max: int = 10_000,
) -> None:
    """Call `on_message` for every wanted offset (per partition, sorted ascending), partition
    after partition in ascending order, in offset order within each: the same calls in the same
    order every time. Raises MissingFromKafkaError for offsets Kafka lacks."""

    def each(partition: int, _first: int, records: list[Any]) -> None:
        for r in records:
            on_message(Message(partition, r.offset, r.timestamp, r.value or b""))

    read_records(settings, topic, wanted, each, batch_max)


def read_records(
    settings: Settings,
    topic: str,
    wanted: Mapping[int, Sequence[int]],
    on_records: Callable[[int, int, list[Any]], None],
    batch_max: int = 10_000,
) -> None:
    """As `read_offsets`, with a call per run of records fetched together: `on_records(
    partition, i, records)`, where records[k] is at offset wanted[partition][i + k] and has
    `offset`, `timestamp` and `value` (None when empty). For readers of many records, whose
    work on each costs less than a call (`frontline export`)."""
    with _raw_batches(), collecting_rarely():
        asyncio.run(_read(settings, topic, wanted, on_records, batch_max))


async def _started_reader(settings: Settings) -> AIOKafkaConsumer:
    """A started consumer outside any group, for reading offsets chosen by the caller."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        **aiokafka_options(settings),
        group_id=None,  # nobody's position moves
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a wanted offset before the log start: seen as missing
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    return consumer


# A wanted offset further ahead than this is sought, not read up to.
SKIP_AHEAD = 2_000


async def _read(
    settings: Settings,
    topic: str,
    wanted: Mapping[int, Sequence[int]],
    on_records: Callable[[int, int, list[Any]], None],
    batch_max: int,
) -> None:
    todo = {p: offsets for p, offsets in sorted(wanted.items()) if offsets}
    if not todo:
        return
    consumer = await _started_reader(settings)
    try:
        tps = [TopicPartition(topic, p) for p in todo]
        ends = await consumer.end_offsets(tps)
        for tp in tps:  # one after another, in one consumer
            offsets = todo[tp.partition]
            if offsets[-1] >= ends[tp]:
                raise MissingFromKafkaError(
                    f"{topic}[{tp.partition}] ends at {ends[tp]}, before offset {offsets[-1]}"
                )
            consumer.assign([tp])
            consumer.seek(tp, offsets[0])
            await _read_partition(consumer, tp, offsets, ends[tp], on_records, batch_max)
    finally:
        await consumer.stop()


async def _read_partition(
    consumer: AIOKafkaConsumer,
    tp: TopicPartition,
    offsets: Sequence[int],
    end: int,
    on_records: Callable[[int, int, list[Any]], None],
    batch_max: int,
) -> None:
    i = 0
    while i < len(offsets):
        if offsets[i] - await consumer.position(tp) > SKIP_AHEAD:
            consumer.seek(tp, offsets[i])
        got = await consumer.getmany(tp, timeout_ms=2000, max_records=batch_max)
        fetched = got.get(tp, [])
        if not fetched and await consumer.position(tp) >= end:
            raise MissingFromKafkaError(
                f"{tp.topic}[{tp.partition}] offset {offsets[i]} is not in Kafka (deleted by "
                "retention, or the topic was rewritten)"
            )
        first = i
        taken: list[Any] = []
        take = taken.append
        want = offsets[i]
        for r in chain.from_iterable(_batches(fetched)):
            offset = r.offset
            if offset < want:
                continue
            if offset > want:
                raise MissingFromKafkaError(
                    f"{tp.topic}[{tp.partition}] offset {want} is not in Kafka (deleted "
                    "by retention, or the topic was rewritten)"
                )
            take(r)
            i += 1
            if i == len(offsets):
                break
            want = offsets[i]
        if taken:
            on_records(tp.partition, first, taken)


def read_range(
    settings: Settings,
    topic: str,
    partition: int,
    first: int,
    last: int,
    on_message: Callable[[Message], bool],
    batch_max: int = 10_000,
) -> None:
    """Call `on_message` for every message of one partition from `first` to `last` (both
    included, as far as Kafka holds them), in order, until it returns False."""
    with _raw_batches(), collecting_rarely():
        asyncio.run(_read_range(settings, topic, partition, first, last, on_message, batch_max))


async def _read_range(
    settings: Settings,
    topic: str,
    partition: int,
    first: int,
    last: int,
    on_message: Callable[[Message], bool],
    batch_max: int,
) -> None:
    consumer = await _started_reader(settings)
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        stop = min(last + 1, end)
        if first >= stop:
            return
        consumer.seek(tp, first)
        while await consumer.position(tp) < stop:
            got = await consumer.getmany(tp, timeout_ms=2000, max_records=batch_max)
            for batch in _batches(got.get(tp, ())):
                for r in batch:
                    if r.offset < first:
                        continue
                    if r.offset >= stop:
                        return
                    if not on_message(Message(partition, r.offset, r.timestamp, r.value or b"")):
                        return
    finally:
        await consumer.stop()
