"""Invalid bytes that reach an event topic without ingest (a broken producer) are not counted:
the worker sends each to the dead-letter topic with its code, its Kafka coordinates and the
original bytes (a phone number masked)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from streams.dead_letters import read_dead_letter
from streams.settings import Settings
from streams.topics import dead_letter_topic, events_topic
from tests.fixtures import load
from tests.integration.harness import count_to_the_end, frontline, start_worker, stop
from tests.integration.servers import free_port


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
    count_to_the_end(isolated, log)

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


def test_worker_logs_json_lines_when_asked(isolated: Settings, tmp_path: Path) -> None:
    assert frontline(isolated, "migrate").returncode == 0
    assert frontline(isolated, "topics", "ensure").returncode == 0
    as_json = isolated.model_copy(update={"log_format": "json"})
    log = tmp_path / "worker.log"
    port = free_port()
    worker = start_worker(as_json, log, "--loglevel", "info", "--metrics-port", str(port))
    try:
        deadline = time.monotonic() + 60
        while "metrics on" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop(worker)
    records = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    mine = [r for r in records if r["logger"] == "frontline.worker"]
    assert any(r["message"] == f"metrics on http://127.0.0.1:{port}/metrics" for r in mine)
    assert {"ts", "level", "logger", "message", "pid"} <= set(mine[0])
