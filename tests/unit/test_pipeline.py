"""The worker's pipeline on in-memory doubles of its store and dead-letter sink (the real ones
run in tests/integration/test_pipeline_writes.py): the write policy, one write in flight and in
order, transient store errors retried and bugs not, dead letters before any write, no batch
skipped."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from clickhouse_driver.errors import NetworkError
from hypothesis import given
from hypothesis import strategies as st

from events.examples import EXAMPLES
from projections.projection import FlushRows, Message, PartitionState
from streams.worker.pipeline import BatchLostError, Pipeline, containing, should_write

TS_MS = 1_700_000_000_000


@dataclass
class MemoryStore:
    """Keeps what would go to ClickHouse; fails the next writes as told."""

    writes: list[tuple[int, int, list[tuple[str, int, int]]]] = field(default_factory=list)
    fail_next: list[BaseException] = field(default_factory=list)
    resets: int = 0
    look_ups: int = 0  # event_offsets queries
    database: str = "memory"
    offsets: dict[uuid.UUID, int] = field(default_factory=dict)  # accepted copies, for voids
    shifts: dict[str, list[int]] = field(default_factory=dict)  # accepted shift events' offsets

    def load(self, topic: str, partition: int) -> PartitionState:
        return PartitionState(topic, partition)

    def written_past(self, topic: str, partition: int, checkpoint: int) -> bool:
        return False

    def write(
        self,
        log_rows: list[list[object]],
        flushes: Sequence[FlushRows],
        uncounted_rows: list[list[object]],
        voided_presence: Sequence[tuple[object, ...]] = (),
    ) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)
        versions = [(f.topic, f.partition, f.version) for f in flushes]
        self.writes.append((len(log_rows), len(uncounted_rows), versions))

    def reset(self) -> None:
        self.resets += 1

    def event_offsets(
        self, topic: str, partition: int, event_ids: Sequence[uuid.UUID], before: int
    ) -> dict[uuid.UUID, int]:
        self.look_ups += 1
        return {e: o for e in event_ids if (o := self.offsets.get(e)) is not None and o < before}

    def shift_offsets(
        self, topic: str, partition: int, shift_ids: Sequence[str], before: int
    ) -> dict[str, list[int]]:
        return {s: [o for o in self.shifts.get(s, []) if o < before] for s in shift_ids}


@dataclass
class MemorySink:
    records: list[bytes] = field(default_factory=list)
    writes_seen: list[int] = field(default_factory=list)  # store writes when each send came
    store: MemoryStore | None = None

    async def send(self, records: list[bytes]) -> None:
        self.records.extend(records)
        self.writes_seen.append(len(self.store.writes) if self.store else 0)


def _batch(first: int, size: int, invalid_at: int | None = None) -> list[Message]:
    out = []
    for offset in range(first, first + size):
        payload = {**EXAMPLES["sampling.assisted"], "event_id": str(uuid.uuid4())}
        raw = b"{not json" if offset == invalid_at else json.dumps(payload).encode()
        out.append(Message("t", 0, offset, TS_MS, raw))
    return out


def _run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pending", "more", "write"),
    [(10, True, False), (10, False, True), (250, True, True), (300, False, True)],
)
def test_the_write_policy(pending: int, more: bool, write: bool) -> None:
    assert should_write(pending, 250, more) is write


def test_batches_join_one_write_while_more_are_fetched_and_are_written_in_order() -> None:
    store = MemoryStore()
    committed: list[dict[tuple[str, int], int]] = []

    async def commit(positions: dict[tuple[str, int], int]) -> None:
        committed.append(positions)

    async def run() -> None:
        pipeline = Pipeline(store, MemorySink(), write_max=250, on_written=commit)
        await pipeline.handle(1, _batch(0, 100), lambda: True)
        await pipeline.handle(2, _batch(100, 100), lambda: True)
        assert store.writes == []
        await pipeline.handle(3, _batch(200, 100), lambda: True)  # write_max reached
        await pipeline.handle(4, _batch(300, 10), lambda: False)  # nothing more: at once
        await pipeline.settle()
        assert pipeline.batches_done == 4

    _run(run())
    assert store.writes == [(300, 0, [("t", 0, 299)]), (10, 0, [("t", 0, 309)])]
    assert committed == [{("t", 0): 299}, {("t", 0): 309}]


def test_transient_store_errors_are_retried_until_the_write_lands() -> None:
    store = MemoryStore(fail_next=[NetworkError("down"), NetworkError("still down")])

    async def run() -> None:
        pipeline = Pipeline(store, MemorySink(), retry_delay_s=0.01)
        await pipeline.handle(1, _batch(0, 20), lambda: False)
        await pipeline.settle()
        errors = pipeline.metrics.registry.get_sample_value(
            "frontline_worker_clickhouse_write_errors_total"
        )
        assert errors == 2

    _run(run())
    assert store.writes == [(20, 0, [("t", 0, 19)])]
    assert store.resets == 2  # a new connection after each failure


def test_a_bug_in_the_store_is_not_retried_it_stops_the_pipeline() -> None:
    store = MemoryStore(fail_next=[TypeError("a row of the wrong shape")])

    async def run() -> None:
        pipeline = Pipeline(store, MemorySink(), retry_delay_s=0.01)
        await pipeline.handle(1, _batch(0, 5), lambda: False)
        with pytest.raises(TypeError, match="wrong shape"):
            await pipeline.settle()

    _run(run())
    assert store.writes == []


def test_dead_letters_are_acknowledged_before_the_batch_is_written() -> None:
    store = MemoryStore()
    sink = MemorySink(store=store)

    async def run() -> None:
        pipeline = Pipeline(store, sink)
        await pipeline.handle(1, _batch(0, 10, invalid_at=4), lambda: False)
        await pipeline.settle()

    _run(run())
    assert len(sink.records) == 1
    assert sink.writes_seen == [0]  # sent while nothing was written yet
    assert store.writes == [(9, 1, [("t", 0, 9)])]  # the rejected offset is in `uncounted`


def test_a_lost_batch_stops_the_pipeline_before_anything_moves() -> None:
    store = MemoryStore()

    async def run() -> None:
        pipeline = Pipeline(store, MemorySink())
        await pipeline.handle(1, _batch(0, 10), lambda: False)
        await pipeline.settle()
        with pytest.raises(BatchLostError):
            await pipeline.handle(3, _batch(20, 10), lambda: False)

    _run(run())
    assert store.writes == [(10, 0, [("t", 0, 9)])]


def test_drain_waits_for_the_writes_and_a_failure_releases_it() -> None:
    async def run() -> None:
        pipeline = Pipeline(MemoryStore(), MemorySink())
        await pipeline.handle(1, _batch(0, 10), lambda: True)  # gathered, not written
        drained = asyncio.ensure_future(pipeline.drain(1))
        await asyncio.sleep(0.05)
        assert not drained.done()
        await pipeline.settle()
        await asyncio.wait_for(drained, 1)
        stuck = asyncio.ensure_future(pipeline.drain(5))
        await pipeline.fail(RuntimeError("stopping"))
        await asyncio.wait_for(stuck, 1)

    _run(run())


@dataclass
class GatedStore(MemoryStore):
    """Its writes wait until `gate` is set, as a slow ClickHouse would."""

    gate: threading.Event = field(default_factory=threading.Event)

    def write(self, *args: object, **kwargs: object) -> None:
        self.gate.wait(5)
        super().write(*args, **kwargs)  # type: ignore[arg-type]


def test_a_stopping_worker_drains_only_the_write_in_flight() -> None:
    # Seen in the rebalance fault test: a worker stopped while a rebalance's revoke waited in
    # `drain` for batches already handed to its agent hung until it was killed, because the
    # stopped agent never projects them; the rebalance waited on it meanwhile.
    store = GatedStore()

    async def run() -> None:
        pipeline = Pipeline(store, MemorySink())
        await pipeline.handle(1, _batch(0, 10), lambda: False)  # its write is in flight
        agent = asyncio.ensure_future(pipeline.handle(2, _batch(10, 10), lambda: False))
        drained = asyncio.ensure_future(pipeline.drain(3))  # batch 3 handed over, never taken
        await asyncio.sleep(0.05)
        agent.cancel()  # the worker stops: Faust cancels its agent mid-batch
        await pipeline.close()
        await asyncio.sleep(0.05)
        assert not drained.done(), "the write in flight must land before the partitions go"
        store.gate.set()
        await asyncio.wait_for(drained, 2)
        assert pipeline.batches_done == 1

    _run(run())
    assert store.writes == [(10, 0, [("t", 0, 9)])]


def test_a_write_that_lands_after_its_partition_moved_away_is_not_an_error() -> None:
    # Seen on the cluster (tests/integration/test_cluster_faults.py): a broker killed with the
    # group coordinator moved a partition while its write was in flight, and reading its
    # bounds for the lag metric stopped the worker.
    store = MemoryStore()
    committed: list[dict[tuple[str, int], int]] = []

    async def commit(positions: dict[tuple[str, int], int]) -> None:
        committed.append(positions)

    async def run() -> None:
        pipeline = Pipeline(store, MemorySink(), on_written=commit)
        pipeline.bounds = lambda tp: None  # assigned elsewhere by the time the write returns
        await pipeline.handle(1, _batch(0, 10), lambda: False)
        await pipeline.settle()
        assert pipeline.batches_done == 1

    _run(run())
    assert store.writes == [(10, 0, [("t", 0, 9)])]
    assert committed == [{("t", 0): 9}]


def test_a_partition_revoked_while_the_batch_loads_state_is_left_to_its_new_owner() -> None:
    # Seen on the cluster (tests/integration/test_cluster_faults.py): a worker killed, the
    # group rebalanced while a survivor was loading state for its batch; the revoke forgot a
    # partition of that batch and projecting it raised KeyError, stopping the survivor too.
    pipeline: Pipeline

    @dataclass
    class RevokingStore(MemoryStore):
        def load(self, topic: str, partition: int) -> PartitionState:
            if partition == 1:
                pipeline.forget([("t", 0)])  # on_revoked, run while this load is awaited
            return PartitionState(topic, partition)

    store = RevokingStore()
    mixed = _batch(0, 5) + [Message("t", 1, m.offset, m.timestamp, m.value) for m in _batch(0, 5)]

    async def run() -> None:
        nonlocal pipeline
        pipeline = Pipeline(store, MemorySink())
        await pipeline.handle(1, mixed, lambda: False)
        await pipeline.settle()
        assert pipeline.batches_done == 1

    _run(run())
    # Partition 0 is the new owner's to project from its checkpoint; partition 1's five
    # messages are written (as uncounted: their ids route to partition 0 of a 1-partition topic).
    assert [(logged + uncounted, flushes) for logged, uncounted, flushes in store.writes] == [
        (5, [("t", 1, 4)])
    ]


@given(
    st.lists(st.none() | st.binary(max_size=12), max_size=20),
    st.binary(min_size=1, max_size=3).filter(lambda m: b"\x00" not in m),
)
def test_containing_is_a_search_of_each_value(values: list[bytes | None], mark: bytes) -> None:
    messages = [Message("t", 0, i, 0, v) for i, v in enumerate(values)]
    assert containing(messages, mark) == [m for m in messages if mark in (m.value or b"")]


def test_containing_finds_marks_at_the_edges_of_values() -> None:
    values = [b"ab", b"xabx", b"", None, b"a", b"b\x00ab", b"ab"]
    messages = [Message("t", 0, i, 0, v) for i, v in enumerate(values)]
    assert [m.offset for m in containing(messages, b"ab")] == [0, 1, 5, 6]
    with pytest.raises(ValueError, match="NUL"):
        containing(messages, b"a\x00")
