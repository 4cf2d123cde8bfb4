"""Routing: the scalar and batch murmur2 agree with Kafka's (kafka-python's implementation of the
Java client's), so a message's expected partition is the one the SDK and any Java-compatible
producer choose for key = event_id."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2 as kafka_murmur2

from events.routing import event_key, murmur2, partition_for
from projections.projection import Message
from projections.routing import keys_in_place, murmur2_36


@given(st.binary(max_size=64))
def test_scalar_murmur2_is_kafkas(data: bytes) -> None:
    assert murmur2(data) == kafka_murmur2(data) & 0xFFFFFFFF


@given(st.lists(st.uuids(), min_size=1, max_size=50))
def test_batch_murmur2_is_the_scalar_one(ids: list[uuid.UUID]) -> None:
    keys = [event_key(i) for i in ids]
    assert murmur2_36(b"".join(keys)).tolist() == [murmur2(k) for k in keys]


def test_partition_for_matches_kafkas_default_partitioner() -> None:
    for _ in range(200):
        event_id = uuid.uuid4()
        for n in (1, 6, 7, 24):
            want = (kafka_murmur2(str(event_id).encode()) & 0x7FFFFFFF) % n
            assert partition_for(event_id, n) == want


def test_keys_in_place() -> None:
    ids = [uuid.uuid4() for _ in range(60)]
    home = [partition_for(i, 6) for i in ids]
    messages = [
        Message("t", home[0], 0, 0, b"", event_key(ids[0])),  # in place
        Message("t", (home[1] + 1) % 6, 1, 0, b"", event_key(ids[1])),  # another partition
        Message("t", home[2], 2, 0, b"", None),  # no key
        Message("t", home[3], 3, 0, b"", str(ids[3]).upper().encode()),  # hashes elsewhere
    ]
    got = keys_in_place(messages, lambda topic: 6)
    assert got[:2] == [True, False]
    assert got[2] is False
    assert got[3] is False


def test_keys_in_place_only_takes_canonical_keys() -> None:
    """A key in place is the canonical text of a UUID: the projection then compares it with the
    event's id as a number (projections.projection.project), which only equals the text
    comparison for canonical keys."""
    event_id = uuid.uuid4()
    canonical = event_key(event_id)
    others = [
        canonical.upper(),
        canonical.replace(b"-", b"_"),
        canonical[:8] + b"0" + canonical[9:],  # a hex digit where a hyphen belongs
        canonical[:-1] + b"g",
        canonical[:-1] + b" ",
    ]
    messages = [
        Message("t", (murmur2(key) & 0x7FFFFFFF) % 6, i, 0, b"", key)
        for i, key in enumerate([canonical, *others])
    ]
    assert keys_in_place(messages, lambda topic: 6) == [True] + [False] * len(others)
