"""`frontline emit` carries a simulated campaign: the event topic's message count, read back
with a plain consumer, equals the simulator's accepted + duplicate lines."""

from __future__ import annotations

import json
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from streams.settings import Settings
from streams.topics import events_topic
from tests.integration.harness import frontline


def _count(settings: Settings, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()


def test_emit_of_a_simulated_campaign_lands_every_line(isolated: Settings, tmp_path: Path) -> None:
    out, expect = tmp_path / "events.jsonl", tmp_path / "expected.json"
    sim = frontline(
        isolated,
        "simulate",
        "--scale",
        "0.002",
        "--seed",
        "3",
        "--out",
        str(out),
        "--expect",
        str(expect),
    )
    assert sim.returncode == 0, sim.stderr
    assert frontline(isolated, "topics", "ensure").returncode == 0
    emit = frontline(isolated, "emit", str(out), "--quiet")
    meta = json.loads(expect.read_text())["meta"]
    assert emit.returncode == 1  # the campaign has invalid lines on purpose
    rejects = (tmp_path / "events.jsonl.rejects.jsonl").read_text().splitlines()
    assert len(rejects) == meta["invalid"]
    assert _count(isolated, events_topic(isolated)) == sum(meta["lines_by_family"].values())
