"""The history readers' collector schedule is theirs only: the process's own thresholds are back
after the read, whether it ended or failed."""

from __future__ import annotations

import gc

import pytest

from streams.collector import GC_THRESHOLDS, collecting_rarely

PYTHONS_DEFAULT = (700, 10, 10)


def test_thresholds_are_raised_within_and_restored_after() -> None:
    own = gc.get_threshold()  # another test may have tuned this process already
    gc.set_threshold(*PYTHONS_DEFAULT)
    try:
        with collecting_rarely():
            assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_threshold() == PYTHONS_DEFAULT
        with pytest.raises(RuntimeError), collecting_rarely():
            raise RuntimeError("a read failed")
        assert gc.get_threshold() == PYTHONS_DEFAULT
    finally:
        gc.set_threshold(*own)
