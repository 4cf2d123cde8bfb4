"""`frontline query` and `frontline lag`: what dashboards see, and how far behind the worker is."""

from __future__ import annotations

import csv
import json
import sys
import time
from datetime import datetime
from typing import IO

import click

from projections import queries
from streams.audit.chain import heads_document, read_heads, verify_chains
from streams.cli import main, settings
from streams.cli.tables import print_table
from streams.settings import Settings, check_clickhouse_reachable
from streams.topics import events_topic
from streams.worker.lag import partition_lag
from streams.worker.verify import SHOWN, verify


@main.command("query")
@click.argument("name", type=click.Choice(queries.names()))
@click.option("--org", "org_id", default="", help="only this organisation")
@click.option("--from", "from_day", type=click.DateTime(["%Y-%m-%d"]), help="first day")
@click.option("--to", "to_day", type=click.DateTime(["%Y-%m-%d"]), help="last day")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
def query(
    name: str, org_id: str, from_day: datetime | None, to_day: datetime | None, fmt: str
) -> None:
    """Run a named dashboard query as the read-only `dashboard` user."""
    s = settings()
    check_clickhouse_reachable(s)
    result = queries.run(
        s.dashboard,
        name,
        org_id=org_id,
        from_day=from_day.date() if from_day else queries.FIRST_DAY,
        to_day=to_day.date() if to_day else queries.LAST_DAY,
        extra={"since_ms": int((time.time() - 60) * 1000)},
    )
    if fmt == "json":
        click.echo(json.dumps(queries.records(result), indent=1, ensure_ascii=False))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows([[queries.plain(v) for v in row] for row in result.rows])
    else:
        print_table(result.columns, result.rows)


@main.command("lag")
def lag() -> None:
    """Consumer lag per partition, offsets never projected (gaps), messages not counted and
    why, and the event -> ClickHouse delay over the last minute."""
    s = settings()
    rows = partition_lag(s)
    print_table(
        ["topic", "partition", "end", "committed", "checkpoint", "lag", "unaccounted"],
        [
            (
                r.topic,
                r.partition,
                r.end_offset,
                r.committed,
                r.checkpoint,
                r.lag,
                "?" if r.unaccounted is None else r.unaccounted,
            )
            for r in rows
        ],
    )
    click.echo(f"total lag: {sum(r.lag for r in rows)} messages")
    gaps = sum(r.unaccounted or 0 for r in rows)
    if gaps:
        click.echo(
            f"GAP: {gaps} offsets up to the checkpoints were never projected; run "
            "`frontline verify` to list them",
            err=True,
        )
    not_counted = queries.run(s.dashboard, "not_counted")
    if not_counted.rows:
        click.echo("not counted (distinct offsets):")
        for outcome, code, messages in not_counted.rows:
            click.echo(f"  {code or outcome:<24}{messages:>12,}")
    else:
        click.echo("not counted: none")
    delay = queries.run(
        s.dashboard, "event_delay", extra={"since_ms": int((time.time() - 60) * 1000)}
    )
    events, p50, p99, worst = delay.rows[0]
    if events:
        click.echo(
            f"event -> ClickHouse delay, last 60 s: {events} events, p50 {p50} ms, "
            f"p99 {p99} ms, max {worst} ms"
        )
    else:
        click.echo("event -> ClickHouse delay: no events written in the last 60 s")


@main.command("verify")
@click.option("--heads", "show_heads", is_flag=True, help="print the chain heads as JSON, to keep")
@click.option(
    "--against",
    type=click.File("r"),
    help="also check the chain against heads kept earlier (the output of --heads)",
)
@click.option(
    "--history",
    metavar="TOPIC",
    help="check a copy of the event topic (a mirror, a restored backup) instead of the topic",
)
def verify_cmd(show_heads: bool, against: IO[str] | None, history: str | None) -> None:
    """Check the projection against the event history: every offset up to each ClickHouse
    checkpoint was projected (counted, or recorded as not counted and why), and each
    partition's hash chain, recomputed from Kafka, equals the stored one (and the kept heads
    with --against). Reports the first divergence with its coordinates; exit 1 on any."""
    s = settings()
    if show_heads:
        click.echo(json.dumps(heads_document(s), indent=1))
        return
    kept = read_heads(against.read()) if against is not None else None
    problems = 0
    if history is None:
        problems += _verify_offsets(s)
    checks = verify_chains(
        s,
        history,
        kept,
        progress=lambda c: click.echo(
            f"chain {c.partition}: {'ok' if c.ok else 'DIVERGES'} ({c.events:,} events)", err=True
        ),
    )
    print_table(
        ["partition", "events", "head", "first divergence"],
        [(c.partition, c.events, c.head[:16] or "-", c.problem or "-") for c in checks],
    )
    bad = [c for c in checks if not c.ok]
    if bad:
        first = bad[0]
        click.echo(
            f"frontline: the history of {history or events_topic(s)} differs from what was "
            f"counted in {len(bad)} partition(s); first: partition {first.partition}, offset "
            f"{first.offset}: {first.problem}",
            err=True,
        )
    if bad or problems:
        sys.exit(1)
    click.echo(f"verified: the hash chains of {len(checks)} partitions")


def _verify_offsets(s: Settings) -> int:
    """The offsets check; how many partitions have a gap."""
    checks = verify(s, progress=lambda line: click.echo(line, err=True))
    print_table(
        [
            "topic",
            "partition",
            "checkpoint",
            "in Kafka",
            "in ClickHouse",
            "missing",
            "first missing",
        ],
        [
            (
                c.topic,
                c.partition,
                c.checkpoint,
                c.expected,
                c.recorded,
                len(c.missing),
                " ".join(str(o) for o in c.missing[:SHOWN]) or "-",
            )
            for c in checks
        ],
    )
    bad = [c for c in checks if not c.ok]
    if bad:
        missing = sum(len(c.missing) for c in bad)
        click.echo(
            f"frontline: {missing:,} offsets up to the checkpoints were never projected in "
            f"{len(bad)} partition(s). Their events are not counted: rebuild the projection "
            "(`frontline replay`, then `frontline audit --swap`) and report the worker's log.",
            err=True,
        )
    else:
        click.echo(f"verified: every offset up to the checkpoints of {len(checks)} partitions")
    return len(bad)
