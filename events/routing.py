"""Where an event lives in Kafka: the one event topic, partition chosen by its event_id.

Every copy of an event (a retry, a resend through another app, a conflicting reuse of the id)
must land in the same partition, so that the partition's worker sees all of them in one order
and counts the id once (docs/architecture.md, "An event_id counts once"). The key is the
event_id in its canonical text form (lowercase, hyphenated, 36 bytes) and the partition is
Kafka's default choice for that key: murmur2 as in the Java client (and kafka-python),
`(murmur2(key) & 0x7fffffff) % partitions`.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

from events.types import Event, EventVoided

_SEED: Final = 0x9747B28C
_M: Final = 0x5BD1E995
_MASK: Final = 0xFFFFFFFF


def routing_id(event: Event) -> UUID:
    """The id that places an event: its own event_id, except for a void (`event.voided`), which
    goes where the event it voids is, so that one partition sees both, in one order."""
    if isinstance(event, EventVoided):
        return event.data.voided_event_id
    return event.event_id


def event_key(event_id: UUID) -> bytes:
    """The Kafka message key of an event: its id as canonical text."""
    return str(event_id).encode("ascii")


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as an unsigned 32-bit int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length % 4
    if tail:
        if tail == 3:
            h ^= data[whole + 2] << 16
        if tail >= 2:
            h ^= data[whole + 1] << 8
        h ^= data[whole]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_for(event_id: UUID, partitions: int) -> int:
    """The partition every copy of this event belongs in, for a topic of `partitions`."""
    return (murmur2(event_key(event_id)) & 0x7FFFFFFF) % partitions
