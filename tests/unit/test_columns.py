"""Every list of counts agrees with projections.columns (issue #12: adding a counter meant
editing eight places with nothing checking them). The schema is built on chdb (current
ClickHouse) and each table, view and named query is asked for its columns."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from chdb import session as chdb_session

from events.simulator.expected import COLUMNS as ORACLE
from projections import counters, queries
from projections.columns import COUNTERS, DAILY_BY_ORG, PER_MEMBER, PUBLIC
from projections.migrate import LEDGER_DDL, load_migrations
from streams.cli.demo import SHOWN


@pytest.fixture(scope="module")
def schema() -> Iterator[chdb_session.Session]:
    s = chdb_session.Session()
    s.query("CREATE DATABASE IF NOT EXISTS cols")
    s.query(LEDGER_DDL.replace("{db}", "`cols`"))
    for m in load_migrations():
        for statement in m.statements("cols"):
            s.query(statement)
    s.query("USE cols")
    try:
        yield s
    finally:
        s.close()


def _columns(s: chdb_session.Session, query: str) -> list[str]:
    """The result columns of `query` (run with no rows to return)."""
    out = str(s.query(f"SELECT * FROM ({query}) LIMIT 0", "CSVWithNames")).strip()
    return [c.strip('"') for c in out.splitlines()[0].split(",")]


def _bound(name: str) -> str:
    sql = queries.sql(name)
    return re.sub(r"%\((\w+)\)s", lambda m: "'1970-01-01'" if "day" in m[1] else "''", sql)


def test_the_counters_table_and_view_hold_every_counter(schema: chdb_session.Session) -> None:
    table = _columns(schema, "SELECT * FROM counters")
    assert [c for c in table if c in COUNTERS] == list(COUNTERS)
    view = _columns(schema, "SELECT * FROM counters_current")
    assert [c.removeprefix("c_") for c in view if c.startswith("c_")] == list(COUNTERS)
    assert counters.COLUMNS == COUNTERS


def test_the_public_views_have_the_public_columns(schema: chdb_session.Session) -> None:
    assert _columns(schema, "SELECT * FROM totals") == list(PUBLIC)
    assert _columns(schema, "SELECT * FROM daily_by_org") == list(DAILY_BY_ORG)


def test_the_named_queries_say_the_same(schema: chdb_session.Session) -> None:
    assert _columns(schema, _bound("totals")) == list(PUBLIC)
    assert _columns(schema, _bound("daily_by_org")) == list(DAILY_BY_ORG)
    assert _columns(schema, _bound("daily_by_team"))[3:] == list(PER_MEMBER)
    assert _columns(schema, _bound("daily_by_site"))[3:] == list(PER_MEMBER)


def test_the_dashboard_tables_say_the_same(schema: chdb_session.Session) -> None:
    # Pairs of files that differ only in a dimension (SQL is never assembled from strings): a
    # count added to `counters` or the public views must reach both of each pair.
    assert _columns(schema, _bound("by_team"))[:2] == ["org_id", "team_id"]
    assert _columns(schema, _bound("by_site"))[:2] == ["org_id", "site_id"]
    assert _columns(schema, _bound("by_team"))[2:] == list(PER_MEMBER)
    assert _columns(schema, _bound("by_site"))[2:] == list(PER_MEMBER)
    # Teams and volunteers do not add up across organisations or days: the rest does.
    adding = [c for c in DAILY_BY_ORG if c not in ("day", "org_id", "teams", "volunteers")]
    assert _columns(schema, _bound("daily")) == ["day", *adding]
    assert _columns(schema, _bound("orgs")) == ["org_id", *adding]


def test_the_oracle_and_the_demo_count_the_same_columns() -> None:
    assert tuple(ORACLE) == PUBLIC
    assert set(SHOWN) <= set(PUBLIC)
