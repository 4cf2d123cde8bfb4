"""The auditors' SQL on a current ClickHouse (chdb), beside the 18.16 server the integration
tests run it on: every comparison finds a changed row in its bucket, and the export, trace and
chain queries run. Plus the pure row diff."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date

import pytest
from chdb import session as chdb_session

from projections import queries, store
from projections.audit import (
    ACCEPTED,
    FIGURE,
    HEAD_AT,
    QUERY_IGNORED,
    QUERY_KEYS,
    RELATIONS,
    SELECTED_EVENTS,
    SHIFT_EVENTS,
    TRACE_EVENTS,
    TRACE_SHIFTS,
    query_summary_sql,
)
from projections.migrate import LEDGER_DDL, load_migrations
from streams.audit.compare import Comparison, _diff_rows
from tests.unit.test_migrations import _bind


@pytest.fixture(scope="module")
def two() -> Iterator[chdb_session.Session]:
    """Databases `a` and `b`, migrated, with the same rows; `b`'s counter is changed."""
    s = chdb_session.Session()
    event = uuid.uuid4()
    try:
        for db in ("a", "b"):
            s.query(f"CREATE DATABASE IF NOT EXISTS {db}")
            s.query(LEDGER_DDL.replace("{db}", f"`{db}`"))
            for m in load_migrations():
                for statement in m.statements(db):
                    s.query(statement)
            s.query(
                f"INSERT INTO {db}.event_log (kafka_topic, kafka_partition, kafka_offset, "
                "event_id, type, day, org_id, team_id, volunteer_id, content_hash) VALUES "
                f"('t', 0, 7, '{event}', 'sampling.assisted', '2022-03-17', 'o1', 'tm1', 'v1', "
                "'ab')"
            )
            assists = 5 if db == "a" else 6
            s.query(
                f"INSERT INTO {db}.counters (kafka_topic, kafka_partition, dim, day, org_id, "
                f"member, version, events, sampling_assists) VALUES "
                f"('t', 0, 'org', '2022-03-17', 'o1', 'o1', 7, 1, {assists})"
            )
            s.query(
                f"INSERT INTO {db}.checkpoints (kafka_topic, kafka_partition, version, messages, "
                "events, head) VALUES ('t', 0, 7, 8, 1, 'cafe')"
            )
        yield s
    finally:
        s.close()


def _rows(s: chdb_session.Session, sql: str) -> list[list[str]]:
    text = str(s.query(sql, "TSV")).strip()
    return [line.split("\t") for line in text.splitlines()] if text else []


def test_every_relation_summarises_and_only_the_changed_one_differs(
    two: chdb_session.Session,
) -> None:
    for relation in RELATIONS:
        a = _rows(two, relation.summary_sql("a"))
        b = _rows(two, relation.summary_sql("b"))
        if relation.name == "counters":
            assert a != b
            [(bucket, _, _)] = a
            rows_a = _rows(two, _bind(relation.rows_sql("a"), {"buckets": (int(bucket),)}))
            rows_b = _rows(two, _bind(relation.rows_sql("b"), {"buckets": (int(bucket),)}))
            assert [r[-4] for r in rows_a + rows_b] == ["5", "6"]  # sampling_assists
        else:
            assert a == b, relation.name


def test_every_compared_query_is_summarised_and_differs_where_the_counter_does(
    two: chdb_session.Session,
) -> None:
    params = queries.params(extra={"since_ms": 0})
    for name in QUERY_KEYS:
        if name in QUERY_IGNORED:  # compared whole, not summarised
            continue
        summaries = []
        for db in ("a", "b"):
            two.query(f"USE {db}")
            summaries.append(_rows(two, _bind(query_summary_sql(queries.sql(name)), params)))
        differs = name in ("totals", "daily_by_org")  # the changed counter is an org one
        assert (summaries[0] != summaries[1]) == differs, name


def test_export_trace_and_chain_queries_run(two: chdb_session.Session) -> None:
    two.query("USE a")
    params: dict[str, object] = {
        "topic": "t",
        "partition": 0,
        "checkpoint": 7,
        "from_day": date(2022, 3, 1),
        "to_day": date(2022, 3, 31),
        "day": date(2022, 3, 17),
        "org_id": "o1",
        "type": "",
        "all_types": 0,
        "types": ("sampling.assisted",),
        "shifts": ("s1",),
    }
    selected = [["0", "2022-03-17", "sampling.assisted", "[7]"]]
    assert _rows(two, _bind(SELECTED_EVENTS, params)) == selected
    assert len(_rows(two, _bind(TRACE_EVENTS, params))) == 1
    assert _rows(two, _bind(TRACE_SHIFTS, params)) == []
    assert _rows(two, _bind(SHIFT_EVENTS, params)) == []
    assert _rows(two, _bind(FIGURE.format(metric="sampling_assists"), params)) == [["5"]]
    assert _rows(two, _bind(ACCEPTED, params)) == [["7", "ab"]]
    assert _rows(two, _bind(HEAD_AT, params)) == [["1", "cafe"]]


def test_row_diff_names_changed_missing_and_extra_rows() -> None:
    c = Comparison("x", "table", ("v",), ("k",))
    _diff_rows(c, [("a", 1), ("b", 2), ("c", 3)], [("a", 1), ("b", 5), ("d", 4)], 1)
    got = {(d.key, d.live, d.rebuilt) for d in c.differences}
    assert got == {(("b",), (2,), (5,)), (("c",), (3,), None), (("d",), None, (4,))}


def test_the_workers_void_look_ups_run_and_find_their_rows(two: chdb_session.Session) -> None:
    # A database of its own: the other tests compare `a` and `b` as the fixture left them.
    two.query("CREATE DATABASE IF NOT EXISTS looks")
    for m in load_migrations():
        for statement in m.statements("looks"):
            two.query(statement)
    two.query("USE looks")
    event = uuid.uuid4()
    two.query(
        "INSERT INTO event_log (kafka_topic, kafka_partition, kafka_offset, event_id, type, "
        f"shift_id) VALUES ('t', 0, 7, '{event}', 'sampling.assisted', ''), "
        "('t', 0, 9, generateUUIDv4(), 'volunteer.checked_in', 's1'), "
        "('t', 0, 12, generateUUIDv4(), 'volunteer.checked_out', 's1')"
    )
    found: dict[str, object] = {
        "topic": "t",
        "partition": 0,
        "event_ids": (event, uuid.uuid4()),
        "shift_ids": ("s1", "s2"),
        "before": 10,
    }
    assert _rows(two, _bind(store.EVENT_OFFSETS, found)) == [[str(event), "7"]]
    assert _rows(two, _bind(store.SHIFT_OFFSETS, found)) == [["s1", "9"]]
    assert _rows(two, _bind(store.EVENT_OFFSETS, {**found, "before": 7})) == []
