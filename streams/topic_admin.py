"""Declare Frontline's topics, create what is missing and report drift (`frontline topics`).

Event topics are the event store: kept forever (`retention.ms=-1`, `retention.bytes=-1`),
never compacted (every event counts, not only the last per key). The dead-letter topic keeps
rejects for 90 days: long enough for an operator to find a broken app version and replay its
fixed events. `ensure` never changes an existing topic silently: it reports drift, and with
`fix=True` sets drifted configs (never partitions: adding partitions moves event_ids to other
partitions, where a retry of an event already counted would be counted again).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.kafka_security import kafka_python_options, unreachable_hint
from streams.settings import (
    ENV,
    ConfigError,
    ServiceUnavailable,
    Settings,
    check_kafka_reachable,
)
from streams.topics import dead_letter_topic, events_topic

EVENT_TOPIC_CONFIG = {
    "retention.ms": "-1",
    "retention.bytes": "-1",
    "cleanup.policy": "delete",
    # Producers compress; the broker keeps their batches as they are.
    "compression.type": "producer",
}
DEAD_LETTER_RETENTION_MS = 90 * 24 * 3600 * 1000
DEAD_LETTER_CONFIG = {
    "retention.ms": str(DEAD_LETTER_RETENTION_MS),
    "cleanup.policy": "delete",
    "compression.type": "producer",
}
# No such topic, in a metadata answer.
_UNKNOWN_TOPIC = 3
# How long a topic just created may take to show its configs on every broker.
CREATED_VISIBLE_S = 15.0


@dataclass(frozen=True)
class TopicSpec:
    """What Frontline declares for one topic."""

    name: str
    partitions: int
    replication: int
    configs: dict[str, str]


@dataclass
class TopicState:
    """One declared topic as found in the cluster, and how it differs from its spec."""

    spec: TopicSpec
    exists: bool
    partitions: int = 0
    replication: int = 0
    configs: dict[str, str] = field(default_factory=dict)
    created: bool = False
    fixed: list[str] = field(default_factory=list)

    @property
    def drift(self) -> list[str]:
        """Human-readable differences; empty when the topic is as declared."""
        if not self.exists:
            return []
        out = []
        if self.partitions != self.spec.partitions:
            out.append(f"partitions {self.partitions} (declared {self.spec.partitions})")
        if self.replication != self.spec.replication:
            out.append(f"replication {self.replication} (declared {self.spec.replication})")
        for key, want in self.spec.configs.items():
            have = self.configs.get(key)
            if have != want and key not in self.fixed:
                out.append(f"{key}={have} (declared {want})")
        return out


def declared_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic Frontline uses, with the settings it must have."""
    # With acks=all, a write is only acknowledged once this many replicas have it.
    insync = {"min.insync.replicas": str(settings.min_insync_replicas)}
    return [
        TopicSpec(
            events_topic(settings),
            settings.topic_partitions,
            settings.topic_replication,
            EVENT_TOPIC_CONFIG | insync,
        ),
        TopicSpec(
            dead_letter_topic(settings),
            settings.topic_partitions,
            settings.topic_replication,
            DEAD_LETTER_CONFIG | insync,
        ),
    ]


@contextmanager
def admin_client(settings: Settings) -> Iterator[Any]:
    """A KafkaAdminClient, closed afterwards; an unreachable broker is ServiceUnavailable
    (at once when nothing listens: no 30 s bootstrap timeout)."""
    check_kafka_reachable(settings, timeout=2.0)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            **kafka_python_options(settings),
            client_id="frontline-topics",
            request_timeout_ms=15_000,
        )
    except KafkaError:
        raise ServiceUnavailable(
            f"{ENV['kafka_bootstrap']}={settings.kafka_bootstrap!r}: no broker answers; "
            f"{unreachable_hint(settings)}"
        ) from None
    try:
        yield admin
    finally:
        admin.close()


def delete_all(settings: Settings) -> list[str]:
    """Delete every topic under this deployment's prefix (tests, demo resets); returns them.

    Deletion completes asynchronously in the broker."""
    with admin_client(settings) as admin:
        mine = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            admin.delete_topics(mine)
        return mine


def describe(settings: Settings) -> list[TopicState]:
    """The declared topics as they are in the cluster (read-only)."""
    with admin_client(settings) as admin:
        return _describe(admin, declared_topics(settings))


def ensure(settings: Settings, *, fix: bool = False) -> list[TopicState]:
    """Create missing topics; report (and with `fix`, correct) config drift. Idempotent."""
    specs = declared_topics(settings)
    with admin_client(settings) as admin:
        missing = [s for s in _describe(admin, specs) if not s.exists]
        for state in missing:
            spec = state.spec
            # Created concurrently by another `ensure`: fine, it is described below.
            with suppress(TopicAlreadyExistsError):
                admin.create_topics(
                    {
                        spec.name: {
                            "num_partitions": spec.partitions,
                            "replication_factor": spec.replication,
                            "configs": spec.configs,
                        }
                    },
                    wait_for_metadata=True,
                )
        created = {s.spec.name for s in missing}
        states = _describe_created(admin, specs, created)
        for state in states:
            state.created = state.spec.name in created
            if fix and state.exists:
                wrong = {k: v for k, v in state.spec.configs.items() if state.configs.get(k) != v}
                if wrong:
                    resource = ConfigResource(ConfigResourceType.TOPIC, state.spec.name, wrong)
                    admin.alter_configs([resource])
                    state.fixed = sorted(wrong)
        return states


def _describe_created(
    admin: Any, specs: list[TopicSpec], created: set[str], wait_s: float = CREATED_VISIBLE_S
) -> list[TopicState]:
    """`_describe`, waiting up to `wait_s` for the topics just created to show their configs:
    on a cluster, the broker that answers the configs request may not know a topic created a
    moment before (seen once in CI: a new dead-letter topic reported with every config None,
    as drift)."""
    deadline = time.monotonic() + wait_s
    while True:
        states = _describe(admin, specs)
        unseen = [s for s in states if s.spec.name in created and not (s.exists and s.configs)]
        if not unseen or time.monotonic() >= deadline:
            return states
        time.sleep(0.2)


def _describe(admin: Any, specs: list[TopicSpec]) -> list[TopicState]:
    names = [s.name for s in specs]
    try:
        metadata = {t["name"]: t for t in admin.describe_topics(names)}
    except KafkaError as exc:
        raise ConfigError(f"Kafka could not describe topics: {exc}") from None
    states = []
    existing = []
    for spec in specs:
        meta = metadata.get(spec.name)
        if meta is None or meta["error_code"] == _UNKNOWN_TOPIC:
            states.append(TopicState(spec, exists=False))
            continue
        partitions = meta["partitions"]
        replication = max((len(p["replica_nodes"]) for p in partitions), default=0)
        states.append(TopicState(spec, True, len(partitions), replication))
        existing.append(spec.name)
    if existing:
        resources = [
            ConfigResource(ConfigResourceType.TOPIC, s.spec.name, list(s.spec.configs))
            for s in states
            if s.exists
        ]
        found = admin.describe_configs(resources, config_filter="all").get("topic", {})
        for state in states:
            entries = found.get(state.spec.name, {})
            state.configs = {k: str(v["value"]) for k, v in entries.items()}
    return states
