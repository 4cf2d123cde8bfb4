"""Frontline's Kafka topics: one event topic (the event store) and one for dead letters.

Names are `{FRONTLINE_TOPIC_PREFIX}events` and `{FRONTLINE_TOPIC_PREFIX}dead-letters`. Every
event, whatever its type, goes to the one event topic with key = event_id
(`events.routing`): all copies of an event then land in one partition, where the worker counts
it once (docs/architecture.md, "An event_id counts once"). A topic per type would put a reuse
of an id under another type in another topic, beyond any one partition's view.
"""

from __future__ import annotations

from streams.settings import Settings

EVENTS = "events"
DEAD_LETTERS = "dead-letters"


def events_topic(settings: Settings) -> str:
    return settings.topic(EVENTS)


def dead_letter_topic(settings: Settings) -> str:
    return settings.topic(DEAD_LETTERS)


def worker_group(settings: Settings) -> str:
    """The worker's consumer group (and Faust app id): one per topic prefix *and* database, so
    an auditor rebuilding into another database never shares partitions with the live worker."""
    return settings.topic(f"worker.{settings.clickhouse_database}")
