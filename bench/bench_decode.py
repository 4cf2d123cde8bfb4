"""Decode + validate throughput of `events.decode` on one core: prints events/s (target 150,000).

    .venv/bin/python bench/bench_decode.py [--events 300000]

The input is a simulated campaign (all six types in the campaign's mix, ~330 bytes each);
only lines that decode are timed (0.2 % of them are pilot v0 events, upcast on a slower path).
"batch" passes one `received_at` for the whole batch, as a consumer does with its poll time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import ValidationError

from events import Rejected, decode
from events.decode import EVENT_ADAPTER
from events.simulator import simulate


def _lines(count: int) -> list[bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "events.jsonl"
        simulate(scenario_name="liaocheng-2022", scale=0.05, seed=1, out=out)
        lines = []
        for line in out.read_bytes().splitlines():
            try:
                decode(line)
            except Rejected:
                continue
            lines.append(line)
    return (lines * (count // len(lines) + 1))[:count]


def _rate(label: str, lines: list[bytes], run: Callable[[list[bytes]], None]) -> float:
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        run(lines)
        best = max(best, len(lines) / (time.perf_counter() - started))
    print(f"{label:<34} {best:>10,.0f} events/s")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300_000)
    args = parser.parse_args()
    lines = _lines(args.events)
    size = sum(map(len, lines)) / len(lines)
    print(f"{len(lines):,} accepted events, {size:.0f} bytes on average; best of 3 runs")

    def plain(batch: list[bytes]) -> None:
        for raw in batch:
            decode(raw)

    def batched(batch: list[bytes]) -> None:
        now = datetime.now(UTC)
        for raw in batch:
            decode(raw, received_at=now)

    def pydantic_only(batch: list[bytes]) -> None:
        validate = EVENT_ADAPTER.validate_json
        for raw in batch:
            with suppress(ValidationError):  # pilot v0 events: decode() upcasts them
                validate(raw)

    _rate("pydantic validate_json (baseline)", lines, pydantic_only)
    _rate("decode()", lines, plain)
    rate = _rate("decode(received_at=batch time)", lines, batched)
    print(f"target 150,000 events/s: {'met' if rate >= 150_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
