"""Create and drop a Frontline database (one per deployment, one per test)."""

from __future__ import annotations

from projections.connection import ClickHouseTarget


def create_database(target: ClickHouseTarget) -> None:
    # The name is a checked identifier (ClickHouseTarget); DDL cannot bind it as a parameter.
    target.client(database=False).execute(f"CREATE DATABASE IF NOT EXISTS `{target.database}`")


def drop_database(target: ClickHouseTarget) -> None:
    target.client(database=False).execute(f"DROP DATABASE IF EXISTS `{target.database}`")


def list_databases(target: ClickHouseTarget) -> list[str]:
    rows = target.client(database=False).execute("SELECT name FROM system.databases")
    return sorted(str(r[0]) for r in rows)
