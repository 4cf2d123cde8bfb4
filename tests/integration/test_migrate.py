"""`frontline migrate` on the real 18.16 server: applies, records, is idempotent, refuses edits."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from projections import migrate
from streams.cli import main
from streams.settings import Settings
from tests.integration.harness import env_of


def test_apply_then_nothing_pending(isolated: Settings) -> None:
    target = isolated.clickhouse
    done = migrate.apply(target)
    assert [m.version for m in done] == [m.version for m in migrate.load_migrations()]
    assert migrate.apply(target) == []
    assert all(s.applied_at is not None and not s.edited for s in migrate.status(target))
    names = {r[0] for r in target.client().execute("SHOW TABLES")}
    assert {"event_log", "counters", "shifts", "checkpoints", "totals", "daily_by_org"} <= names
    assert target.client().execute("SELECT * FROM totals") == [
        (0, 0, 0, 0, 0.0, 0, 0, 0, 0, 0.0, 0, 0, 0, 0)
    ]


def test_edited_migration_is_refused(isolated: Settings, tmp_path: Path) -> None:
    target = isolated.clickhouse
    migrate.apply(target)
    first = migrate.load_migrations()[0]
    edited = tmp_path / first.filename
    edited.write_text(first.sql + "\n-- an edit\n")
    states = {s.migration.version: s for s in migrate.status(target, tmp_path)}
    assert states[first.version].edited
    with pytest.raises(migrate.MigrationError, match=first.filename):
        migrate.apply(target, directory=tmp_path)


def test_cli_status_and_apply(isolated: Settings) -> None:
    runner = CliRunner()
    pending = runner.invoke(main, ["migrate", "--status"], env=env_of(isolated))
    assert pending.exit_code == 0, pending.output
    assert pending.output.count("pending") == len(migrate.load_migrations())
    applied = runner.invoke(main, ["migrate"], env=env_of(isolated))
    assert applied.exit_code == 0, applied.output
    assert "0001_state_tables.sql" in applied.output
    again = runner.invoke(main, ["migrate"], env=env_of(isolated))
    assert "nothing (up to date)" in again.output
