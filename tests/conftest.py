"""Fixtures shared by every test.

Integration tests get their own Kafka topic prefix and their own ClickHouse database on the
running stack (`deploy/stack up`), created here and removed afterwards, so tests never see each
other's data and a developer's own `frontline` database is never touched. The writer may only
reach the databases the stack lists (least privilege), which include a pool for tests:
`<database>_t0` to `_t7`, each with a `_replay` sibling.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from projections.database import create_database, drop_database, list_databases
from streams import topic_admin
from streams.settings import (
    ConfigError,
    Settings,
    check_clickhouse_reachable,
    check_kafka_reachable,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cluster-faults",
        action="store_true",
        help="also run the fault scenarios on the local cluster (make cluster-faults)",
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


POOL = 8


def test_databases(base: str) -> list[str]:
    """The stack's pool of test databases (deploy/stack, default_databases)."""
    return [f"{base}_t{i}" for i in range(POOL)]


def _free_database(settings: Settings) -> str:
    """A pool database no other test holds (one that exists is held, or was left behind)."""
    taken = set(list_databases(settings.clickhouse))
    for name in test_databases(settings.clickhouse_database):
        if name not in taken:
            return name
    raise RuntimeError(
        "every test database is taken (left behind by an interrupted run?): drop "
        f"{settings.clickhouse_database}_t0 to _t{POOL - 1} as the writer user"
    )


@contextmanager
def isolated_settings(stack_settings: Settings) -> Iterator[Settings]:
    """Settings with a topic prefix and a pool database of their own, removed afterwards."""
    tag = uuid.uuid4().hex[:10]
    settings = stack_settings.model_copy(
        update={
            "topic_prefix": f"test.{tag}.",
            "clickhouse_database": _free_database(stack_settings),
        }
    )
    create_database(settings.clickhouse)
    try:
        yield settings
    finally:
        drop_database(settings.clickhouse)
        topic_admin.delete_all(settings)


@pytest.fixture
def isolated(stack_settings: Settings) -> Iterator[Settings]:
    """Settings with a topic prefix and a ClickHouse database of this test's own."""
    with isolated_settings(stack_settings) as settings:
        yield settings
