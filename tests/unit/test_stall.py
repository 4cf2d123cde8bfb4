"""When a worker's stall is reported: once per stall, after `after_s` without a batch written
while work waits."""

from __future__ import annotations

from aiokafka import TopicPartition

from streams.settings import Settings
from streams.worker.fetcher import BatchFetcher
from streams.worker.stall import StallWatch


def test_a_stall_is_reported_once_after_its_threshold_and_again_after_progress() -> None:
    watch = StallWatch(after_s=10, since=0)
    assert watch.check(5, done=0, waiting=True) is None  # not yet 10 s
    assert watch.check(11, done=0, waiting=True) == 11
    assert watch.check(30, done=0, waiting=True) is None  # reported already
    assert watch.check(31, done=1, waiting=True) is None  # a batch written: a new watch
    assert not watch.reported
    assert watch.check(40, done=1, waiting=True) is None
    assert watch.check(42, done=1, waiting=True) == 11


def test_an_idle_worker_is_not_stalled() -> None:
    watch = StallWatch(after_s=10, since=0)
    assert watch.check(100, done=0, waiting=False) is None
    assert watch.check(105, done=0, waiting=True) is None  # waiting since 100 only
    assert watch.check(111, done=0, waiting=True) == 11


class _Consumer:
    """What the fetcher reads of aiokafka's consumer: its assignment, and each partition's
    high watermark (None until a fetch response carried one)."""

    def __init__(self, highwater: dict[TopicPartition, int | None]) -> None:
        self._highwater = highwater

    def assignment(self) -> set[TopicPartition]:
        return set(self._highwater)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self._highwater[tp]


def test_partitions_no_fetch_answered_are_waiting_work() -> None:
    # A fetch Kafka never answers, before any partition's state is loaded: `behind` sees no
    # messages waiting, so without this the stall watch would stay silent.
    fetcher = BatchFetcher(Settings(), batch_max=10, within_s=0.1, on_revoked=_nothing)
    assert fetcher.unanswered() == 0  # not started
    a, b = TopicPartition("events", 0), TopicPartition("events", 1)
    fetcher._consumer = _Consumer({a: None, b: 12})
    assert fetcher.unanswered() == 1
    fetcher._consumer = _Consumer({a: 0, b: 12})
    assert fetcher.unanswered() == 0  # answered: an idle partition is not a stall


async def _nothing(revoked: set[tuple[str, int]]) -> None:
    return None
