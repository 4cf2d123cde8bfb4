"""The auditors' command-line parsing: times without an offset are the contract's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import pytest

from streams.audit import REPLAY_WRITE_MAX
from streams.cli import load_all, main
from streams.cli.audit import Instant
from streams.worker import WORKER_WRITE_MAX


def test_a_time_without_offset_is_asia_shanghai() -> None:
    ms = Instant().convert("2022-04-01T08:00", None, None)
    assert ms == int(datetime(2022, 4, 1, 0, 0, tzinfo=UTC).timestamp() * 1000)
    assert Instant().convert("2022-04-01", None, None) == ms - 8 * 3600 * 1000


def test_an_explicit_offset_is_kept() -> None:
    ms = Instant().convert("2022-04-01T00:00:00Z", None, None)
    assert ms == int(datetime(2022, 4, 1, tzinfo=UTC).timestamp() * 1000)


def test_a_wrong_time_names_the_expected_form() -> None:
    with pytest.raises(click.BadParameter, match="2022-04-01T08:00"):
        Instant().convert("April 1st", None, None)


def test_a_replay_writes_more_at_once_than_the_worker() -> None:
    # Parsed, not run: what each command does without --write-max.
    load_all()

    def default(command: str) -> object:
        cmd = main.commands[command]
        return next(p.default for p in cmd.params if p.name == "write_max")

    assert default("replay") == REPLAY_WRITE_MAX > WORKER_WRITE_MAX == default("worker")
