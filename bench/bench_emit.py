"""`frontline emit` throughput into the local broker: prints events/s (target >= 30,000).

    .venv/bin/python bench/bench_emit.py [--events 300000]

Writes a JSON Lines file of valid events (all six types), then runs the CLI's own code path
(`streams.ingest.emit.emit_lines` through the producer SDK: validation, canonical encoding, lz4,
acks=all, idempotence) into throw-away topics, which are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_topics, events
from streams.ingest.emit import emit_lines
from streams.ingest.producer import Producer
from streams.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        with path.open("w") as out:
            for payload in events(args.events):
                out.write(json.dumps(payload) + "\n")
        size = path.stat().st_size
        with bench_topics(Settings.from_env()) as settings, Producer(settings) as producer:
            started = time.perf_counter()
            with path.open("rb") as lines:
                stats = emit_lines(lines, producer, source_name=str(path))
            elapsed = time.perf_counter() - started
    assert stats.acknowledged == args.events, stats
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"emit: {args.events:,} events ({size / 2**20:.0f} MiB) in {elapsed:.1f} s = "
        f"{args.events / elapsed:,.0f} events/s acknowledged; max RSS {rss:.0f} MiB"
    )


if __name__ == "__main__":
    main()
