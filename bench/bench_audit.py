"""Auditor benchmarks on the local stack: replay, audit, verify and export on a campaign that a
worker has already projected (after `bench/bench_worker.py catchup --simulated SCALE`, whose
topics and database it reuses).

    .venv/bin/python bench/bench_audit.py --prefix wbench.we72025. --database frontline_t7

Prints, each timed from the command's start to its end (as a user runs them):
- `frontline replay --into DATABASE_replay --processes N` (N: the box's cores unless
  `--processes`): events/s (target: scale 1 in <= 4 min);
- `frontline audit` of the live against the rebuilt database (target: <= 30 s at scale 1);
- `frontline verify` (offsets and hash chains; target: <= 2 min at scale 1);
- `frontline export` of the busiest day (target: >= 100k events/s).
No assertion of a target (README, "Benchmarks").
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import cpu_yardstick  # noqa: E402
from projections.database import drop_database  # noqa: E402
from streams.settings import Settings  # noqa: E402


def run(settings: Settings, *args: str) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env={**os.environ, **settings.environ()},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(
            f"frontline {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prefix", required=True, help="topic prefix of a projected campaign")
    parser.add_argument("--database", required=True, help="its (live) database")
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="replay --processes (default: this box's cores; the target is for the box)",
    )
    args = parser.parse_args()
    env = Settings.from_env()
    live = env.model_copy(
        update={"topic_prefix": args.prefix, "clickhouse_database": args.database}
    )
    rebuilt = f"{args.database}_replay"
    drop_database(live.clickhouse.with_database(rebuilt))
    events = live.clickhouse.client().execute(
        "SELECT uniqExact(kafka_partition, kafka_offset) FROM event_log"
    )[0][0]
    messages = live.clickhouse.client().execute(
        "SELECT sum(v + 1) FROM (SELECT max(version) AS v FROM checkpoints "
        "GROUP BY kafka_topic, kafka_partition)"
    )[0][0]
    print(
        f"campaign: {messages:,} messages, {events:,} accepted events; "
        f"yardstick {cpu_yardstick():.2f} s"
    )

    procs = str(args.processes)
    took, _ = run(live, "replay", "--into", rebuilt, "--quiet", "--processes", procs)
    print(f"replay:  {took:6.1f} s  {messages / took:10,.0f} messages/s ({procs} processes)")
    took, out = run(live, "audit", "--rebuilt", rebuilt)
    print(f"audit:   {took:6.1f} s  ({out.strip().splitlines()[-1]})")
    took, _ = run(live, "verify")
    print(f"verify:  {took:6.1f} s  {messages / took:10,.0f} messages/s")
    day, busiest = live.clickhouse.client().execute(
        "SELECT day, uniqExact(kafka_partition, kafka_offset) AS n FROM event_log "
        "GROUP BY day ORDER BY n DESC LIMIT 1"
    )[0]
    with tempfile.TemporaryDirectory() as out_dir:
        took, _ = run(live, "export", "--from", str(day), "--to", str(day), "--out", f"{out_dir}/x")
    print(f"export:  {took:6.1f} s  {busiest / took:10,.0f} events/s ({busiest:,} events of {day})")
    print(f"yardstick after: {cpu_yardstick():.2f} s")
    drop_database(live.clickhouse.with_database(rebuilt))


if __name__ == "__main__":
    main()
