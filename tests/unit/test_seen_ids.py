"""SeenIds behaves as a dict of 128-bit ints to fingerprints across merges, including equal high
halves: the first fingerprint added for an id is the one it keeps."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import projections.seen_ids as seen_ids
from projections.seen_ids import SeenIds


def test_add_reports_new_and_known_ids_across_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seen_ids, "MIN_RECENT", 7)  # merge often
    rng = random.Random(3)
    ids = [rng.getrandbits(128) for _ in range(500)]
    seen = SeenIds()
    assert all(seen.add(i, i & 0xFFFF) is None for i in ids)
    assert [seen.add(i, 1 << 20) for i in ids] == [i & 0xFFFF for i in ids]  # the first stays
    assert len(seen) == 500
    assert sorted(seen) == sorted(ids)
    assert sorted(seen.items()) == sorted((i, i & 0xFFFF) for i in ids)
    assert all(i in seen for i in ids)
    assert not any(rng.getrandbits(128) in seen for _ in range(500))


def test_ids_that_share_their_high_half_are_told_apart() -> None:
    high = 0xDEADBEEF << 64
    seen = SeenIds([(high | 1, 10), (high | 5, 50), ((high + (1 << 64)) | 2, 20)])  # merged
    assert seen.get(high | 1) == 10
    assert seen.get(high | 5) == 50
    assert (high | 3) not in seen
    assert seen.add(high | 3, 30) is None
    assert seen.add(high | 5, 99) == 50
    assert len(seen) == 4


@given(
    st.lists(
        st.tuples(st.integers(0, (1 << 128) - 1), st.integers(0, (1 << 32) - 1)), max_size=200
    ),
    st.integers(1, 20),
)
def test_matches_a_python_dict(values: list[tuple[int, int]], merge_at: int) -> None:
    seen_ids.MIN_RECENT = merge_at
    try:
        seen, reference = SeenIds(), dict[int, int]()
        for key, fp in values:
            assert seen.add(key, fp) == reference.get(key)
            reference.setdefault(key, fp)
        assert dict(seen.items()) == reference
        assert len(seen) == len(reference)
    finally:
        seen_ids.MIN_RECENT = 50_000


def test_uniform_ids_across_bucket_edges(monkeypatch: pytest.MonkeyPatch) -> None:
    # uuid4-like ids fill every bucket of the directory; the extremes sit in the first and last.
    monkeypatch.setattr(seen_ids, "MIN_RECENT", 64)
    rng = random.Random(5)
    edges = [0, 1, (1 << 64) - 1, 1 << 64, (1 << 128) - 1, ((1 << 64) - 1) << 64]
    ids = edges + [rng.getrandbits(128) for _ in range(5000)]
    seen = SeenIds((i, 7) for i in ids[:3000])
    assert all(seen.add(i, 8) is None for i in ids[3000:])
    assert all(i in seen for i in ids)
    assert {seen.add(i, 9) for i in ids} == {7, 8}
    assert not any(rng.getrandbits(128) in seen for _ in range(2000))
    assert len(seen) == len(ids)
