"""Voids in the projection: a voided event's counts are taken back, a void that comes first
keeps its event from counting, a second void changes nothing, a voided check-in or check-out
leaves its shift to the shift's other events."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from events.routing import event_key
from projections.projection import (
    Message,
    Outcome,
    PartitionState,
    Record,
    UnresolvedVoidError,
    project,
)
from streams.worker.pipeline import Pipeline
from tests.unit.test_pipeline import MemorySink, MemoryStore
from tests.unit.test_projection import TS_MS, _assists, _event, _shift


def _void(target: dict[str, Any]) -> dict[str, Any]:
    return {
        **_event("event.voided"),
        "data": {"voided_event_id": target["event_id"], "reason": "entered twice by mistake"},
    }


def _message(offset: int, event: dict[str, Any]) -> Message:
    placed = event["data"].get("voided_event_id", event["event_id"])
    return Message("t", 0, offset, TS_MS, json.dumps(event).encode(), event_key(uuid.UUID(placed)))


def test_a_void_after_its_event_takes_its_counts_back() -> None:
    state = PartitionState("t", 0)
    sample = _event("sampling.assisted", site_id="s1", people_assisted=7, assist_kind="other")
    first = _message(0, sample)
    assert project(state, first).outcome is Outcome.ACCEPTED
    assert _assists(state) == 7
    void = project(
        state, _message(1, _void(sample)), resolved={uuid.UUID(sample["event_id"]).int: first}
    )
    assert void.outcome is Outcome.ACCEPTED
    assert _assists(state) == 0
    assert void.log_row is not None
    assert void.log_row[-2] == sample["event_id"]
    assert void.voided_presence is not None
    assert len(void.voided_presence) == 5


def test_a_void_before_its_event_keeps_it_from_counting() -> None:
    state = PartitionState("t", 0)
    sample = _event("sampling.assisted", site_id="s1", people_assisted=7, assist_kind="other")
    assert project(state, _message(0, _void(sample))).outcome is Outcome.ACCEPTED
    late = project(state, _message(1, sample))
    assert late.outcome is Outcome.ACCEPTED  # in the history and the chain
    assert late.log_row is not None
    assert late.log_row[-3] == 1
    assert _assists(state) == 0


def test_a_second_void_changes_nothing_and_a_void_needs_its_event() -> None:
    state = PartitionState("t", 0)
    sample = _event("sampling.assisted", site_id="s1", people_assisted=7, assist_kind="other")
    first = _message(0, sample)
    project(state, first)
    with pytest.raises(UnresolvedVoidError):
        project(state, _message(1, _void(sample)))
    state = PartitionState("t", 0)
    project(state, first)
    resolved = {uuid.UUID(sample["event_id"]).int: first}
    project(state, _message(1, _void(sample)), resolved=resolved)
    again = project(state, _message(2, _void(sample)), resolved=resolved)
    assert again.outcome is Outcome.IGNORED
    assert again.uncounted_row is not None
    assert again.uncounted_row[6] == "already_voided"
    assert _assists(state) == 0


def _copy(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The same event entered again by mistake: another event_id, maybe another time."""
    return {**event, "event_id": str(uuid.uuid4()), **changes}


def _resolved(*messages: Message) -> dict[int, Message]:
    return {uuid.UUID(json.loads(m.value or b"")["event_id"]).int: m for m in messages}


def test_a_voided_check_in_leaves_its_shift() -> None:
    state = PartitionState("t", 0)
    check_in, check_out = _shift("s1", 8, 12)
    first, out = _message(0, check_in), _message(1, check_out)
    project(state, first)
    project(state, out)
    project(state, _message(2, _void(check_in)), resolved=_resolved(first, out))
    part = state.shifts["s1"]
    assert (part.has_in, part.has_out) == (False, True)
    project(state, _message(3, _void(check_out)), resolved=_resolved(first, out))
    part = state.shifts["s1"]
    assert (part.has_in, part.has_out) == (False, False)  # no part left: not a shift
    assert "s1" in state.dirty_shifts


@pytest.mark.parametrize("hour", [8, 7], ids=["same instant", "earlier"])
def test_a_voided_second_check_in_gives_the_shift_back_to_the_first(hour: int) -> None:
    state = PartitionState("t", 0)
    (check_in,) = _shift("s1", 8, None)
    mistaken = _copy(check_in, occurred_at=f"2022-03-17T{hour:02d}:00:00+08:00")
    first, second = _message(0, check_in), _message(1, mistaken)
    project(state, first)
    project(state, second)
    assert state.shifts["s1"].checked_in_at == 1647475200 - 3600 * (8 - hour)
    project(state, _message(2, _void(mistaken)), resolved=_resolved(first, second))
    part = state.shifts["s1"]
    assert part.has_in
    assert part.checked_in_at == 1647475200  # 08:00 +08:00, the first check-in's


def test_a_voided_check_out_gives_the_shift_back_to_the_other_check_out() -> None:
    state = PartitionState("t", 0)
    check_in, check_out = _shift("s1", 8, 12)
    mistaken = _copy(check_out, occurred_at="2022-03-17T13:00:00+08:00")
    messages = [_message(i, e) for i, e in enumerate([check_in, check_out, mistaken])]
    for m in messages:
        project(state, m)
    project(state, _message(3, _void(mistaken)), resolved=_resolved(*messages))
    assert state.shifts["s1"].checked_out_at == 1647475200 + 4 * 3600


