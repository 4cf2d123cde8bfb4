"""When a worker's stall is reported: once per stall, after `after_s` without a batch written
while work waits."""

from __future__ import annotations

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
