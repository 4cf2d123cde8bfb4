"""Voids on the real stack (WIP, branch voids-wip): a voided event drops out of the counts,
whether its void comes after it (in a later batch) or before it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from projections import queries
from streams.ingest.producer import Producer
from streams.settings import Settings
from tests.integration.harness import frontline, start_worker, stop, wait_caught_up
from tests.integration.ingest_helpers import event, line


def _totals(settings: Settings) -> dict[str, Any]:
    result = queries.run(settings.dashboard, "totals")
    return dict(zip(result.columns, result.rows[0], strict=True))


def _void(target: dict[str, Any]) -> dict[str, Any]:
    return event(
        "event.voided",
        data={"voided_event_id": target["event_id"], "reason": "entered twice by mistake"},
    )


def test_a_voided_event_drops_out_of_the_counts(isolated: Settings, tmp_path: Path) -> None:
    assert frontline(isolated, "migrate").returncode == 0
    assert frontline(isolated, "topics", "ensure").returncode == 0
    kept = event("sampling.assisted")
    kept["data"]["people_assisted"] = 100
    mistaken = event("sampling.assisted")
    mistaken["data"]["people_assisted"] = 40
    late = event("sampling.assisted")
    late["data"]["people_assisted"] = 7
    log = tmp_path / "worker.log"
    worker = start_worker(isolated, log)
    try:
        with Producer(isolated) as producer:
            for e in (kept, mistaken, _void(late)):
                producer.send(line(e)).result()
        wait_caught_up(isolated, [worker], log)
        assert _totals(isolated)["sampling_assists"] == 140
        with Producer(isolated) as producer:
            for e in (_void(mistaken), late, _void(mistaken)):
                producer.send(line(e)).result()
        wait_caught_up(isolated, [worker], log)
        assert _totals(isolated)["sampling_assists"] == 100
    finally:
        stop(worker)
