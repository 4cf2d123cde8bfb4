"""The routing check of a whole batch at once: is each message in its event_id's partition?

`events.routing.partition_for` in pure Python costs ~3 us per key, a tenth of the worker's
budget per event; the same murmur2 over a batch's keys with numpy costs ~0.1 us per key. A
message passes when its key is 36 bytes whose murmur2 gives its partition; the projection then
checks that the key is the event's own id (`events.routing.event_key`), and falls back to the
scalar function for anything else (keys of raw producers), which is rare.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

_SEED = np.uint32(0x9747B28C)
_M = np.uint32(0x5BD1E995)
_KEY_BYTES = 36  # str(UUID)


class Keyed(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...


def murmur2_36(keys: bytes) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """murmur2 of each 36-byte key in `keys` (their concatenation), as uint32."""
    words = np.frombuffer(keys, dtype="<u4").reshape(-1, _KEY_BYTES // 4)
    with np.errstate(over="ignore"):
        h = np.full(len(words), _SEED ^ np.uint32(_KEY_BYTES), dtype=np.uint32)
        for i in range(_KEY_BYTES // 4):
            k = words[:, i] * _M
            k ^= k >> np.uint32(24)
            k *= _M
            h *= _M
            h ^= k
        h ^= h >> np.uint32(13)
        h *= _M
        h ^= h >> np.uint32(15)
    return h


def keys_in_place(messages: Sequence[Keyed], partitions: Callable[[str], int]) -> list[bool]:
    """For each message: its key is 36 bytes and Kafka's default partitioner puts that key in
    the message's partition (of a topic with `partitions(topic)` partitions)."""
    at = [i for i, m in enumerate(messages) if m.key is not None and len(m.key) == _KEY_BYTES]
    ok = [False] * len(messages)
    if not at:
        return ok
    hashes = murmur2_36(b"".join(messages[i].key or b"" for i in at))
    counts = np.array([partitions(messages[i].topic) for i in at], dtype=np.uint32)
    wanted = (hashes & np.uint32(0x7FFFFFFF)) % counts
    for i, home in zip(at, wanted.tolist(), strict=True):
        ok[i] = home == messages[i].partition
    return ok
