"""`frontline config` and `frontline check`: what this process would use, and whether it works."""

from __future__ import annotations

import click

from streams.cli import main, settings
from streams.settings import check_clickhouse_reachable, check_kafka_reachable


@main.command("config")
def show_config() -> None:
    """Print the effective configuration (passwords hidden)."""
    for var, value in settings().describe().items():
        click.echo(f"{var}={value}")


@main.command("check")
def check() -> None:
    """Check that Kafka and ClickHouse answer with the configured settings."""
    s = settings()
    check_kafka_reachable(s)
    click.echo(f"kafka       ok  {s.kafka_bootstrap}")
    check_clickhouse_reachable(s)
    ch = s.clickhouse
    click.echo(f"clickhouse  ok  {ch.host}:{ch.port} as {ch.user}")
