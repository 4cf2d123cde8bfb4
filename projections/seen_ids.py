"""The event_ids one partition has accepted, each with a 32-bit fingerprint of its content, in
about 25 bytes each instead of about 150.

The fingerprint tells a retry (same content: a duplicate) from a conflicting reuse of the id
(other content: dead-lettered, docs/architecture.md). A Python dict of 128-bit ints costs ~150
bytes per entry; the scale-1 campaign has 5.7 M ids. Here the bulk lives in three arrays, the
id halves (`array('Q')`, 16 bytes) and the fingerprints (`array('I')`, 4 bytes), sorted by the
high half, and only ids added since the last merge sit in a dict. Merges (numpy, a few ms per
million ids) happen when that dict reaches an eighth of the arrays, or MIN_RECENT ids, so their
total cost stays proportional to the ids held.

A lookup starts from a directory of buckets by the high half's top bits (2-4 ids per bucket,
1-2 bytes per id) and bisects only its bucket. uuid4's high half is uniform there. A plain
bisect over 5.7 M ids touched ~10 cache lines that this VM's memory serves at ~200 ns each;
the directory and the bucket are two.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

LOW = (1 << 64) - 1
MIN_RECENT = 50_000


class SeenIds:
    """A growing map of 128-bit ints to 32-bit fingerprints: `get`, `add`, `in`, `len`, iteration
    over the ids, `items`."""

    __slots__ = ("_fp", "_hi", "_lo", "_merge_at", "_recent", "_shift", "_start")

    def __init__(self, items: Iterable[tuple[int, int]] = ()) -> None:
        self._hi = array("Q")
        self._lo = array("Q")
        self._fp = array("I")
        self._start = array("I", [0, 0])  # bucket b holds _hi[_start[b]:_start[b + 1]]
        self._shift = 64  # bucket of a high half: hi >> _shift
        self._recent: dict[int, int] = dict(items)
        self._merge_at = MIN_RECENT
        self._merge()

    def get(self, key: int) -> int | None:
        """The fingerprint stored with `key`, or None."""
        found = self._recent.get(key)
        if found is not None:
            return found
        hi, his, start = key >> 64, self._hi, self._start
        b = hi >> self._shift
        i = bisect_left(his, hi, start[b], start[b + 1])
        # uuid4 has 60 random bits in its high half: equal halves are rare but possible.
        while i < len(his) and his[i] == hi:
            if self._lo[i] == key & LOW:
                return self._fp[i]
            i += 1
        return None

    def __contains__(self, key: int) -> bool:
        return self.get(key) is not None

    def add(self, key: int, fingerprint: int) -> int | None:
        """Add `key` with its fingerprint and return None; if `key` is there already, change
        nothing and return the fingerprint it was added with (one lookup for both answers).

        `get` written out: this runs for every event."""
        recent = self._recent
        found = recent.get(key)
        if found is not None:
            return found
        his, start = self._hi, self._start
        hi = key >> 64
        b = hi >> self._shift
        i = bisect_left(his, hi, start[b], start[b + 1])
        while i < len(his) and his[i] == hi:
            if self._lo[i] == key & LOW:
                return self._fp[i]
            i += 1
        recent[key] = fingerprint
        if len(recent) >= self._merge_at:
            self._merge()
        return None

    def __len__(self) -> int:
        return len(self._hi) + len(self._recent)

    def __iter__(self) -> Iterator[int]:
        yield from ((h << 64) | lo for h, lo in zip(self._hi, self._lo, strict=True))
        yield from self._recent

    def items(self) -> Iterator[tuple[int, int]]:
        yield from (
            ((h << 64) | lo, fp) for h, lo, fp in zip(self._hi, self._lo, self._fp, strict=True)
        )
        yield from self._recent.items()

    def _merge(self) -> None:
        if not self._recent:
            return
        # None of them is in the arrays (add checks). Sorted by numpy, not as Python ints
        # (0.5 us per id); a dict iterates in the same order twice while unchanged.
        recent, n = self._recent, len(self._recent)
        new_hi = np.fromiter((k >> 64 for k in recent), np.uint64, n)
        new_lo = np.fromiter((k & LOW for k in recent), np.uint64, n)
        new_fp = np.fromiter(recent.values(), np.uint32, n)
        order = np.argsort(new_hi, kind="stable")
        new_hi, new_lo, new_fp = new_hi[order], new_lo[order], new_fp[order]
        at = np.searchsorted(np.frombuffer(self._hi, np.uint64), new_hi)
        # Equal high halves stay adjacent, which is all a lookup needs.
        his = np.insert(np.frombuffer(self._hi, np.uint64), at, new_hi)
        self._hi = _as_array(his, "Q")
        self._lo = _as_array(np.insert(np.frombuffer(self._lo, np.uint64), at, new_lo), "Q")
        self._fp = _as_array(np.insert(np.frombuffer(self._fp, np.uint32), at, new_fp), "I")
        bits = max(1, (len(his) >> 2).bit_length())  # 2^bits buckets, 2-4 ids each
        self._shift = 64 - bits
        counts = np.bincount(his >> np.uint64(self._shift), minlength=1 << bits)
        self._start = _as_array(np.concatenate(([0], np.cumsum(counts))).astype(np.uint32), "I")
        self._recent = {}
        self._merge_at = max(MIN_RECENT, len(his) >> 3)


def _as_array(values: np.ndarray[Any, Any], typecode: str) -> array[int]:
    out = array(typecode)
    assert out.itemsize == values.itemsize
    out.frombytes(values.tobytes())
    return out
