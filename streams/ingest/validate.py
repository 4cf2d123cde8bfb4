"""Validation for `frontline emit`, run in a process of its own.

kafka-python's send costs its caller's thread most of what a bare send loop can do, and
validating, encoding and placing an event costs about as much again (pydantic, the canonical
encoding, Kafka's murmur2 in Python: 50-60 us an event here). In one process they share one
interpreter lock, so `frontline emit` sent half what the bare loop sends. Here lines are
checked in chunks by another process, which hands back exactly what is to be sent: the same
`events.decode` and `events.encode` as every other entry point.
"""

from __future__ import annotations

from typing import NamedTuple

from events import Rejected, decode, encode
from events.routing import event_key, partition_for, routing_id


class Checked(NamedTuple):
    """A line the contract accepts, ready to send."""

    number: int
    type: str
    partition: int
    key: bytes
    value: bytes  # the canonical encoding of the decoded event


class Refused(NamedTuple):
    """A line the contract refuses, with why."""

    number: int
    code: str
    message: str
    field: str | None
    raw: bytes


def check_lines(numbered: list[tuple[int, bytes]], partitions: int) -> list[Checked | Refused]:
    """Each (line number, raw line) checked, in order, for a topic of `partitions`."""
    out: list[Checked | Refused] = []
    for number, raw in numbered:
        try:
            event = decode(raw)
        except Rejected as rej:
            out.append(Refused(number, rej.code, rej.message, rej.field, raw))
            continue
        # A void goes where the event it voids is (events.routing.routing_id).
        placed_by = routing_id(event)
        out.append(
            Checked(
                number,
                event.type,
                partition_for(placed_by, partitions),
                event_key(placed_by),
                encode(event),
            )
        )
    return out
