"""`frontline migrate` on the real 18.16 server: applies, records, is idempotent, refuses edits."""

from __future__ import annotations

import time
import uuid
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from kafka import KafkaConsumer

from projections import migrate
from streams.cli import main
from streams.settings import Settings
from streams.topics import events_topic, worker_group
from tests.integration.harness import env_of, frontline


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


def test_a_run_that_lost_its_ledger_applies_again(isolated: Settings) -> None:
    # As a run stopped after its statements but before recording them: every statement runs
    # again. 18.16's ADD COLUMN has no IF NOT EXISTS; the runner skips an existing column.
    target = isolated.clickhouse
    migrate.apply(target)
    target.client().execute("DROP TABLE schema_migrations")
    assert [m.version for m in migrate.apply(target)] == [
        m.version for m in migrate.load_migrations()
    ]
    columns = target.client().execute(
        "SELECT name FROM system.columns WHERE database = %(db)s AND table = 'event_log' "
        "AND name LIKE 'presence_%%'",
        {"db": target.database},
    )
    assert sorted(c for (c,) in columns) == ["presence_day", "presence_org"]


def test_presence_is_derived_from_the_event_log(isolated: Settings) -> None:
    target = isolated.clickhouse
    migrate.apply(target)
    client = target.client()
    client.execute(
        "INSERT INTO event_log (kafka_topic, event_id, day, org_id, team_id, volunteer_id) VALUES",
        [
            ("t", uuid.uuid4(), date(2022, 3, 17), "o1", "tm1", "v1"),
            ("t", uuid.uuid4(), date(2022, 3, 17), "o1", "tm1", "v1"),
            ("t", uuid.uuid4(), date(2022, 3, 18), "o2", "tm2", "v1"),
        ],
    )
    all_time = date(1970, 1, 1)
    assert set(client.execute("SELECT dim, day, org_id, member FROM presence")) == {
        ("team", date(2022, 3, 17), "o1", "tm1"),
        ("volunteer", date(2022, 3, 17), "o1", "v1"),
        ("team", date(2022, 3, 18), "o2", "tm2"),
        ("volunteer", date(2022, 3, 18), "o2", "v1"),
        ("org", all_time, "", "o1"),
        ("org", all_time, "", "o2"),
        ("team", all_time, "", "tm1"),
        ("team", all_time, "", "tm2"),
        ("volunteer", all_time, "", "v1"),
    }
    # DISTINCT within the insert: v1's two events of 2022-03-17 gave one row.
    assert client.execute("SELECT count() FROM presence") == [(9,)]
    assert client.execute("SELECT orgs, teams, volunteers FROM totals") == [(2, 2, 1)]


def test_replacing_a_materialized_view_waits_for_the_workers(
    isolated: Settings, tmp_path: Path
) -> None:
    # A database at 0006, as before corrections: 0007 drops and recreates the view that fills
    # `presence`. A worker's insert between the two would derive no presence rows.
    older = tmp_path / "older"
    older.mkdir()
    for m in migrate.load_migrations():
        if m.version < 7:
            (older / m.filename).write_text(m.sql)
    migrate.apply(isolated.clickhouse, directory=older)
    assert migrate.replaced_materialized_views(isolated.clickhouse) == ["presence_from_event_log"]
    assert frontline(isolated, "topics", "ensure").returncode == 0
    member = KafkaConsumer(
        events_topic(isolated),
        bootstrap_servers=isolated.bootstrap_servers,
        group_id=worker_group(isolated),
        enable_auto_commit=False,
    )
    try:
        deadline = time.monotonic() + 60
        while not member.assignment() and time.monotonic() < deadline:
            member.poll(timeout_ms=500)  # joins the group: a running worker, to migrate
        refused = frontline(isolated, "migrate")
        assert refused.returncode != 0, refused.stdout
        assert "Stop the workers" in refused.stderr
        assert "presence_from_event_log" in refused.stderr
        assert migrate.replaced_materialized_views(isolated.clickhouse)  # nothing applied
    finally:
        member.close()
    deadline = time.monotonic() + 60
    while True:  # the group empties once the member has left
        done = frontline(isolated, "migrate")
        if done.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0007_voids.sql" in done.stdout
