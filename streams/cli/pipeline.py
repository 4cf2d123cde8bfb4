"""`frontline migrate`, `frontline worker`: the ClickHouse schema and the Faust worker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import click

from projections import migrate as migrations
from streams.cli import main, settings
from streams.logs import logging_config
from streams.settings import Settings, check_clickhouse_reachable
from streams.worker import WORKER_WRITE_MAX

F = TypeVar("F", bound=Callable[..., Any])

# The pipeline's batch sizes: the worker's, and a replay's (it runs the same pipeline).
batch_option = click.option(
    "--batch",
    type=click.IntRange(1, 100_000),
    default=5000,
    show_default=True,
    help="max messages per micro-batch (larger: fewer ClickHouse parts, more memory)",
)


def write_max_option(default: int = WORKER_WRITE_MAX) -> Callable[[F], F]:
    return click.option(
        "--write-max",
        type=click.IntRange(1, 1_000_000),
        default=default,
        show_default=True,
        help="catching up, write the rows of consecutive batches together, up to this many "
        "messages (larger: less ClickHouse CPU, more memory)",
    )


@main.command("migrate")
@click.option(
    "--status", "show_status", is_flag=True, help="show applied and pending, change nothing"
)
def migrate(show_status: bool) -> None:
    """Create or update Frontline's ClickHouse tables and views (idempotent).

    Also records FRONTLINE_AUTO_CLOSE_HOURS, which the views apply when queried.
    """
    s = settings()
    check_clickhouse_reachable(s)
    target = s.clickhouse
    try:
        if show_status:
            for state in migrations.status(target):
                if state.edited:
                    mark = "EDITED since applied: revert it, put changes in a new migration"
                elif state.applied_at:
                    mark = f"applied {state.applied_at:%Y-%m-%d %H:%M:%S} UTC"
                else:
                    mark = "pending"
                click.echo(f"{state.migration.filename:40} {mark}")
            return
        replaced = migrations.replaced_materialized_views(target)
        if replaced:
            _refuse_while_workers_run(s, replaced)
        done = migrations.apply(target, auto_close_s=int(s.auto_close_hours * 3600))
    except migrations.MigrationError as exc:
        raise click.ClickException(str(exc)) from None
    applied = ", ".join(m.filename for m in done) or "nothing (up to date)"
    click.echo(f"database {target.database}: applied {applied}")


def _refuse_while_workers_run(s: Settings, views: list[str]) -> None:
    """A worker's insert while a materialized view is replaced would derive nothing from it."""
    from streams.worker.lag import running_workers

    workers = running_workers(s)
    if workers:
        raise click.ClickException(
            f"pending migrations replace the materialized view(s) {', '.join(views)} of "
            f"{s.clickhouse_database}, and {workers} worker(s) of it run: rows they write "
            "meanwhile would miss what the view derives. Stop the workers, run `frontline "
            "migrate`, then start them again."
        )


@main.command("worker")
@batch_option
@click.option("--within", type=float, default=0.2, show_default=True, help="max seconds per batch")
@write_max_option()
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65_535),
    default=None,
    help="serve /metrics and /healthz here (0: off) [default: FRONTLINE_WORKER_METRICS_PORT]",
)
@click.option("--loglevel", default="info", show_default=True)
def worker(
    batch: int, within: float, write_max: int, metrics_port: int | None, loglevel: str
) -> None:
    """Run the Faust worker: project the event topics into ClickHouse until stopped.

    Run several on one machine or many: they share the partitions (one consumer group per
    FRONTLINE_TOPIC_PREFIX) and the counts stay exact.
    """
    from faust.worker import Worker

    from streams.collector import tune_gc
    from streams.worker.app import create_worker_app
    from streams.worker.prepare import prepare

    s = settings()
    click.echo(prepare(s))
    # `main` silenced the Kafka client for one-shot commands; a worker's log is where an
    # operator looks when its counts stand still, so the client's warnings and errors (a fetch
    # that failed, a lost group coordinator) belong there.
    kafka_log = logging.getLogger("aiokafka")
    if kafka_log.level > logging.WARNING:
        kafka_log.setLevel(logging.WARNING)
    app = create_worker_app(
        s, batch_max=batch, batch_within_s=within, write_max=write_max, metrics_port=metrics_port
    )
    tune_gc()
    # Plain lines are Faust's own format; JSON lines replace its logging set-up.
    config = logging_config("json", loglevel) if s.log_format == "json" else None
    Worker(app, loglevel=loglevel, logging_config=config).execute_from_commandline()
