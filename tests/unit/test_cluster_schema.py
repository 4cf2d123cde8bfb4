"""The migrations as rewritten for a ClickHouse cluster (projections/cluster.py): what would
make the Distributed schema inexact or unreplicated if the rewrite went wrong. The rewritten
SQL runs on the real 18.16 cluster in tests/integration/test_cluster.py."""

from __future__ import annotations

import re

import pytest

from projections.cluster import ClusterError, rewrite, tables_of
from projections.migrate import load_migrations

DB = "fl"


def _all() -> list[str]:
    return [s for m in load_migrations() for s in m.statements(DB)]


def _rewritten() -> list[str]:
    tables = tables_of(_all())
    return [n.sql for s in _all() for n in rewrite(s, "c1", tables)]


def test_every_table_becomes_replicated_local_and_distributed() -> None:
    tables = tables_of(_all())
    assert {"event_log", "counters", "presence", "shifts", "checkpoints"} <= tables
    out = _rewritten()
    for table in tables:
        local = [s for s in out if s.startswith(f"CREATE TABLE IF NOT EXISTS `{DB}`.{table}_local")]
        assert len(local) == 1, table
        assert re.search(
            rf"ENGINE = Replicated\w*MergeTree\('/clickhouse/tables/{{shard}}/{DB}/{table}', "
            r"'{replica}'",
            local[0],
        ), local[0]
        dist = [s for s in out if s.startswith(f"CREATE TABLE IF NOT EXISTS `{DB}`.{table}\n")]
        assert len(dist) == 1, table
        assert f"ENGINE = Distributed(c1, '{DB}', '{table}_local', " in dist[0]


def test_a_version_argument_is_kept_after_the_replication_path() -> None:
    counters = next(s for s in _rewritten() if "`fl`.counters_local" in s)
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/fl/counters', " in counters
    assert "'{replica}', version)" in counters


def test_rows_of_one_topic_partition_stay_on_one_shard() -> None:
    for statement in _rewritten():
        if "ENGINE = Distributed(" not in statement:
            continue
        key = statement.rsplit(", ", 1)[1].removesuffix(")")
        has_partition = re.search(r"^\s*kafka_partition UInt32", statement, re.M)
        assert key == ("kafka_partition" if has_partition else "rand()"), statement


def test_materialized_views_read_and_write_local_tables_only() -> None:
    tables = tables_of(_all())
    views = [s for s in _rewritten() if s.startswith("CREATE MATERIALIZED VIEW")]
    assert views
    for view in views:
        for name in re.findall(r"`fl`\.(\w+)", view):
            assert name == "presence_from_event_log" or (
                name.endswith("_local") and name.removesuffix("_local") in tables
            ), f"{name} in {view[:80]}"


def test_materialized_columns_are_aliases_on_the_distributed_table() -> None:
    tables = tables_of(_all())
    add = "ALTER TABLE `fl`.event_log ADD COLUMN presence_day Date MATERIALIZED day"
    assert [n.sql for n in rewrite(add, "c1", tables)] == [
        "ALTER TABLE `fl`.event_log_local ADD COLUMN presence_day Date MATERIALIZED day",
        "ALTER TABLE `fl`.event_log ADD COLUMN presence_day Date ALIAS day",
    ]
    default = "ALTER TABLE `fl`.checkpoints ADD COLUMN head String DEFAULT ''"
    out = rewrite(default, "c1", tables)
    assert [(n.table, n.column) for n in out] == [
        ("checkpoints_local", "head"),
        ("checkpoints", "head"),
    ]
    assert out[1].sql == default


def test_views_are_created_unchanged_and_unknown_tables_refused() -> None:
    tables = tables_of(_all())
    view = "CREATE VIEW IF NOT EXISTS `fl`.totals AS SELECT 1 FROM `fl`.counters"
    assert [n.sql for n in rewrite(view, "c1", tables)] == [view]
    with pytest.raises(ClusterError, match="nowhere"):
        rewrite("ALTER TABLE `fl`.nowhere ADD COLUMN x UInt8", "c1", tables)
