"""`make bench` keeps working: the whole suite at a tiny scale, on the real stack. Its figures
are not judged here (benchmarks never assert timings); what is checked is that every phase ran
to the end offsets, produced numbers, and that Frontline's counts were exact in it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from projections.database import list_databases
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PHASES = (
    *("ceiling aiokafka", "ceiling kafka-python", "ceiling json", "peer"),
    *("catch-up 1", "replay", "replay 2", "catch-up 2"),
)


def test_bench_suite_runs_every_phase_at_a_tiny_scale(
    stack_settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "benchmarks.md"
    cmd = [sys.executable, "-m", "bench", "--scale", "0.002", "--seconds", "3"]
    cmd += ["--emit-events", "3000", "--pollers", "2", "--api-seconds", "2", "--http-seconds", "2"]
    cmd += ["--profile", "--out", str(out), "--work", str(tmp_path)]
    done = subprocess.run(
        cmd, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    text = out.read_text()
    for phase in PHASES:
        # | name | messages | seconds | msg/s | CPU us/msg | ...
        found = re.search(
            rf"^\| {phase} \| ([\d,]+) \| ([\d.]+) \| ([\d,]+) \| ([\d.]+) \|", text, re.M
        )
        assert found, f"no figures for {phase!r} in:\n{text}"
        messages, _, rate, cpu = found.groups()
        assert int(messages.replace(",", "")) > 10_000, found.group(0)
        assert float(cpu) > 0, found.group(0)
        assert int(rate.replace(",", "")) > 0, found.group(0)
    for workers in (1, 2):  # Frontline's totals equal the oracle's in every column
        exact = rf"^\| catch-up {workers} \|.*\| exact, all 14 columns \|$"
        assert re.search(exact, text, re.M), text
    rows = {
        "catch-up, 1 worker": r"\d\.\d\dx \| \d+\.\d\dx",  # against the ceiling and the peer
        "freshness at 100/s": r"p99 \d+\.\d\d s",
        "freshness at 1000/s": r"p99 \d+\.\d\d s \|.*p99 \d+\.\d\d s",  # and the peer's
        "freshness at 5000/s": r"p99 \d+\.\d\d s",
        "emit": r"\d\.\d\dx bare",
    }
    for figure, shape in rows.items():
        assert re.search(rf"^\| {figure}.*{shape}", text, re.M), f"{figure!r} row in:\n{text}"
    samples = re.search(r"^\| \(samples\) \| ([\d,]+) \|$", text, re.M)  # --profile's table
    assert samples, text
    assert int(samples.group(1).replace(",", "")) > 0
    assert "peer (Kafka engine)" in text
    assert "sampling_assists" in text
    # It cleaned up after itself: no bench topics or databases left.
    left = [
        d
        for d in list_databases(stack_settings.clickhouse)
        if d.endswith(("_t3", "_t4", "_t6", "_t7"))
    ]
    assert left == []
