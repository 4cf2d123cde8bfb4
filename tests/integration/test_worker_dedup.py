"""An event_id counts once, wherever its copies land (issue #11, finding 3).

Before: the same event_id sent again with another volunteer_id, or as another type, landed in
another partition or topic and was counted again (+200 assists, +999,999 fen). Now every copy
of an id lands in the same partition of the one event topic; the first accepted copy counts, an
identical copy is a duplicate, a copy with other content is a `conflicting_duplicate` (dead
letter, never counted), and a copy a raw producer put in another partition is `misrouted`.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from projections import queries
from streams.ingest.producer import Producer
from streams.settings import Settings
from streams.topics import dead_letter_topic, events_topic
from tests.integration.harness import (
    frontline,
    start_worker,
    stop,
    wait_caught_up,
)
from tests.integration.ingest_helpers import event, line, read_dead_letters, scrape
from tests.integration.servers import free_port


def _totals(settings: Settings) -> dict[str, Any]:
    result = queries.run(settings.dashboard, "totals")
    return dict(zip(result.columns, result.rows[0], strict=True))


def test_an_event_id_counts_once_across_volunteers_and_types(
    isolated: Settings, tmp_path: Path
) -> None:
    assert frontline(isolated, "migrate").returncode == 0
    assert frontline(isolated, "topics", "ensure").returncode == 0
    first = event("sampling.assisted", volunteer_id="vol-000001")
    first["data"]["people_assisted"] = 100
    other_volunteer = {**first, "volunteer_id": "vol-000002"}
    other_type = event("donation.received", event_id=first["event_id"], volunteer_id="vol-000003")
    other_type["data"]["amount_fen"] = 999_999
    with Producer(isolated) as producer:
        for copy in (first, first, other_volunteer, other_type, first):
            producer.send(line(copy)).result()
    # A raw producer keys by volunteer: its copy may land in another partition than the id's.
    raw = KafkaProducer(bootstrap_servers=isolated.bootstrap_servers, acks="all")
    partitions = sorted(raw.partitions_for(events_topic(isolated)))
    stray = event("sampling.assisted")
    home = Producer.partition_for(stray["event_id"], len(partitions))
    elsewhere = (home + 1) % len(partitions)
    raw.send(events_topic(isolated), value=json.dumps(stray).encode(), partition=elsewhere).get(30)
    raw.close()

    log = tmp_path / "worker.log"
    port = free_port()
    worker = start_worker(isolated, log, "--metrics-port", str(port))
    try:
        wait_caught_up(isolated, [worker], log)
        metrics = scrape(f"http://127.0.0.1:{port}/metrics")
        health = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert json.loads(health.read())["status"] == "ok"
    finally:
        stop(worker)

    # The worker's /metrics say the same as ClickHouse.
    assert metrics[("frontline_worker_messages_total", (("outcome", "accepted"),))] == 1
    assert metrics[("frontline_worker_messages_total", (("outcome", "duplicate"),))] == 2
    assert metrics[("frontline_worker_messages_total", (("outcome", "conflict"),))] == 2
    assert metrics[("frontline_worker_rejected_total", (("code", "misrouted"),))] == 1
    assert metrics[("frontline_worker_dead_letters_total", ())] == 3
    lags = {k: v for k, v in metrics.items() if k[0] == "frontline_worker_lag_messages"}
    gaps = {k: v for k, v in metrics.items() if k[0] == "frontline_worker_unaccounted_offsets"}
    assert lags
    assert set(lags.values()) == {0}
    assert set(gaps.values()) == {0}
    assert metrics[("frontline_worker_event_to_clickhouse_seconds_count", ())] >= 1

    totals = _totals(isolated)
    assert totals["sampling_assists"] == 100
    assert totals["donations_fen"] == 0
    assert totals["volunteers"] == 1
    letters = read_dead_letters(isolated, dead_letter_topic(isolated))
    assert sorted(d["code"] for d in letters) == [
        "conflicting_duplicate",
        "conflicting_duplicate",
        "misrouted",
    ]
    conflicts = [d for d in letters if d["code"] == "conflicting_duplicate"]
    assert {d["event_id"] for d in conflicts} == {first["event_id"]}
    lag = frontline(isolated, "lag")
    assert lag.returncode == 0, lag.stderr
    assert re.search(r"^\s+conflicting_duplicate\s+2$", lag.stdout, re.MULTILINE), lag.stdout
    assert re.search(r"^\s+duplicate\s+2$", lag.stdout, re.MULTILINE), lag.stdout
    assert re.search(r"^\s+misrouted\s+1$", lag.stdout, re.MULTILINE), lag.stdout
