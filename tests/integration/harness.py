"""Helpers for integration tests that run Frontline's own processes against the real stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from projections import queries
from streams.settings import Settings
from streams.worker.lag import partition_lag

ROOT = Path(__file__).resolve().parents[2]
SCALE = "0.002"  # ~11.5k lines: every fault kind, a few seconds of catch-up


def env_of(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that makes a child process use exactly these settings."""
    return {**settings.environ(), **extra}


def frontline(
    settings: Settings, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the `frontline` CLI as a user would, with these settings."""
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env={**os.environ, **env_of(settings)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_worker(
    settings: Settings, log: Path, *args: str, loglevel: str = "warning"
) -> subprocess.Popen[bytes]:
    """`frontline worker` in the background, its output in `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "--loglevel", loglevel, *args],
            env={**os.environ, **env_of(settings)},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def count_to_the_end(settings: Settings, log: Path, timeout: float = 300) -> None:
    """One worker counts everything in the event topics, then is stopped."""
    worker = start_worker(settings, log)
    try:
        wait_caught_up(settings, [worker], log, timeout)
    finally:
        stop(worker)


def stuck(workers: Sequence[subprocess.Popen[bytes]], log: Path | None) -> str:
    """The log's end after asking the live workers for their stacks: mode's worker writes
    every thread's and asyncio task's stack to stderr (the log) on SIGUSR1, so a worker that
    hangs says where."""
    alive = [w for w in workers if w.poll() is None]
    for w in alive:
        w.send_signal(signal.SIGUSR1)
    if alive:
        time.sleep(2)
    return log.read_text()[-_STUCK_TAIL:] if log is not None else ""


_STUCK_TAIL = 150_000  # the task stacks take ~65 kB per worker


def wait_caught_up(
    settings: Settings, workers: Iterable[subprocess.Popen[bytes]], log: Path, timeout: float = 300
) -> None:
    """Until every message in the event topics is covered by a ClickHouse checkpoint."""
    deadline = time.monotonic() + timeout
    procs = list(workers)
    while True:
        lags = partition_lag(settings)
        if lags and sum(r.lag for r in lags) == 0:
            return
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise AssertionError(
                f"a worker exited ({dead[0].returncode}):\n{log.read_text()[-3000:]}"
            )
        if time.monotonic() > deadline:
            behind = sum(r.lag for r in lags)
            raise AssertionError(
                f"not caught up after {timeout}s ({behind} behind):\n{stuck(procs, log)}"
            )
        time.sleep(0.5)


def wait_until_progress(settings: Settings, at_least: int, timeout: float = 120) -> None:
    """Until the checkpoints cover at least `at_least` messages in all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = sum((r.checkpoint or -1) + 1 for r in partition_lag(settings))
        if done >= at_least:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {at_least} messages projected after {timeout}s")


def load_json(path: Path) -> object:
    return json.loads(path.read_text())


def assert_counts_exact(settings: Settings, expected: dict[str, Any]) -> None:
    """`totals` and every row of `daily_by_org` equal the simulator's expected.json."""
    totals = queries.run(settings.dashboard, "totals")
    assert len(totals.rows) == 1
    got = dict(zip(totals.columns, totals.rows[0], strict=True))
    assert got == expected["totals"], {
        k: (got[k], v) for k, v in expected["totals"].items() if got[k] != v
    }
    daily = queries.run(settings.dashboard, "daily_by_org")
    got_daily = [
        {
            c: (v.isoformat() if isinstance(v, date) else v)
            for c, v in zip(daily.columns, row, strict=True)
        }
        for row in daily.rows
    ]
    want_daily = sorted(expected["daily_by_org"], key=lambda r: (r["day"], r["org_id"]))
    assert len(got_daily) == len(want_daily)
    for got_row, want_row in zip(got_daily, want_daily, strict=True):
        differ = {k: (got_row.get(k), v) for k, v in want_row.items() if got_row.get(k) != v}
        assert not differ, f"daily_by_org {want_row['day']} {want_row['org_id']}: {differ}"


def prepare_campaign(
    settings: Settings, tmp_path: Path, seed: int, scale: str = SCALE
) -> tuple[Path, dict[str, Any]]:
    """Simulate a campaign, migrate and create the topics; the events file and the
    simulator's expected counts."""
    out, expect = tmp_path / "events.jsonl", tmp_path / "expected.json"
    sim = frontline(
        settings,
        "simulate",
        "--scale",
        scale,
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--expect",
        str(expect),
    )
    assert sim.returncode == 0, sim.stderr
    migrated = frontline(settings, "migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    ensure = frontline(settings, "topics", "ensure")
    assert ensure.returncode == 0, ensure.stdout + ensure.stderr
    expected: dict[str, Any] = json.loads(expect.read_text())
    return out, expected


def emit_campaign(
    settings: Settings, tmp_path: Path, seed: int, scale: str = SCALE
) -> dict[str, Any]:
    """Simulate a campaign, migrate, create the topics and emit it; the simulator's expected
    counts."""
    out, expected = prepare_campaign(settings, tmp_path, seed, scale)
    emit = frontline(settings, "emit", str(out), "--allow-rejects", "--quiet")
    assert emit.returncode == 0, emit.stdout + emit.stderr
    return expected


_MARKS = (
    "SELECT kafka_topic, kafka_partition, max(version), argMax(written_at_ms, version), "
    "argMax(messages, version), argMax(events, version), argMax(head, version) "
    "FROM checkpoints GROUP BY kafka_topic, kafka_partition"
)


def checkpoint_marks(settings: Settings) -> list[tuple[Any, ...]]:
    """Each partition's newest checkpoint row."""
    return list(settings.clickhouse.client().execute(_MARKS))


def cut_short_after(settings: Settings, marks: list[tuple[Any, ...]]) -> None:
    """A crash between writes, made exact: the checkpoints after `marks` were never written,
    the state rows were, and merges kept only the newest version of every key."""
    client = settings.clickhouse.client()
    client.execute("ALTER TABLE checkpoints DELETE WHERE version >= 0")
    deadline = time.monotonic() + 60
    pending = "SELECT count() FROM system.mutations WHERE database = %(db)s AND is_done = 0"
    while client.execute(pending, {"db": settings.clickhouse_database})[0][0]:
        assert time.monotonic() < deadline, "the checkpoint deletion did not finish"
        time.sleep(0.2)
    client.execute(
        "INSERT INTO checkpoints (kafka_topic, kafka_partition, version, written_at_ms, "
        "messages, events, head) VALUES",
        marks,
    )
    client.execute("OPTIMIZE TABLE counters FINAL")
    client.execute("OPTIMIZE TABLE shifts FINAL")
