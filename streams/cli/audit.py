"""Auditors' commands: `frontline replay` rebuilds, `frontline audit` compares (and swaps),
`frontline export` hands the history over, `frontline trace` takes a figure to its events."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Never

import click
from tqdm import tqdm

from events import EVENT_TYPES, SHANGHAI
from projections.queries import plain
from streams.audit import REPLAY_WRITE_MAX
from streams.audit.export import FORMATS, ExportRequest, export, manifest_digest
from streams.audit.export import check as check_export
from streams.audit.trace import METRICS, trace
from streams.cli import main, settings
from streams.cli.pipeline import batch_option, write_max_option
from streams.cli.tables import print_table

if TYPE_CHECKING:
    from projections.replays import ReplayPlan
    from streams.audit.compare import Comparison


class Instant(click.ParamType):
    """An ISO 8601 date or time; without an offset it is Asia/Shanghai's (the contract's)."""

    name = "TIME"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return value
        try:
            at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not a date or time like 2022-04-01 or 2022-04-01T08:00", param)
        if at.tzinfo is None:
            at = at.replace(tzinfo=SHANGHAI)
        return int(at.timestamp() * 1000)


class _Bar:
    """tqdm on stderr: events replayed, events/s and the ETA."""

    def __init__(self) -> None:
        self.bar: tqdm[Never] | None = None

    def start(self, total: int, done: int) -> None:
        self.bar = tqdm(
            total=total, initial=done, unit="ev", unit_scale=True, desc="replay", file=sys.stderr
        )

    def advance(self, messages: int) -> None:
        if self.bar is not None:
            self.bar.update(messages)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _show_plan(plan: ReplayPlan, resumed: bool) -> None:
    click.echo(
        ("resuming the replay planned" if resumed else "replay planned")
        + f" at {datetime.fromtimestamp(plan.planned_at_ms / 1000, SHANGHAI):%Y-%m-%d %H:%M:%S%z}:"
        f" {plan.size:,} messages" + (f", org {plan.org_id} only" if plan.org_id else "")
    )
    for p in plan.partitions:
        click.echo(f"  {p.topic}[{p.partition}]  offsets {p.start:,} to {p.end:,} (end excluded)")


@main.command("replay")
@click.option("--into", "into", required=True, metavar="DATABASE", help="database to rebuild in")
@click.option("--from", "from_ms", type=Instant(), default=0, help="first Kafka time replayed")
@click.option("--to", "to_ms", type=Instant(), default=0, help="Kafka time it stops before")
@click.option("--org", "org_id", default="", help="count only this organisation's events")
@click.option("--quiet", is_flag=True, help="no progress bar")
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="replay the partitions in this many processes (one per core to spare)",
)
@batch_option
@write_max_option(REPLAY_WRITE_MAX)
def replay_cmd(
    into: str,
    from_ms: int,
    to_ms: int,
    org_id: str,
    quiet: bool,
    processes: int,
    batch: int,
    write_max: int,
) -> None:
    """Rebuild every projection from the event topic into DATABASE, with the live worker's own
    code, while it runs. The end is the topic's end offsets when the replay starts (printed);
    interrupted and started again with the same options, it resumes without counting twice.
    Then compare: `frontline audit --live <live database> --rebuilt DATABASE`."""
    # Imported here: the worker's pipeline and its metrics take 0.3 s that other commands skip.
    from streams.audit.replay import ReplayRequest, replay

    bar = _Bar()
    try:
        result = replay(
            settings(),
            ReplayRequest(into, from_ms, to_ms, org_id),
            None if quiet else bar,
            on_plan=_show_plan,
            batch_max=batch,
            write_max=write_max,
            processes=processes,
        )
    except KeyboardInterrupt:
        bar.close()
        click.echo("interrupted: run the same command again to resume", err=True)
        sys.exit(130)
    bar.close()
    t = result.stats
    replayed = result.plan.size - result.resumed_at
    rate = replayed / result.elapsed_s if result.elapsed_s else 0.0
    click.echo(
        f"replayed {replayed:,} messages into {into} in {result.elapsed_s:.1f} s "
        f"({rate:,.0f}/s): {t.accepted:,} counted, {t.duplicates:,} duplicates, "
        f"{t.conflicts:,} conflicts, {t.rejected:,} rejected"
        + (f", {t.excluded:,} of other orgs" if t.excluded else "")
    )


def _cell(value: object) -> str:
    return "-" if value is None else str(plain(value))


def _show_differences(c: Comparison) -> None:
    lines: list[tuple[str, str, str, str]] = []
    for d in c.differences:
        key = ", ".join(f"{k}={_cell(v)}" for k, v in zip(c.key_columns, d.key, strict=True))
        key = key or c.name
        if d.live is None or d.rebuilt is None:
            lines.append(
                (
                    key,
                    "(row)",
                    "missing" if d.live is None else "present",
                    "missing" if d.rebuilt is None else "present",
                )
            )
            continue
        for column, a, b in zip(c.columns, d.live, d.rebuilt, strict=True):
            if a != b:
                lines.append((key, column, _cell(a), _cell(b)))
    print_table(["key", "column", "live", "rebuilt"], lines)
    if c.more:
        click.echo(f"... and {c.more:,} more rows differ")


@main.command("audit")
@click.option("--live", "live", metavar="DATABASE", help="[default: FRONTLINE_CLICKHOUSE_DATABASE]")
@click.option("--rebuilt", "rebuilt", required=True, metavar="DATABASE", help="a replay's database")
@click.option(
    "--swap",
    is_flag=True,
    help="promote REBUILT to live (exchange the tables); the live workers must be stopped",
)
def audit_cmd(live: str | None, rebuilt: str, swap: bool) -> None:
    """Compare every projection table and public view of two databases row by row, as the
    read-only user; print each difference (key, live value, rebuilt value) and exit 1 if there
    is any. With --swap, promote REBUILT to live instead (as the writer)."""
    from streams.audit.compare import audit
    from streams.audit.swap import swap as swap_tables

    s = settings()
    if live is not None and live != s.clickhouse_database:
        s = s.model_copy(update={"clickhouse_database": live})
    if swap:
        click.echo(swap_tables(s, rebuilt))
        return
    live_db = s.clickhouse_database

    def show(c: Comparison) -> None:
        if c.derived_from:
            same = f"equal: the same query over equal {c.derived_from}"
            click.echo(f"{c.kind:5} {c.name:16} {'':>12}       {same}")
            return
        state = "equal" if c.equal else f"DIFFERS ({len(c.differences) + c.more:,} rows)"
        click.echo(f"{c.kind:5} {c.name:16} {c.rows:>12,} rows  {state}")

    comparisons = audit(s.dashboard, live_db, rebuilt, progress=show)
    differing = [c for c in comparisons if not c.equal]
    for c in differing:
        click.echo(f"\n{c.kind} {c.name}: {live_db} (live) against {rebuilt} (rebuilt)")
        _show_differences(c)
    if differing:
        click.echo(
            f"\nfrontline: {len(differing)} of {len(comparisons)} tables and views differ",
            err=True,
        )
        sys.exit(1)
    click.echo(f"{live_db} and {rebuilt}: every table and view equal")


@main.command("export")
@click.option("--from", "from_day", type=click.DateTime(["%Y-%m-%d"]), help="first day")
@click.option("--to", "to_day", type=click.DateTime(["%Y-%m-%d"]), help="last day")
@click.option("--org", "org_id", default="", help="only this organisation")
@click.option("--type", "event_type", type=click.Choice(list(EVENT_TYPES)), default=None)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="directory")
@click.option(
    "--check",
    "check_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="verify a received export against its manifest instead",
)
def export_cmd(
    from_day: datetime | None,
    to_day: datetime | None,
    org_id: str,
    event_type: str | None,
    fmt: str,
    out: Path | None,
    check_dir: Path | None,
) -> None:
    """Export the accepted events of the days --from to --to (local days, as in daily_by_org)
    into --out: one file per day and type, as received (jsonl) or as columns (csv), and a
    manifest with each file's SHA-256, event count and Kafka offset ranges. With --check DIR,
    verify an export against its manifest (exit 1 on any difference)."""
    if check_dir is not None:
        problems = check_export(check_dir)
        for p in problems:
            click.echo(f"{p.path}: {p.problem}")
        if problems:
            click.echo(f"frontline: {len(problems)} problem(s) in {check_dir}", err=True)
            sys.exit(1)
        click.echo(
            f"{check_dir}: every file as in its manifest (SHA-256 {manifest_digest(check_dir)})"
        )
        return
    if from_day is None or to_day is None or out is None:
        raise click.UsageError("--from, --to and --out are needed (or --check DIR)")
    if out.exists() and any(out.iterdir()):
        raise click.UsageError(f"{out} is not empty: export into a new directory")
    bars: list[tqdm[Never]] = []  # opened at the first progress: errors before print alone

    def show(done: int, total: int) -> None:
        if not bars:
            bars.append(
                tqdm(total=total, unit="ev", unit_scale=True, desc="export", file=sys.stderr)
            )
        bars[0].update(done - bars[0].n)

    started = time.monotonic()
    request = ExportRequest(from_day.date(), to_day.date(), out, fmt, org_id, event_type or "")
    manifest = export(settings(), request, show)
    for bar in bars:
        bar.close()
    elapsed = time.monotonic() - started
    click.echo(
        f"exported {manifest['events']:,} events in {len(manifest['files'])} files to {out} "
        f"in {elapsed:.1f} s; manifest SHA-256 {manifest_digest(out)} (keep it apart)"
    )


@main.command("trace")
@click.option("--org", "org_id", required=True, help="the organisation")
@click.option("--day", required=True, type=click.DateTime(["%Y-%m-%d"]), help="the local day")
@click.option("--metric", required=True, type=click.Choice(METRICS), help="a daily_by_org column")
def trace_cmd(org_id: str, day: datetime, metric: str) -> None:
    """List the events behind one figure of daily_by_org (event ids, times, Kafka partition
    and offset, what each adds; for shift figures each shift's check-in and check-out) and say
    whether they sum to it (exit 1 if not)."""
    t = trace(settings(), org_id, day.date(), metric)
    print_table(
        ["for", "event_id", "type", "occurred_at", "partition", "offset", metric],
        [
            (
                line.what,
                line.event_id or "-",
                line.type or "-",
                _cell(line.occurred_at),
                _cell(line.partition),
                _cell(line.offset),
                f"{line.adds(metric):g}",
            )
            for line in t.lines
        ],
    )
    shown = "no row" if t.figure is None else f"{t.figure:g}"
    if t.equal:
        click.echo(f"{len(t.lines):,} lines sum to {t.total:g} = daily_by_org's {metric} ({shown})")
        return
    click.echo(
        f"frontline: {len(t.lines):,} lines sum to {t.total:g}, daily_by_org's {metric} for "
        f"{org_id} on {t.day} is {shown}",
        err=True,
    )
    sys.exit(1)
