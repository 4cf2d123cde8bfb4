"""SeenIds answers exactly like a set of the same ids, across merges."""

from __future__ import annotations

import random
import uuid

from hypothesis import given
from hypothesis import strategies as st

from projections import seen
from projections.seen import SeenIds


@given(st.lists(st.integers(min_value=0, max_value=(1 << 128) - 1)), st.data())
def test_same_answers_as_a_set(ids: list[int], data: st.DataObject) -> None:
    split = data.draw(st.integers(min_value=0, max_value=len(ids)))
    compact = SeenIds(ids[:split])
    for key in ids[split:]:
        compact.add(key)
    reference = set(ids)
    assert len(compact) == len(reference)
    for key in ids:
        assert key in compact
    for probe in data.draw(st.lists(st.integers(min_value=0, max_value=(1 << 128) - 1))):
        assert (probe in compact) == (probe in reference)


def test_many_ids_across_merges_with_shared_high_halves(monkeypatch: object) -> None:
    rng = random.Random(3)
    ids = [uuid.UUID(int=rng.getrandbits(128)).int for _ in range(3 * seen.MIN_MERGE)]
    ids += [(ids[0] >> 64 << 64) | n for n in range(50)]  # same high 64 bits, other low halves
    compact = SeenIds()
    for key in ids:
        compact.add(key)
    assert len(compact) == len(set(ids))
    assert all(key in compact for key in ids)
    assert not any(key + 1 in compact for key in ids[:1000] if key + 1 not in set(ids))
    assert "not-an-int" not in compact
