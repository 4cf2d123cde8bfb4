"""The worker's pipeline against the real ClickHouse: while the next batch is already
fetched (catch-up), batches are written together; otherwise each is written at once."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from events.examples import EXAMPLES
from projections import migrate
from projections.projection import Message
from projections.store import StateStore
from streams.dead_letters import read_dead_letter
from streams.metrics import WorkerMetrics
from streams.settings import Settings
from streams.worker.app import FaustDeadLetters
from streams.worker.pipeline import BatchLostError, Pipeline

TOPIC = "events.sampling"


def _batch(first_offset: int, size: int) -> list[Message]:
    now_ms = int(time.time() * 1000)
    out = []
    for offset in range(first_offset, first_offset + size):
        payload: dict[str, Any] = {**EXAMPLES["sampling.assisted"], "event_id": str(uuid.uuid4())}
        out.append(Message(TOPIC, 0, offset, now_ms, json.dumps(payload).encode()))
    return out


def _written(settings: Settings) -> tuple[int, int]:
    """(event_log rows, checkpoint of partition 0 or -1)."""
    client = settings.clickhouse.client()
    logged = client.execute("SELECT count() FROM event_log")[0][0]
    checkpoint = client.execute("SELECT max(version), count() FROM checkpoints")[0]
    return int(logged), int(checkpoint[0]) if checkpoint[1] else -1


class NoDeadLetters:
    """These batches are all valid: a dead letter would be a bug."""

    async def send(self, records: list[bytes]) -> None:
        raise AssertionError(f"unexpected dead letters: {records!r}")


def _pipeline(settings: Settings, **kwargs: Any) -> Pipeline:
    return Pipeline(StateStore(settings.clickhouse), NoDeadLetters(), **kwargs)


async def _handle(pipeline: Pipeline, seq: int, batch: list[Message], more: bool) -> None:
    # Valid events only: the dead-letter topic is never used.
    await pipeline.handle(seq, batch, more_fetched=lambda: more)
    await pipeline.wait_for_write()


def test_batches_join_one_write_only_while_more_are_fetched(isolated: Settings) -> None:
    migrate.apply(isolated.clickhouse)

    async def run() -> None:
        pipeline = _pipeline(isolated, write_max=250)
        # The fetcher is ahead (catching up): 200 < write_max, both wait for the next batch.
        await _handle(pipeline, 1, _batch(0, 100), more=True)
        await _handle(pipeline, 2, _batch(100, 100), more=True)
        assert _written(isolated) == (0, -1)
        assert pipeline.batches_done == 0
        # write_max reached: one write for the three batches.
        await _handle(pipeline, 3, _batch(200, 100), more=True)
        assert _written(isolated) == (300, 299)
        assert pipeline.batches_done == 3
        # Nothing fetched beyond this batch: written at once, for freshness.
        await _handle(pipeline, 4, _batch(300, 10), more=False)
        assert _written(isolated) == (310, 309)
        assert pipeline.batches_done == 4

    asyncio.run(run())


def test_times_are_written_and_read_back_as_utc(isolated: Settings) -> None:
    # DateTime values go to the driver as epoch seconds: a naive datetime would be read in the
    # server's (or host's) zone. 07:00 and 12:30 at +08:00 are 23:00 and 04:30 UTC.
    migrate.apply(isolated.clickhouse)
    now_ms = int(time.time() * 1000)
    shift = [
        Message("events.shifts", 0, i, now_ms, json.dumps(EXAMPLES[kind]).encode())
        for i, kind in enumerate(["volunteer.checked_in", "volunteer.checked_out"])
    ]
    check_in = int(datetime(2022, 3, 16, 23, 0, tzinfo=UTC).timestamp())
    check_out = int(datetime(2022, 3, 17, 4, 30, tzinfo=UTC).timestamp())

    async def run() -> None:
        await _handle(_pipeline(isolated), 1, shift, more=False)

    asyncio.run(run())
    client = isolated.clickhouse.client()
    logged = client.execute(
        "SELECT toUInt32(occurred_at), day FROM event_log ORDER BY kafka_offset"
    )
    assert logged == [(check_in, date(2022, 3, 17)), (check_out, date(2022, 3, 17))]
    seen = client.execute(
        "SELECT toUInt32(checked_in_at), toUInt32(checked_out_at), status, service_s "
        "FROM shifts_current"
    )
    assert seen == [(check_in, check_out, "closed", 5 * 3600 + 30 * 60)]
    loaded = StateStore(isolated.clickhouse).load("events.shifts", 0).shifts["shift-0451-07"]
    assert (loaded.checked_in_at, loaded.checked_out_at) == (check_in, check_out)


def test_a_lost_batch_stops_the_projection_before_anything_moves(isolated: Settings) -> None:
    migrate.apply(isolated.clickhouse)

    async def run() -> None:
        pipeline = _pipeline(isolated)
        await _handle(pipeline, 1, _batch(0, 10), more=False)
        with pytest.raises(BatchLostError, match="batch 3 arrived after batch 1"):
            await _handle(pipeline, 3, _batch(20, 10), more=False)

    asyncio.run(run())
    assert _written(isolated) == (10, 9)  # batch 3 was never counted, nothing moved past 9


def test_dead_letters_are_retried_until_kafka_takes_them(isolated: Settings) -> None:
    migrate.apply(isolated.clickhouse)
    sent: list[bytes] = []

    class Flaky:
        """A dead-letter topic whose first two sends fail, as while Kafka is away."""

        failures = 2

        async def send(self, value: bytes) -> asyncio.Future[None]:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if self.failures:
                self.failures -= 1
                future.set_exception(ConnectionError("broker away"))
            else:
                sent.append(value)
                future.set_result(None)
            return future

    poison = Message(TOPIC, 0, 10, int(time.time() * 1000), b"{" + b" " * (2 << 20) + b"}")

    async def run() -> None:
        sink = FaustDeadLetters(Flaky(), WorkerMetrics())  # type: ignore[arg-type]
        pipeline = Pipeline(StateStore(isolated.clickhouse), sink)
        batch = [*_batch(0, 10), poison, *_batch(11, 5)]
        await pipeline.handle(1, batch, more_fetched=lambda: False)
        await pipeline.wait_for_write()

    asyncio.run(run())
    assert [read_dead_letter(v)["code"] for v in sent] == ["too_large"]
    assert _written(isolated) == (15, 15)  # every valid event, the poison's offset passed
