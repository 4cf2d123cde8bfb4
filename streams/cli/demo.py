"""`frontline demo`: the main job end to end on a simulated campaign, saying what it does.

It runs in a deployment of its own (topic prefix `<prefix>demo.`, database `<database>_demo`),
reset at the start of each run and left in place afterwards for querying, so a run is
reproducible and never touches real data.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from projections import migrate as migrations
from projections import queries
from projections.database import create_database, drop_database
from streams import topic_admin
from streams.cli import main, settings
from streams.settings import Settings, check_clickhouse_reachable, check_kafka_reachable
from streams.startup import retrying
from streams.topics import events_topic
from streams.worker.lag import partition_lag

SHOWN = [
    "orgs",
    "teams",
    "volunteers",
    "checkins",
    "service_hours",
    "unclosed_shifts",
    "calls",
    "sampling_assists",
    "disinfected_m2",
    "donations_fen",
]


def _env(s: Settings) -> dict[str, str]:
    return {**os.environ, **s.environ()}


def _run(s: Settings, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "streams.cli", *args], env=_env(s), check=False)
    if done.returncode != 0:
        raise click.ClickException(f"frontline {' '.join(args)} exited {done.returncode}")


def _reset(s: Settings) -> None:
    drop_database(s.clickhouse)
    if topic_admin.delete_all(s):
        time.sleep(2)  # deletion is asynchronous in the broker


def _worker_died(worker: subprocess.Popen[bytes], log: Path) -> str:
    """The worker's own last words: the real error, not the demo's."""
    lines = [x for x in log.read_text(errors="replace").splitlines() if x.strip()]
    tail = "\n".join(lines[-15:])
    return f"the worker exited with {worker.returncode}; the end of {log}:\n{tail}"


def _stop(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the worker's process group, if it still runs; then wait for it."""
    if worker.poll() is None:
        with contextlib.suppress(ProcessLookupError):  # it may exit between poll and kill
            os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)


def _totals(s: Settings) -> dict[str, Any]:
    result = queries.run(s.dashboard, "totals")
    return dict(zip(result.columns, result.rows[0], strict=True))


@main.command("demo")
@click.option(
    "--scale", type=float, default=0.01, show_default=True, help="campaign size (1 = article)"
)
@click.option("--seed", type=int, default=2022, show_default=True)
def demo(scale: float, seed: int) -> None:
    """Simulate the Liaocheng 2022 campaign, ingest it, project it, show live counts."""
    base = settings()
    s = base.model_copy(
        update={
            "topic_prefix": f"{base.topic_prefix}demo.",
            "clickhouse_database": f"{base.clickhouse_database}_demo",
        }
    )
    wait = s.startup_timeout  # a stack that is still starting is waited for, not an error
    retrying("Kafka", lambda: check_kafka_reachable(s), wait)
    retrying("ClickHouse", lambda: check_clickhouse_reachable(s), wait)
    work = Path(os.environ.get("FRONTLINE_STATE_DIR", ".state")) / "demo"
    work.mkdir(parents=True, exist_ok=True)
    click.echo(f"1. fresh deployment: topics {s.topic_prefix}*, database {s.clickhouse_database}")
    retrying("reset", lambda: _reset(s), wait)
    create_database(s.clickhouse)
    migrations.apply(s.clickhouse, auto_close_s=int(s.auto_close_hours * 3600))
    retrying("topics ensure", lambda: topic_admin.ensure(s), wait)
    click.echo(f"   event topic {events_topic(s)} + dead letters, schema migrated")

    events, expect = work / "events.jsonl", work / "expected.json"
    click.echo(f"2. simulating the campaign at scale {scale} (seed {seed}) -> {events}")
    _run(
        s,
        "simulate",
        "--scale",
        str(scale),
        "--seed",
        str(seed),
        "--out",
        str(events),
        "--expect",
        str(expect),
    )
    expected: dict[str, Any] = json.loads(expect.read_text())

    log = work / "worker.log"
    click.echo(f"3. starting a worker (log: {log})")
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "warning"],
            env=_env(s),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        click.echo("4. ingesting with `frontline emit` (invalid lines go to the dead-letter topic)")
        _run(s, "emit", str(events), "--allow-rejects", "--quiet")
        click.echo("5. live counts while the worker catches up:")
        lines = expected["meta"]["lines"] - expected["meta"]["invalid"]
        while True:
            if worker.poll() is not None:
                raise click.ClickException(_worker_died(worker, log))
            lag = retrying("lag", lambda: partition_lag(s), wait)
            done = sum((r.checkpoint if r.checkpoint is not None else -1) + 1 for r in lag)
            t = _totals(s)
            click.echo(
                f"   {done:>9,}/{lines:,} events  volunteers {t['volunteers']:>7,}  "
                f"sampling assists {t['sampling_assists']:>10,}  calls {t['calls']:>7,}"
            )
            if sum(r.lag for r in lag) == 0:
                break
            time.sleep(1)
    finally:
        _stop(worker)

    got = _totals(s)
    click.echo("6. totals (ClickHouse view) next to the simulator's independent count:")
    click.echo(f"   {'':18}{'totals':>16}{'expected':>16}")
    for name in SHOWN:
        mark = "" if got[name] == expected["totals"][name] else "   <- differs"
        click.echo(f"   {name:18}{got[name]:>16,}{expected['totals'][name]:>16,}{mark}")
    exact = got == expected["totals"]
    click.echo(f"   all {len(got)} columns {'equal' if exact else 'NOT equal'} to expected.json")
    click.echo(
        f"   query it: FRONTLINE_TOPIC_PREFIX={s.topic_prefix} "
        f"FRONTLINE_CLICKHOUSE_DATABASE={s.clickhouse_database} frontline query daily_by_org"
    )
    if not exact:
        sys.exit(1)
