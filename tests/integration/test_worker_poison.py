"""A poison message in an event topic never costs a valid event (issue #11, finding 1).

A 2 MiB message arrives compressed (the broker's 1 MiB limit applies to the compressed batch),
followed by valid events. Before the fix, its dead letter was too big to send, the agent
restarted, the rest of the batch was dropped and the next message moved the checkpoint past
the gap: thousands of valid events were never counted.
"""

from __future__ import annotations

from pathlib import Path

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
from tests.integration.ingest_helpers import event, line, read_dead_letters

POISON = b"{" + b" " * (2 << 20) + b"}"
VALID = 3000
PEOPLE = event("sampling.assisted")["data"]["people_assisted"]


def test_a_2_mib_poison_is_dead_lettered_and_every_valid_event_counts(
    isolated: Settings, tmp_path: Path
) -> None:
    assert frontline(isolated, "migrate").returncode == 0
    assert frontline(isolated, "topics", "ensure").returncode == 0
    log = tmp_path / "worker.log"
    worker = start_worker(isolated, log)
    try:
        raw = KafkaProducer(
            bootstrap_servers=isolated.bootstrap_servers,
            compression_type="gzip",
            max_request_size=8 << 20,
            acks="all",
        )
        raw.send(events_topic(isolated), value=POISON).get(30)
        raw.close()
        ids = []
        with Producer(isolated) as producer:
            for i in range(VALID):
                payload = event("sampling.assisted", volunteer_id=f"vol-{i % 600:06d}")
                ids.append(payload["event_id"])
                producer.send(line(payload))
        wait_caught_up(isolated, [worker], log, timeout=120)
        assert worker.poll() is None, log.read_text()[-3000:]
    finally:
        stop(worker)

    logged = isolated.clickhouse.client().execute("SELECT toString(event_id) FROM event_log")
    assert sorted(r[0] for r in logged) == sorted(ids), "valid events are missing"
    totals = queries.run(isolated.dashboard, "totals")
    assert totals.rows[0][totals.columns.index("sampling_assists")] == VALID * PEOPLE
    letters = read_dead_letters(isolated, dead_letter_topic(isolated))
    assert [r["code"] for r in letters] == ["too_large"]
    assert letters[0]["origin"]["offset"] == 0
