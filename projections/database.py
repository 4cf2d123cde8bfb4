"""Create and drop a Frontline database (one per deployment, one per test).

On a cluster (FRONTLINE_CLICKHOUSE_CLUSTER) the database is created and dropped on every node:
a node left with an old copy would serve its rows again once its tables were created anew.
"""

from __future__ import annotations

from projections.cluster import nodes
from projections.connection import ClickHouseTarget


def create_database(target: ClickHouseTarget) -> None:
    # The name is a checked identifier (ClickHouseTarget); DDL cannot bind it as a parameter.
    for node in nodes(target):
        node.client(database=False).execute(f"CREATE DATABASE IF NOT EXISTS `{node.database}`")


def drop_database(target: ClickHouseTarget) -> None:
    for node in nodes(target):
        node.client(database=False).execute(f"DROP DATABASE IF EXISTS `{node.database}`")


def list_databases(target: ClickHouseTarget) -> list[str]:
    rows = target.client(database=False).execute("SELECT name FROM system.databases")
    return sorted(str(r[0]) for r in rows)
