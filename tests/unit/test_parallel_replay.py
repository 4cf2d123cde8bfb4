"""The parallel replay's bookkeeping, without processes: failures are named, progress covers
what an interrupted run had done."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from projections.replays import PartitionPlan
from streams.audit.parallel import ReplayProcessError, _collect
from streams.worker.pipeline import BatchStats


def _queue_with(*items: tuple[int, BatchStats | str]) -> multiprocessing.Queue:  # type: ignore[type-arg]
    q: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    for item in items:
        q.put(item)
    time.sleep(0.1)  # the feeder thread
    return q


def test_a_finished_process_hands_in_its_stats() -> None:
    done: dict[int, BatchStats] = {}
    _collect(_queue_with((1, BatchStats(accepted=5))), done, 2, 1.0)
    assert done == {1: BatchStats(accepted=5)}


def test_a_failed_process_is_named_with_its_error_and_the_way_on() -> None:
    with pytest.raises(ReplayProcessError) as failed:
        _collect(_queue_with((0, "NetworkError: connection refused")), {}, 2, 1.0)
    assert "replay process 1 of 2 failed: NetworkError: connection refused" in str(failed.value)
    assert "run the same command again to resume" in str(failed.value)


def test_nothing_reported_leaves_the_count_as_it_was() -> None:
    done: dict[int, BatchStats] = {}
    _collect(_queue_with(), done, 2, 0.05)
    assert done == {}


def test_a_checkpoint_covers_only_the_partitions_planned_share() -> None:
    p = PartitionPlan("t", 0, start=100, end=200)
    assert [p.covered(c) for c in (-1, 50, 99, 100, 149, 199, 250)] == [0, 0, 0, 1, 50, 100, 100]
