"""Schema guards: what would break in production if a migration were written wrong, and the
same SQL on a current ClickHouse (chdb), beside the 18.16 server the integration tests use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from chdb import session as chdb_session
from clickhouse_driver.util.escape import escape_params

from projections import queries
from projections.migrate import (
    ADD_COLUMN,
    FILE_NAME,
    LEDGER_DDL,
    MIGRATIONS_DIR,
    load_migrations,
    render,
)


def test_files_are_numbered_uniquely_and_contiguously() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1)), (
        "a gap or duplicate number makes `frontline migrate` order ambiguous"
    )
    for path in MIGRATIONS_DIR.iterdir():
        assert FILE_NAME.match(path.name), f"{path.name}: not NNNN_name.sql, it would be ignored"


def test_every_create_is_idempotent_and_qualified() -> None:
    for m in load_migrations():
        statements = m.statements("db")
        for i, statement in enumerate(statements):
            if ADD_COLUMN.match(statement):
                continue  # made idempotent by the runner (tests/integration/test_migrate.py)
            if statement.startswith("DROP"):
                # 18.16 has no DROP VIEW; the runner refuses to drop anything but a view.
                replaced = re.fullmatch(r"DROP TABLE IF EXISTS (`db`\.\w+)", statement)
                assert replaced, f"{m.filename}: only views are dropped, to be replaced"
                assert re.match(
                    rf"CREATE (MATERIALIZED )?VIEW IF NOT EXISTS {re.escape(replaced[1])} ",
                    statements[i + 1],
                ), f"{m.filename}: a dropped view is created again by the next statement"
                continue
            assert statement.startswith("CREATE "), f"{m.filename}: only CREATEs in migrations"
            assert "IF NOT EXISTS `db`." in statement, (
                f"{m.filename}: a CREATE without IF NOT EXISTS fails when a run is resumed, and "
                "an unqualified name lands in the wrong database"
            )


def test_render_splits_statements_and_drops_comments() -> None:
    sql = "-- c1\nCREATE TABLE IF NOT EXISTS {db}.a (x UInt8) ENGINE = Memory;\n-- c2\nSELECT 1;\n"
    assert render(sql, "d") == [
        "CREATE TABLE IF NOT EXISTS `d`.a (x UInt8) ENGINE = Memory",
        "SELECT 1",
    ]


def test_engines_have_no_features_missing_on_18_16() -> None:
    missing = ["SimpleAggregateFunction", "DateTime64", " TTL ", "CODEC(", "Map(", " OVER ("]
    for m in load_migrations():
        code = "\n".join(m.statements("db"))
        for feature in missing:
            assert feature not in code, f"{m.filename} uses {feature.strip()}: not on 18.16"


@pytest.fixture
def modern() -> Iterator[chdb_session.Session]:
    s = chdb_session.Session()
    s.query("CREATE DATABASE IF NOT EXISTS fl")
    try:
        yield s
    finally:
        s.close()


def _bind(sql: str, params: dict[str, object]) -> str:
    # chdb has no client-side binding; use the driver's own escaping, as the server path does.
    escaped = escape_params(params, None)
    return re.sub(r"%\((\w+)\)s", lambda m: str(escaped[m.group(1)]), sql)


def test_migrations_and_queries_run_on_a_current_engine(modern: chdb_session.Session) -> None:
    modern.query(LEDGER_DDL.replace("{db}", "`fl`"))
    for m in load_migrations():
        for statement in m.statements("fl"):
            modern.query(statement)
    modern.query("USE fl")
    modern.query(
        "INSERT INTO counters (kafka_topic, kafka_partition, dim, day, org_id, member, version, "
        "events, sampling_assists) VALUES ('t', 0, 'org', '2022-03-17', 'o1', 'o1', 5, 2, 7), "
        "('t', 0, 'org', '2022-03-17', 'o1', 'o1', 3, 1, 4)"
    )
    # presence is derived from event_log by a materialized view (0003).
    modern.query(
        "INSERT INTO event_log (kafka_topic, event_id, day, org_id, team_id, volunteer_id) VALUES "
        "('t', generateUUIDv4(), '2022-03-17', 'o1', 'tm1', 'v1'), "
        "('t', generateUUIDv4(), '2022-03-17', 'o1', 'tm1', 'v1')"
    )
    params: dict[str, object] = {
        "org_id": "",
        "from_day": queries.FIRST_DAY,
        "to_day": queries.LAST_DAY,
        "since_ms": 0,
    }
    for name in queries.names():
        modern.query(_bind(queries.sql(name), params))
    totals = str(
        modern.query("SELECT orgs, teams, volunteers, sampling_assists FROM totals", "CSV")
    )
    # The version-5 row wins over the version-3 row: 7, not 11.
    assert totals.strip() == "1,1,1,7"
    daily = str(modern.query("SELECT day, org_id, volunteers FROM daily_by_org", "CSV"))
    assert daily.strip() == f'"{date(2022, 3, 17)}","o1",1'
