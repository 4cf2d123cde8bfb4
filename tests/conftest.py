"""Fixtures shared by every test.

Integration tests get their own Kafka topic prefix and their own ClickHouse database on the
running stack (`deploy/stack up`), created here and removed afterwards, so tests never see each
other's data and a developer's own `frontline` database is never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from projections.database import create_database, drop_database
from streams import topic_admin
from streams.settings import (
    ConfigError,
    Settings,
    check_clickhouse_reachable,
    check_kafka_reachable,
)


@pytest.fixture(scope="session")
def stack_settings() -> Settings:
    """The environment's settings, after checking the stack answers (fails, never skips)."""
    settings = Settings.from_env()
    try:
        check_kafka_reachable(settings)
        check_clickhouse_reachable(settings)
    except ConfigError as exc:
        pytest.fail(f"the stack is not usable: {exc}\nStart it with: deploy/stack up")
    return settings


@pytest.fixture
def isolated(stack_settings: Settings) -> Iterator[Settings]:
    """Settings with a topic prefix and a ClickHouse database of this test's own."""
    tag = uuid.uuid4().hex[:10]
    settings = stack_settings.model_copy(
        update={"topic_prefix": f"test.{tag}.", "clickhouse_database": f"test_{tag}"}
    )
    create_database(settings.clickhouse)
    try:
        yield settings
    finally:
        drop_database(settings.clickhouse)
        topic_admin.delete_all(settings)
