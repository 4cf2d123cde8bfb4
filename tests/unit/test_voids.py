"""Voids in the projection (WIP on branch voids-wip): a voided event's counts are taken back,
a void that comes first keeps its event from counting, a second void changes nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from events.routing import event_key
from projections.projection import (
    Message,
    Outcome,
    PartitionState,
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


def test_a_voided_check_in_leaves_its_shift() -> None:
    state = PartitionState("t", 0)
    check_in, _ = _shift("s1", 8, 12)
    first = _message(0, check_in)
    project(state, first)
    assert state.shifts["s1"].has_in
    project(
        state, _message(1, _void(check_in)), resolved={uuid.UUID(check_in["event_id"]).int: first}
    )
    assert not state.shifts["s1"].has_in


@dataclass
class MemoryReader:
    """Kafka's messages by offset."""

    messages: dict[int, Message] = field(default_factory=dict)

    async def read(self, topic: str, partition: int, offset: int) -> Message:
        return self.messages[offset]


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
