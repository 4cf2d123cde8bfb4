"""`ensure` on a cluster: a topic just created may not show its configs at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import streams.topic_admin as topic_admin
from streams.settings import Settings
from streams.topic_admin import declared_topics, ensure


class LaggingAdmin:
    """Kafka's admin answers as a 3-broker cluster gave them once in CI: the topics exist at
    once, but the broker answering the configs request learns of a new one a few calls later."""

    def __init__(self, lag: int) -> None:
        self.created: dict[str, dict[str, Any]] = {}
        self.lag = lag  # configs requests that do not see a created topic yet

    def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        out = []
        for name in names:
            if name in self.created:
                n = self.created[name]["num_partitions"]
                parts = [{"replica_nodes": [1, 2, 3]} for _ in range(n)]
                out.append({"name": name, "error_code": 0, "partitions": parts})
            else:
                out.append({"name": name, "error_code": 3, "partitions": []})
        return out

    def create_topics(self, topics: dict[str, dict[str, Any]], wait_for_metadata: bool) -> None:
        self.created.update(topics)

    def describe_configs(self, resources: list[Any], config_filter: str) -> dict[str, Any]:
        self.lag -= 1
        if self.lag >= 0:
            return {"topic": {}}
        found = {r.name: self.created[r.name]["configs"] for r in resources}
        return {
            "topic": {
                name: {k: {"value": v} for k, v in configs.items()}
                for name, configs in found.items()
            }
        }


def _ensure_with(admin: LaggingAdmin, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    @contextmanager
    def client(settings: Settings) -> Iterator[LaggingAdmin]:
        yield admin

    monkeypatch.setattr(topic_admin, "admin_client", client)
    settings = Settings(topic_replication=3, topic_min_insync_replicas=2)
    return ensure(settings)


def test_topics_just_created_are_described_once_their_configs_show(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    states = _ensure_with(LaggingAdmin(lag=3), monkeypatch)
    assert [s.spec.name for s in states] == [t.name for t in declared_topics(Settings())]
    assert all(s.created for s in states)
    assert [s.drift for s in states] == [[], []]
