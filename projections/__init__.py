"""ClickHouse side of Frontline: migrations, writers, dashboard queries, replay and audit."""
