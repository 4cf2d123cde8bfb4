"""Helpers for the ingest tests: example events from the fixtures, and reading topics back."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Literal, overload

from kafka import KafkaConsumer, TopicPartition

from streams.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TYPES = {
    "event.voided": "event_voided",
    "volunteer.checked_in": "volunteer_checked_in",
    "volunteer.checked_out": "volunteer_checked_out",
    "tracing.call_recorded": "tracing_call_recorded",
    "sampling.assisted": "sampling_assisted",
    "disinfection.completed": "disinfection_completed",
    "donation.received": "donation_received",
}


def event(event_type: str = "sampling.assisted", **overrides: Any) -> dict[str, Any]:
    """A valid event of `event_type` (from tests/fixtures/valid) with a fresh event_id."""
    payload: dict[str, Any] = json.loads(
        (FIXTURES / "valid" / f"{TYPES[event_type]}.json").read_text()
    )["payload"]
    payload["event_id"] = str(uuid.uuid4())
    payload.update(overrides)
    return payload


def invalid(name: str) -> dict[str, Any]:
    """The payload of tests/fixtures/invalid/<name>.json."""
    payload: dict[str, Any] = json.loads((FIXTURES / "invalid" / f"{name}.json").read_text())[
        "payload"
    ]
    return payload


def line(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


@overload
def read_topic(settings: Settings, topic: str) -> list[tuple[int, bytes | None, bytes]]: ...
@overload
def read_topic(
    settings: Settings, topic: str, *, with_offsets: Literal[True]
) -> list[tuple[int, int, bytes | None, bytes]]: ...
def read_topic(settings: Settings, topic: str, *, with_offsets: bool = False) -> list[Any]:
    """Every message of `topic` as (partition, key, value), or (partition, offset, key, value),
    read with a plain consumer."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        out: list[Any] = []
        remaining = {tp for tp in partitions if end[tp] > 0}
        while remaining:
            for tp, records in consumer.poll(timeout_ms=2000).items():
                if with_offsets:
                    out.extend((r.partition, r.offset, r.key, r.value) for r in records)
                else:
                    out.extend((r.partition, r.key, r.value) for r in records)
                if consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        return out
    finally:
        consumer.close()


def read_dead_letters(settings: Settings, topic: str) -> list[dict[str, Any]]:
    """Every record of the dead-letter topic, parsed."""
    from streams.dead_letters import read_dead_letter

    return [read_dead_letter(value) for _, _, value in read_topic(settings, topic)]


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A /metrics page as {(sample name, sorted labels): value}."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
