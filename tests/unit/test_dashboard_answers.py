"""The dashboard's answer cache: an unchanged checkpoint state costs no query; a moved one is
served from the last answer while one refresh runs; refreshes are paced by their cost."""

from __future__ import annotations

import asyncio

import pytest

from streams.dashboard.answers import Answer, Answers


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Queries:
    """Computes answers named by the state, taking `took` seconds of the fake clock, each
    held until `release` is set when `hold` is on."""

    def __init__(self, clock: Clock, took: float = 1.0) -> None:
        self.clock = clock
        self.took = took
        self.runs: list[object] = []
        self.hold = False
        self.release = asyncio.Event()

    def of(self, state: object):  # type: ignore[no-untyped-def]
        async def compute() -> Answer:
            self.runs.append(state)
            if self.hold:
                await self.release.wait()
            self.clock.now += self.took
            return Answer(f"{state}".encode(), f'"{state}"', 0, state)

        return compute


def test_the_same_state_is_answered_without_a_query() -> None:
    async def run() -> None:
        clock = Clock()
        answers = Answers(clock=clock)
        queries = Queries(clock)
        first = await answers.get("totals", 1, queries.of(1))
        again = await asyncio.gather(*(answers.get("totals", 1, queries.of(1)) for _ in range(20)))
        assert first.body == b"1"
        assert all(a is first for a in again)
        assert queries.runs == [1]

    asyncio.run(run())


def test_a_moved_state_is_served_stale_while_one_refresh_runs() -> None:
    async def run() -> None:
        clock = Clock()
        answers = Answers(pause_factor=0, clock=clock)
        queries = Queries(clock)
        await answers.get("totals", 1, queries.of(1))
        queries.hold = True
        polls = await asyncio.gather(*(answers.get("totals", 2, queries.of(2)) for _ in range(20)))
        assert {a.body for a in polls} == {b"1"}  # nobody waited for ClickHouse
        assert queries.runs == [1, 2]  # one refresh for twenty pollers
        queries.release.set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert (await answers.get("totals", 2, queries.of(2))).body == b"2"
        assert queries.runs == [1, 2]

    asyncio.run(run())


def test_refreshes_wait_pause_factor_times_the_last_ones_cost() -> None:
    async def run() -> None:
        clock = Clock()
        answers = Answers(pause_factor=3, clock=clock)
        queries = Queries(clock, took=2.0)
        await answers.get("totals", 1, queries.of(1))  # took 2 s: next refresh 6 s later
        clock.now += 5.9
        assert (await answers.get("totals", 2, queries.of(2))).body == b"1"
        assert queries.runs == [1]
        clock.now += 0.2
        await answers.get("totals", 2, queries.of(2))
        await asyncio.sleep(0)
        assert queries.runs == [1, 2]
        # A question never asked is answered at once, whatever the pacing.
        assert (await answers.get("daily", 2, queries.of("d2"))).body == b"d2"

    asyncio.run(run())


def test_a_failed_first_answer_raises_and_a_failed_refresh_keeps_the_last() -> None:
    async def run() -> None:
        clock = Clock()
        answers = Answers(pause_factor=0, clock=clock)
        queries = Queries(clock)

        async def broken() -> Answer:
            raise ConnectionError("ClickHouse is down")

        with pytest.raises(ConnectionError):
            await answers.get("totals", 1, broken)
        assert (await answers.get("totals", 1, queries.of(1))).body == b"1"
        assert (await answers.get("totals", 2, broken)).body == b"1"
        await asyncio.sleep(0)
        assert (await answers.get("totals", 2, queries.of(2))).body == b"1"  # refreshing again
        await asyncio.sleep(0)
        assert (await answers.get("totals", 2, queries.of(2))).body == b"2"

    asyncio.run(run())


def test_the_cache_holds_at_most_its_capacity() -> None:
    async def run() -> None:
        clock = Clock()
        answers = Answers(capacity=3, clock=clock)
        queries = Queries(clock, took=0)
        for key in range(5):
            await answers.get(key, 1, queries.of(key))
        assert list(answers.slots) == [2, 3, 4]

    asyncio.run(run())