@dataclass
class MemoryReader:
    """Kafka's messages by offset."""

    messages: dict[int, Message] = field(default_factory=dict)

    reads: int = 0  # read_many calls

    async def read_many(
        self, topic: str, partition: int, offsets: Iterable[int]
    ) -> dict[int, Record]:
        self.reads += 1
        return {o: self.messages[o] for o in offsets}

    async def history(
        self, topic: str, partition: int, last: int, first: int = 0
    ) -> AsyncIterator[list[Record]]:
        yield [m for o, m in sorted(self.messages.items()) if first <= o <= last]


def test_the_pipeline_finds_a_voided_event_before_or_within_the_batch() -> None:
    async def run() -> None:
        earlier = _event("sampling.assisted", site_id="s1", people_assisted=7, assist_kind="other")
        same = _event("sampling.assisted", site_id="s1", people_assisted=5, assist_kind="other")
        store, reader = MemoryStore(), MemoryReader()
        pipeline = Pipeline(store, MemorySink(), reader=reader)
        first = _message(0, earlier)
        await pipeline.handle(1, [first])
        store.offsets[uuid.UUID(earlier["event_id"])] = 0
        reader.messages[0] = first
        batch = [_message(1, same), _message(2, _void(earlier)), _message(3, _void(same))]
        await pipeline.handle(2, batch)
        await pipeline.settle()
        assert _assists(pipeline.states[("t", 0)]) == 0
        assert pipeline.totals.accepted == 4

    asyncio.run(run())


def test_the_pipeline_pairs_a_shift_again_from_its_events_before_the_batch() -> None:
    async def run() -> None:
        (check_in,) = _shift("s1", 8, None)
        mistaken = _copy(check_in, occurred_at="2022-03-17T07:00:00+08:00")
        store, reader = MemoryStore(), MemoryReader()
        pipeline = Pipeline(store, MemorySink(), reader=reader)
        first = _message(0, check_in)
        await pipeline.handle(1, [first])
        store.shifts["s1"] = [0]
        reader.messages[0] = first
        # The mistaken copy and its void in one batch: the first check-in is in the store only.
        await pipeline.handle(2, [_message(1, mistaken), _message(2, _void(mistaken))])
        await pipeline.settle()
        part = pipeline.states[("t", 0)].shifts["s1"]
        assert part.has_in
        assert part.checked_in_at == 1647475200

    asyncio.run(run())


def _sample(people: int) -> dict[str, Any]:
    return _event("sampling.assisted", site_id="s1", people_assisted=people, assist_kind="other")


def test_voids_of_written_events_are_looked_up_together_without_waiting_for_writes() -> None:
    async def run() -> None:
        a, b = _sample(7), _sample(5)
        store, reader = MemoryStore(), MemoryReader()
        pipeline = Pipeline(store, MemorySink(), reader=reader)
        written = [_message(0, a), _message(1, b)]
        await pipeline.handle(1, written)  # nothing fetched behind it: written at once
        await pipeline.wait_for_write()
        store.offsets.update({uuid.UUID(a["event_id"]): 0, uuid.UUID(b["event_id"]): 1})
        reader.messages.update({0: written[0], 1: written[1]})
        # Catching up: batch 2 waits to be written with the next one.
        await pipeline.handle(2, [_message(2, _sample(3))], more_fetched=lambda: True)
        assert len(store.writes) == 1
        await pipeline.handle(3, [_message(3, _void(a)), _message(4, _void(b))], lambda: True)
        # One query and one Kafka read for both voids, and batch 2 still waits.
        assert (store.look_ups, reader.reads, len(store.writes)) == (1, 1, 1)
        await pipeline.settle()
        assert _assists(pipeline.states[("t", 0)]) == 3

    asyncio.run(run())


def test_a_void_of_an_event_not_written_yet_finds_it_among_the_rows_waiting() -> None:
    async def run() -> None:
        a = _sample(7)
        store, reader = MemoryStore(), MemoryReader()
        pipeline = Pipeline(store, MemorySink(), reader=reader)
        first = _message(0, a)
        reader.messages[0] = first
        await pipeline.handle(1, [first], more_fetched=lambda: True)
        await pipeline.handle(2, [_message(1, _void(a))], more_fetched=lambda: True)
        # The store lacks it; its row is waiting to be written: read from Kafka, no write.
        assert (store.look_ups, reader.reads, store.writes) == (1, 1, [])
        await pipeline.settle()
        assert _assists(pipeline.states[("t", 0)]) == 0
        assert len(store.writes) == 1

    asyncio.run(run())


def test_voids_of_several_events_waiting_to_be_written_find_each_of_them() -> None:
    async def run() -> None:
        a, x, b = _sample(7), _sample(3), _sample(5)
        store, reader = MemoryStore(), MemoryReader()
        pipeline = Pipeline(store, MemorySink(), reader=reader)
        waiting = [_message(0, a), _message(1, x), _message(2, b)]
        reader.messages.update(dict(enumerate(waiting)))
        await pipeline.handle(1, waiting[:2], more_fetched=lambda: True)
        await pipeline.handle(2, waiting[2:], more_fetched=lambda: True)
        voids = [_message(3, _void(b)), _message(4, _void(a))]
        await pipeline.handle(3, voids, more_fetched=lambda: True)
        assert (store.look_ups, reader.reads, store.writes) == (1, 1, [])
        await pipeline.settle()
        assert _assists(pipeline.states[("t", 0)]) == 3

    asyncio.run(run())
