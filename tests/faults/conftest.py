"""The fault suite: real kills and restarts under load, each checked against the simulator's
oracle. `make test` runs the short variant (seconds-long outages, a small campaign);
`FRONTLINE_FAULTS=full make test` (or `pytest tests/faults --faults full`) the full one (30 s
outages, a larger campaign). Each test adds a row to a table printed at the end of the run:
fault, events in flight, lost, double counted, recovery time (README, "Reliability")."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Variant:
    name: str
    scale: str  # simulated campaign
    rate: int  # events per second of steady load
    outage_s: float  # how long a service stays down


SHORT = Variant("short", "0.002", 1000, 6.0)
FULL = Variant("full", "0.01", 1000, 30.0)


@dataclass
class Row:
    fault: str
    in_flight: int  # events sent while the fault lasted (first attempt)
    lost: int
    double_counted: int
    recovery_s: float  # from the fault's end to the first checkpoint written after it


_ROWS: list[Row] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--faults",
        choices=["short", "full"],
        default=os.environ.get("FRONTLINE_FAULTS", "short"),
        help="fault suite variant (default: short; FRONTLINE_FAULTS=full for 30 s outages)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def variant(request: pytest.FixtureRequest) -> Variant:
    return FULL if request.config.getoption("--faults") == "full" else SHORT


@pytest.fixture
def report() -> Iterator[list[Row]]:
    rows: list[Row] = []
    yield rows
    _ROWS.extend(rows)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _ROWS:
        return
    tr = terminalreporter
    tr.section("fault suite")
    tr.write_line(f"{'fault':<44}{'in flight':>10}{'lost':>6}{'double':>8}{'recovery':>10}")
    for row in _ROWS:
        tr.write_line(
            f"{row.fault:<44}{row.in_flight:>10,}{row.lost:>6}{row.double_counted:>8}"
            f"{row.recovery_s:>9.1f}s"
        )
