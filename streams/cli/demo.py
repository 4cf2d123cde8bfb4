"""`frontline demo`: the main job end to end on a sample campaign, saying what it does."""

from __future__ import annotations

import click

from projections.database import create_database
from streams.cli import main, settings
from streams.settings import check_clickhouse_reachable, check_kafka_reachable


@main.command("demo")
@click.option("--scale", type=float, default=0.01, show_default=True, help="campaign size")
def demo(scale: float) -> None:
    """Run the pipeline on a simulated Liaocheng campaign and show its counts."""
    s = settings()
    click.echo("1. configuration")
    for var, value in s.describe().items():
        click.echo(f"     {var}={value}")
    check_kafka_reachable(s)
    click.echo(f"2. kafka answers at {s.kafka_bootstrap}")
    check_clickhouse_reachable(s)
    create_database(s.clickhouse)
    click.echo(f"3. clickhouse answers; database {s.clickhouse_database!r} exists")
    click.echo(f"   (campaign scale {scale}: simulation, ingest and counts arrive with issues 3-5)")
