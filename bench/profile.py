"""Where a worker's CPU goes, by stage of the pipeline: py-spy's raw samples (one line per
distinct stack, `frame;frame;... count`) sorted into the stages README "Benchmarks" names.

    python -m bench.profile worker.prof     # a `py-spy record --format raw` file
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

# First match wins, in this order: a stack inside decode_at is decoding even when it was
# called from the projection. Markers are the start of py-spy's `function (file:line)` frame.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("decode: pydantic validation and occurred_at", ("decode_at (",)),
    ("content hash and hash chain (SHA-256)", ("content_hash (", "_link (")),
    ("counters", ("_count (", "Counters.", "indexes (")),
    ("routing check (murmur2, key text)", ("keys_in_place (", "event_key (", "partition_for (")),
    ("seen event ids", ("SeenIds.",)),
    ("projection, the rest", ("project_batch (", "take_flush (")),
    ("ClickHouse writer thread (driver serialization, I/O)", ("OrderedWriter._write",)),
    ("fetch (aiokafka records)", ("BatchFetcher.", "aiokafka/")),
)
OTHER = "the rest (Faust, asyncio, metrics, start-up)"


def stage_of(stack: str) -> str:
    for name, markers in STAGES:
        if any(marker in stack for marker in markers):
            return name
    return OTHER


def stages(raw: str) -> tuple[int, Counter[str]]:
    """(samples, samples per stage) of a py-spy raw profile."""
    out: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        total += int(count)
        out[stage_of(stack)] += int(count)
    return total, out


def table(raw: str) -> str:
    total, out = stages(raw)
    rows = ["| stage | share of samples |", "|---|---|"]
    for name in [*(n for n, _ in STAGES), OTHER]:
        rows.append(f"| {name} | {out[name] / max(1, total):.1%} |")
    rows.append(f"| (samples) | {total:,} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table(Path(sys.argv[1]).read_text()))
