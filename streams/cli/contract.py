"""`frontline schema export`, `frontline validate`, `frontline simulate`: the event contract."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import BinaryIO

import click

from events.schema_export import schemas
from events.simulator import SCENARIOS, simulate
from events.validation import Summary, check_lines
from streams.cli import main


@main.group("schema")
def schema() -> None:
    """JSON Schemas of the event contract, for field apps."""


@schema.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schema_export(directory: Path) -> None:
    """Write one JSON Schema per event type (and the envelope) into DIRECTORY."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, document in schemas().items():
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        (directory / name).write_text(text, encoding="utf-8")
        click.echo(directory / name)


@main.command("validate")
@click.argument("file", type=click.File("rb"))
@click.option("--max-bytes", type=click.IntRange(min=1), default=65_536, show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="Print only invalid lines and the summary.")
def validate(file: BinaryIO, max_bytes: int, quiet: bool) -> None:
    """Check JSON Lines (FILE, or - for stdin) against the contract; exit 1 if any is invalid.

    Prints per line `N: ok TYPE EVENT_ID` or `N: CODE: MESSAGE`, then a summary.
    """
    summary = Summary()
    for result in check_lines(file, max_bytes=max_bytes):
        summary.add(result)
        if not quiet or result.rejection is not None:
            click.echo(result.describe())
    click.echo(summary.describe())
    sys.exit(1 if summary.invalid else 0)


@main.command("simulate")
@click.option("--scenario", type=click.Choice(SCENARIOS), default=SCENARIOS[0], show_default=True)
@click.option("--scale", type=click.FloatRange(min=0, min_open=True, max=100), default=1.0)
@click.option("--seed", type=int, default=2022, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--expect", type=click.Path(dir_okay=False, path_type=Path), default=None)
def simulate_command(
    scenario: str, scale: float, seed: int, out: Path, expect: Path | None
) -> None:
    """Write a deterministic campaign to OUT (JSON Lines) and its exact counts to EXPECT."""
    started = time.monotonic()
    tty = sys.stderr.isatty()

    def progress(done: int, total: int, lines: int) -> None:
        if tty:
            click.echo(f"\r{100 * done // total:3d}%  {lines:,} lines", nl=False, err=True)

    document = simulate(
        scenario_name=scenario, scale=scale, seed=seed, out=out, expect=expect, progress=progress
    )
    if tty:
        click.echo("", err=True)
    meta, seconds = document["meta"], time.monotonic() - started
    click.echo(
        f"{out}: {meta['lines']:,} lines ({meta['accepted_unique']:,} unique, "
        f"{meta['duplicates']:,} retries, {meta['invalid']:,} invalid) in {seconds:.1f} s"
    )
