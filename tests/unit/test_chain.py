"""The hash chain: the projection extends it over accepted events only; the verifier's walk
finds the first changed, removed or inserted event and a stored or kept head that differs."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from events.examples import EXAMPLES
from projections.projection import (
    CHAIN_START,
    Message,
    PartitionState,
    chain_link,
    content_hash,
    project,
    take_flush,
)
from streams.audit.chain import ChainCheck, Head, _Stop, _Walk
from streams.audit.history import Message as HistoryMessage


def _history(n: int) -> list[bytes]:
    """`n` valid events of every type in turn, each with its own event_id."""
    kinds = sorted(EXAMPLES)
    events = [{**EXAMPLES[kinds[i % len(kinds)]], "event_id": str(uuid.uuid4())} for i in range(n)]
    return [json.dumps(e).encode() for e in events]


def test_the_projection_chains_accepted_events_only() -> None:
    values = _history(5)
    state = PartitionState("t", 0)
    messages = [Message("t", 0, i, 1_650_000_000_000, v) for i, v in enumerate(values)]
    messages.append(Message("t", 0, 5, 1_650_000_000_000, values[0]))  # a duplicate
    messages.append(Message("t", 0, 6, 1_650_000_000_000, b"not json"))
    for m in messages:
        project(state, m)
    head = CHAIN_START
    for v in values:
        head = chain_link(head, hashlib.sha256(v).hexdigest())
    assert state.chain == head
    assert state.accepted == 5
    rows = take_flush(state)
    assert (rows.chain, rows.accepted, rows.version) == (head, 5, 6)


def _walk(
    history: list[bytes], accepted: list[bytes], kept: Head | None = None, bad_link: bool = False
) -> ChainCheck:
    stored = [(i, content_hash(v)) for i, v in enumerate(accepted)]
    links = []
    head = CHAIN_START
    for i, (_, h) in enumerate(stored):
        head = chain_link(head, h)
        if i % 2 == 1:
            links.append((i, i + 1, head.hex()))
    if bad_link:
        links[0] = (links[0][0], links[0][1], "0" * 64)
    result = ChainCheck(0)
    walk = _Walk(stored, links, kept, result)
    try:
        for offset, value in enumerate(history):
            if not walk.take(HistoryMessage(0, offset, 0, value)):
                break
        walk.finish()
    except _Stop:
        pass
    return result


def test_an_untouched_history_holds() -> None:
    values = _history(8)
    result = _walk(values, values)
    assert result.ok, result.problem
    assert result.events == 8


@pytest.mark.parametrize(
    ("tamper", "says"),
    [("changed", "changed"), ("removed", "removed"), ("inserted", "inserted")],
)
def test_the_first_divergence_is_found_and_named(tamper: str, says: str) -> None:
    values = _history(8)
    copy = list(values)
    if tamper == "changed":
        copy[3] = copy[3] + b" "
    elif tamper == "removed":
        del copy[3]
    else:
        copy.insert(3, b'{"inserted": true}')
    result = _walk(copy, values)
    assert not result.ok
    assert result.offset == 3
    assert says in result.problem


def test_a_stored_link_or_a_kept_head_that_differs_is_reported() -> None:
    values = _history(8)
    assert _walk(values, values, bad_link=True).offset == 1
    head = CHAIN_START
    for v in values[:4]:
        head = chain_link(head, content_hash(v))
    assert _walk(values, values, kept=Head("t", 0, 3, 4, head.hex())).ok
    wrong = _walk(values, values, kept=Head("t", 0, 3, 4, "0" * 64))
    assert wrong.offset == 3
    assert "kept" in wrong.problem
