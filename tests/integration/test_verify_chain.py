"""Tamper evidence on the real stack: `frontline verify` recomputes each partition's hash chain
from Kafka; an event changed, removed or inserted in a copy of a partition's history is
reported at its partition and offset; heads kept with --heads are checked with --against."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from streams.settings import Settings
from streams.topics import events_topic
from tests.integration.conftest import SharedCampaign
from tests.integration.harness import frontline


def _copy_history(settings: Settings, name: str, tamper: str, at: int) -> str:
    """Copy the event topic, message by message and partition by partition, into a new topic;
    in partition 0, at offset `at`: change the message, remove it, or insert one before it."""
    source = events_topic(settings)
    copy = settings.topic(name)
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    partitions = sorted(consumer.partitions_for_topic(source) or ())
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    admin.create_topics([NewTopic(copy, len(partitions), 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=20)
    for p in partitions:
        tp = TopicPartition(source, p)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        while consumer.position(tp) < end:
            for records in consumer.poll(timeout_ms=2000, max_records=5000).values():
                for r in records:
                    value = r.value
                    if p == 0 and r.offset == at:
                        if tamper == "removed":
                            continue
                        if tamper == "changed":
                            value = value + b" "  # the same JSON, other bytes
                        if tamper == "inserted":
                            producer.send(copy, value=b'{"inserted": true}', key=r.key, partition=p)
                    producer.send(copy, value=value, key=r.key, partition=p)
        producer.flush()
    producer.close()
    consumer.close()
    return copy


def _accepted_offset(settings: Settings) -> int:
    """An accepted event of partition 0 half-way through it, followed by another (so a removal
    moves an accepted event up to its offset)."""
    offsets = [
        int(o)
        for (o,) in settings.clickhouse.client().execute(
            "SELECT DISTINCT kafka_offset FROM event_log WHERE kafka_partition = 0 "
            "ORDER BY kafka_offset"
        )
    ]
    accepted = set(offsets)
    return next(o for o in offsets[len(offsets) // 2 :] if o + 1 in accepted)


def test_verify_holds_on_the_history_and_an_untouched_copy(
    shared_live: SharedCampaign, tmp_path: Path
) -> None:
    settings = shared_live.settings
    done = frontline(settings, "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified: the hash chains of" in done.stdout

    heads = frontline(settings, "verify", "--heads")
    assert heads.returncode == 0, heads.stderr
    document = json.loads(heads.stdout)
    assert len(document["heads"]) >= 1
    assert all(len(h["head"]) == 64 and h["events"] > 0 for h in document["heads"])
    kept = tmp_path / "heads.json"
    kept.write_text(heads.stdout)

    copy = _copy_history(settings, "copy-same", "none", -1)
    same = frontline(settings, "verify", "--history", copy, "--against", str(kept))
    assert same.returncode == 0, same.stdout + same.stderr

    # A kept head that does not match (as if the history had been rewritten since).
    document["heads"][0]["head"] = "0" * 64
    kept.write_text(json.dumps(document))
    rewritten = frontline(settings, "verify", "--against", str(kept))
    assert rewritten.returncode == 1, rewritten.stdout + rewritten.stderr
    partition = document["heads"][0]["partition"]
    offset = document["heads"][0]["offset"]
    assert f"partition {partition}, offset {offset}: the head kept" in rewritten.stderr


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        ("changed", "its content was changed"),
        ("removed", "was removed"),
        ("inserted", "an event was inserted before it"),
    ],
)
def test_verify_reports_a_tampered_copy_at_its_coordinates(
    shared_live: SharedCampaign, tamper: str, says: str
) -> None:
    settings = shared_live.settings
    at = _accepted_offset(settings)
    copy = _copy_history(settings, f"copy-{tamper}", tamper, at)
    found = frontline(settings, "verify", "--history", copy)
    assert found.returncode == 1, found.stdout + found.stderr
    assert f"first: partition 0, offset {at}" in found.stderr, found.stderr
    assert says in found.stderr, found.stderr
