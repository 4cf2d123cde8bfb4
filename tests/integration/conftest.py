"""Everything under tests/integration runs against the real stack."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from projections.database import drop_database
from streams.settings import Settings
from tests.conftest import isolated_settings
from tests.integration.harness import (
    count_to_the_end,
    emit_campaign,
    start_worker,
    stop,
    wait_caught_up,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@contextmanager
def replay_database(settings: Settings) -> Iterator[Settings]:
    """The settings of `settings`' replay database (dropped before and after)."""
    name = settings.clickhouse_database + "_replay"
    replay = settings.model_copy(update={"clickhouse_database": name})
    drop_database(replay.clickhouse)
    try:
        yield replay
    finally:
        drop_database(replay.clickhouse)


@pytest.fixture
def rebuilt(isolated: Settings) -> Iterator[Settings]:
    """The settings of the test's replay database (dropped afterwards)."""
    with replay_database(isolated) as replay:
        yield replay


@pytest.fixture
def live(isolated: Settings, tmp_path: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    """A campaign emitted and projected by a live worker that keeps running."""
    expected = emit_campaign(isolated, tmp_path, seed=11)
    log = tmp_path / "worker.log"
    worker = start_worker(isolated, log)
    try:
        wait_caught_up(isolated, [worker], log)
        yield expected, log
    finally:
        stop(worker)


@dataclass(frozen=True)
class SharedCampaign:
    settings: Settings
    expected: dict[str, Any]


@pytest.fixture(scope="session")
def shared_live(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedCampaign]:
    """One campaign emitted and projected (its worker stopped once caught up) for the tests that
    only read it: verify, export, the Grafana queries. Each of those would otherwise emit and
    project its own (~11 s). A test that writes to its topics or database uses `live`."""
    with isolated_settings(stack_settings) as settings:
        work = tmp_path_factory.mktemp("shared-live")
        expected = emit_campaign(settings, work, seed=11)
        log = work / "worker.log"
        count_to_the_end(settings, log)
        yield SharedCampaign(settings, expected)


@pytest.fixture
def shared_rebuilt(shared_live: SharedCampaign) -> Iterator[Settings]:
    """`rebuilt` for the shared campaign: its replay database, dropped afterwards."""
    with replay_database(shared_live.settings) as replay:
        yield replay
