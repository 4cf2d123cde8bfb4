"""Invalid bytes that reach an event topic without ingest (a broken producer) are not counted:
the worker sends each to the dead-letter topic with its code, its Kafka coordinates and the
original bytes (a phone number masked)."""

from __future__ import annotations

import json
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from streams.dead_letters import read_dead_letter
from streams.settings import Settings
from streams.topics import dead_letter_topic, events_topic
from tests.fixtures import load
from tests.integration.harness import frontline, start_worker, stop, wait_caught_up


def test_worker_dead_letters_invalid_bytes(isolated: Settings, tmp_path: Path) -> None:
    assert frontline(isolated, "migrate").returncode == 0
    assert frontline(isolated, "topics", "ensure").returncode == 0
    invalid = load("invalid")
    topic = events_topic(isolated)
    producer = KafkaProducer(bootstrap_servers=isolated.bootstrap_servers, acks="all")
    for fixture in invalid:
        producer.send(topic, value=fixture.wire)
    producer.flush()
    producer.close()

    log = tmp_path / "worker.log"
    worker = start_worker(isolated, log)
    try:
        wait_caught_up(isolated, [worker], log)
    finally:
        stop(worker)

    consumer = KafkaConsumer(
        dead_letter_topic(isolated),
        bootstrap_servers=isolated.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    records = [read_dead_letter(m.value) for m in consumer]
    consumer.close()
    assert sorted(r["code"] for r in records) == sorted(f.expect for f in invalid)
    for record in records:
        assert record["origin"]["via"] == "worker"
        assert record["origin"]["topic"] == topic
        if record["code"] == "phone_number":
            assert b"#######" in record["original"]
    totals = isolated.clickhouse.client().execute("SELECT sampling_assists, volunteers FROM totals")
    assert totals == [(0, 0)]
    assert (
        json.loads(frontline(isolated, "query", "totals", "--format", "json").stdout)[0][
            "sampling_assists"
        ]
        == 0
    )
