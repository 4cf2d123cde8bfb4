"""Simulator throughput: prints lines/s, wall time, peak RSS, and the scale-1 estimate.

    .venv/bin/python bench/bench_simulate.py [--scale 0.1] [--keep DIR]

Target: the scale-1 campaign (~5.7 M lines) in under 3 minutes. `--scale 1` runs it for real.
Peak RSS is the whole process (Python + pydantic), measured after the run.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from events.simulator import simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--keep", type=Path, help="write the files here instead of a temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        out, expect = folder / "events.jsonl", folder / "expected.json"
        started = time.perf_counter()
        document = simulate(
            scenario_name="liaocheng-2022", scale=args.scale, seed=args.seed, out=out, expect=expect
        )
        seconds = time.perf_counter() - started
        size = out.stat().st_size
    lines = document["meta"]["lines"]
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scale {args.scale}: {lines:,} lines, {size / 2**20:,.0f} MiB in {seconds:.1f} s")
    print(f"{lines / seconds:,.0f} lines/s; peak RSS {rss_mib:,.0f} MiB")
    if args.scale != 1:
        print(f"scale 1 estimate: {seconds / args.scale:.0f} s (target < 180 s)")
    totals = document["totals"]
    print(
        "totals: " + ", ".join(f"{k}={v:,}" for k, v in totals.items() if k not in {"open_shifts"})
    )


if __name__ == "__main__":
    main()
