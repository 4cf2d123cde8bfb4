"""The public views on the 18.16 server: shifts joined across partitions (check-in and check-out
travel under their own event_ids), and any column of `totals` alone equals the same column of
the whole row."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import date
from typing import Any

import pytest

from events.examples import EXAMPLES
from events.routing import partition_for
from projections import migrate
from projections.projection import Message
from projections.store import StateStore
from streams.settings import Settings
from streams.worker.pipeline import Pipeline
from tests.integration.test_pipeline_writes import NoDeadLetters

TOPIC = "events"
PARTITIONS = 6


def _shift_event(kind: str, shift: str, at: str, org: str = "org-0042") -> dict[str, Any]:
    data = {"shift_id": shift, "site_id": "site-0101"}
    if kind == "volunteer.checked_in":
        data["activity"] = "sampling_support"
    return {
        **EXAMPLES[kind],
        "event_id": str(uuid.uuid4()),
        "occurred_at": at,
        "org_id": org,
        "data": data,
    }


def _project(settings: Settings, events: list[dict[str, Any]]) -> list[int]:
    """Each event as a message of its own partition (as the SDK routes it); the partitions."""
    now_ms = int(time.time() * 1000)
    offsets: dict[int, int] = {}
    batch = []
    for event in events:
        p = partition_for(uuid.UUID(event["event_id"]), PARTITIONS)
        offsets[p] = offsets.get(p, -1) + 1
        key = event["event_id"].encode()
        batch.append(Message(TOPIC, p, offsets[p], now_ms, json.dumps(event).encode(), key))

    async def run() -> None:
        pipeline = Pipeline(
            StateStore(settings.clickhouse), NoDeadLetters(), partitions=lambda t: PARTITIONS
        )
        await pipeline.handle(1, batch, more_fetched=lambda: False)
        await pipeline.wait_for_write()

    asyncio.run(run())
    return [m.partition for m in batch]


def _shifts(settings: Settings) -> dict[str, tuple[object, ...]]:
    rows = settings.clickhouse.client().execute(
        "SELECT shift_id, day, org_id, status, service_s FROM shifts_current"
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def test_a_shift_is_joined_across_partitions(isolated: Settings) -> None:
    migrate.apply(isolated.clickhouse)
    events = []
    # Draw until the two ends of shift a are in different partitions.
    while True:
        check_in = _shift_event("volunteer.checked_in", "a", "2022-03-17T08:00:00+08:00")
        check_out = _shift_event("volunteer.checked_out", "a", "2022-03-17T12:30:00+08:00")
        if partition_for(uuid.UUID(check_in["event_id"]), PARTITIONS) != partition_for(
            uuid.UUID(check_out["event_id"]), PARTITIONS
        ):
            break
    events += [check_out, check_in]  # the check-out first, as may happen
    # Two check-ins of shift b: the earlier one owns it (its day and org).
    events += [
        _shift_event("volunteer.checked_in", "b", "2022-03-18T09:00:00+08:00", org="org-0007"),
        _shift_event("volunteer.checked_in", "b", "2022-03-17T23:00:00+08:00", org="org-0042"),
        _shift_event("volunteer.checked_out", "b", "2022-03-18T10:00:00+08:00", org="org-0007"),
    ]
    events.append(_shift_event("volunteer.checked_out", "c", "2022-03-19T10:00:00+08:00"))
    _project(isolated, events)

    shifts = _shifts(isolated)
    assert shifts["a"] == (date(2022, 3, 17), "org-0042", "closed", 4 * 3600 + 1800)
    assert shifts["b"] == (date(2022, 3, 17), "org-0042", "closed", 11 * 3600)
    assert shifts["c"] == (date(2022, 3, 19), "org-0042", "orphan_checkout", 0)
    totals = isolated.dashboard.client().execute("SELECT checkins, service_hours FROM totals")
    assert totals == [(2, 15.5)]


@pytest.mark.parametrize("view", ["totals", "daily_by_org"])
def test_any_column_alone_equals_that_column_of_the_whole_row(
    isolated: Settings, view: str
) -> None:
    # 18.16 pruned the unused aggregates of a side of totals' joins, and that side then
    # returned one row per presence row (a 602-row `SELECT sampling_assists FROM totals`).
    migrate.apply(isolated.clickhouse)
    events = [
        {**EXAMPLES["sampling.assisted"], "event_id": str(uuid.uuid4()), "volunteer_id": f"v-{i}"}
        for i in range(20)
    ]
    _project(isolated, events)
    client = isolated.dashboard.client()
    whole, types = client.execute(f"SELECT * FROM {view} ORDER BY tuple(*)", with_column_types=True)
    assert whole
    for i, (column, _) in enumerate(types):
        alone = client.execute(f"SELECT {column} FROM {view} ORDER BY {column}")
        assert alone == sorted((row[i],) for row in whole), column
