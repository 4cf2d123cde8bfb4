"""The worker's write policy against the real ClickHouse: while the next batch is already
fetched (catch-up), batches are written together; otherwise each is written at once."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from events.examples import EXAMPLES
from projections import migrate
from projections.state import Message
from projections.state_store import StateStore
from streams.settings import Settings
from streams.worker import Projector

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


async def _handle(projector: Projector, seq: int, batch: list[Message], more: bool) -> None:
    # Valid events only: the dead-letter topic is never used.
    await projector.handle(seq, batch, dead=None, more_fetched=lambda: more)  # type: ignore[arg-type]
    await projector.wait_for_write()


def test_batches_join_one_write_only_while_more_are_fetched(isolated: Settings) -> None:
    migrate.apply(isolated.clickhouse)

    async def run() -> None:
        projector = Projector(StateStore(isolated.clickhouse), write_max=250)
        # The fetcher is ahead (catching up): 200 < write_max, both wait for the next batch.
        await _handle(projector, 1, _batch(0, 100), more=True)
        await _handle(projector, 2, _batch(100, 100), more=True)
        assert _written(isolated) == (0, -1)
        assert projector.batches_done == 0
        # write_max reached: one write for the three batches.
        await _handle(projector, 3, _batch(200, 100), more=True)
        assert _written(isolated) == (300, 299)
        assert projector.batches_done == 3
        # Nothing fetched beyond this batch: written at once, for freshness.
        await _handle(projector, 4, _batch(300, 10), more=False)
        assert _written(isolated) == (310, 309)
        assert projector.batches_done == 4

    asyncio.run(run())
