"""`frontline emit` against a bare kafka-python send loop with the same producer settings, in
one run (#15: emit >= 0.85x the bare loop, validation included).

    .venv/bin/python bench/bench_emit.py [--events 300000] [--rounds 3]

Writes a JSON Lines file of valid events (all six types), then, alternating, `--rounds` times:
- bare: the SDK's own KafkaProducer (same settings: acks=all, idempotence, lz4, linger, batch
  size), `send(topic, key=event_id, value=line)` for every line, then flush: no validation;
- emit: the CLI's code path (`streams.ingest.emit.emit_lines` through the producer SDK:
  validation, canonical encoding, routing, per-event acknowledgement accounting).
Both into the same throw-away topics, deleted afterwards. Prints events/s of each, the ratio
per round and its median, and the CPU yardstick. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_topics, cpu_yardstick, events
from streams.ingest.emit import emit_lines
from streams.ingest.producer import Producer
from streams.settings import Settings
from streams.topics import events_topic


def bare(settings: Settings, lines: list[tuple[bytes, bytes]]) -> float:
    """Events/s of kafka-python alone, with the SDK's producer settings."""
    with Producer(settings) as producer:
        kafka = producer._kafka  # the same KafkaProducer the SDK configured
        topic = events_topic(settings)
        started = time.perf_counter()
        for key, value in lines:
            kafka.send(topic, value=value, key=key)
        kafka.flush()
        return len(lines) / (time.perf_counter() - started)


def emit(settings: Settings, path: Path, n: int) -> float:
    with Producer(settings) as producer:
        started = time.perf_counter()
        with path.open("rb") as lines:
            stats = emit_lines(lines, producer, source_name=str(path))
        elapsed = time.perf_counter() - started
    assert stats.acknowledged == n, stats
    return n / elapsed


def rounds(
    settings: Settings, n: int, count: int, report: Callable[[str], None] = print
) -> list[tuple[float, float]]:
    """(bare, emit) events/s of `count` alternating rounds over the same `n` valid events, into
    a throw-away topic prefix; `report` gets a line per round."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        pairs = []
        with path.open("w") as out:
            for payload in events(n):
                line = json.dumps(payload)
                out.write(line + "\n")
                pairs.append((payload["event_id"].encode(), line.encode()))
        report(f"{n:,} events, {path.stat().st_size / 2**20:.0f} MiB")
        found = []
        with bench_topics(settings) as mine:
            for round_ in range(1, count + 1):
                b = bare(mine, pairs)
                e = emit(mine, path, n)
                found.append((b, e))
                report(
                    f"round {round_}: bare kafka-python {b:,.0f} events/s, frontline emit "
                    f"{e:,.0f} events/s: {e / b:.2f}x"
                )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"CPU yardstick (bench/common.py, lower is faster): {cpu_yardstick():.2f} s")
    ratios = [e / b for b, e in rounds(Settings.from_env(), args.events, args.rounds)]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"emit / bare, median of {args.rounds}: {statistics.median(ratios):.2f}x")
    print(f"max RSS {rss:.0f} MiB; CPU yardstick after: {cpu_yardstick():.2f} s")


if __name__ == "__main__":
    main()
