"""Frontline's Kafka topics: one per event family (the event store) and one for dead letters.

Names are `{FRONTLINE_TOPIC_PREFIX}events.{family}` and `{FRONTLINE_TOPIC_PREFIX}dead-letters`.
"""

from __future__ import annotations

from events import FAMILIES as EVENT_FAMILIES
from events import family as family_of
from streams.settings import Settings

# Event type -> family comes from the contract (events.FAMILIES). One family = one topic, keyed
# by volunteer_id, so one volunteer's check-in and check-out keep their order in a partition.
FAMILY_OF_TYPE = EVENT_FAMILIES
FAMILIES = tuple(dict.fromkeys(EVENT_FAMILIES.values()))
DEAD_LETTERS = "dead-letters"


def event_topic(settings: Settings, family: str) -> str:
    if family not in FAMILIES:
        raise ValueError(f"unknown event family {family!r}; known: {', '.join(FAMILIES)}")
    return settings.topic(f"events.{family}")


def event_topics(settings: Settings) -> dict[str, str]:
    """Family -> full topic name."""
    return {family: event_topic(settings, family) for family in FAMILIES}


def dead_letter_topic(settings: Settings) -> str:
    return settings.topic(DEAD_LETTERS)


def topic_for_type(settings: Settings, event_type: str) -> str:
    return event_topic(settings, family_of(event_type))


def worker_group(settings: Settings) -> str:
    """The worker's consumer group (and Faust app id): one per topic prefix *and* database, so
    an auditor rebuilding into another database never shares partitions with the live worker."""
    return settings.topic(f"worker.{settings.clickhouse_database}")
