"""Dashboard benchmark on the local stack (#14 targets): API latency with many pollers, the
page's first render, and the worker's catch-up rate with and without the dashboard polling.

    .venv/bin/python bench/bench_dashboard.py --prefix wbench.w820ad0. --database frontline_t7

`--database` holds a caught-up campaign (bench_worker.py catchup --simulated 1 --keep leaves
one) whose topics have the prefix `--prefix`.

1. idle: `frontline dashboard` on that database; the page's first render in Debian's chromium
   (cold: the server's first answers; warm: a second page load), then `--pollers` clients that
   each poll /api/totals and a month of /api/daily every second for `--seconds`, sending
   their ETag back: latency p50/p95/p99 per endpoint, and how many got 304.
2. catch-up: the same topics into an empty database (`--scratch`), twice: the worker alone, then
   the worker with the dashboard on that database and the same pollers. Prints both rates, their
   ratio, the latencies while the worker writes, and how far the figures served trailed the
   newest checkpoint (age of X-Frontline-As-Of when served).

Prints figures; asserts nothing (README, "Benchmarks").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_worker import start_worker  # noqa: E402
from bench.common import cpu_yardstick, fresh_database, quantile  # noqa: E402
from projections.database import drop_database  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.worker.lag import partition_lag  # noqa: E402

MONTH = "from=2022-04-01&to=2022-04-30"
ENDPOINTS = {"totals": "/api/totals", "daily (month)": f"/api/daily?{MONTH}"}
PORT = 8097


def quantiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    q = partial(quantile, values)
    return (
        f"p50 {q(0.50):7.1f}  p95 {q(0.95):7.1f}  p99 {q(0.99):7.1f}  max {max(values):7.1f} ms"
        f"  ({len(values)} requests)"
    )


@contextmanager
def dashboard(settings: Settings) -> Iterator[str]:
    env = {**os.environ, **settings.environ()}
    server = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "dashboard", "--port", str(PORT)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{PORT}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", PORT), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("frontline dashboard did not start")
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def first_render(base: str) -> tuple[float, float]:
    """Seconds from the navigation's start to every figure on the page (the page's own clock,
    performance.now()): the first load, right after the server started, then a second."""
    from playwright.sync_api import sync_playwright

    browser_path = subprocess.run(
        [str(ROOT / "deploy" / "browser")], capture_output=True, text=True, check=True
    ).stdout.strip()
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=args)
        for _ in range(2):
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{base}/?lang=zh")
            page.wait_for_selector("body[data-loaded=true]", timeout=120_000)
            shown_ms = page.evaluate("() => Number(document.body.dataset.loadedAfterMs)")
            times.append(shown_ms / 1000)
            page.close()
        browser.close()
    return times[0], times[1]


async def poll(base: str, pollers: int, seconds: float) -> dict[str, list[float]]:
    """Latencies (ms) per endpoint, 304 counts, and the age (ms) of the figures served."""
    out: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    out["age"] = []
    out["304"] = []
    stop_at = time.monotonic() + seconds

    async def poller(session: aiohttp.ClientSession, i: int) -> None:
        etags: dict[str, str] = {}
        await asyncio.sleep(i / pollers)  # spread over the second
        while time.monotonic() < stop_at:
            started = time.monotonic()
            for name, path in ENDPOINTS.items():
                headers = {"If-None-Match": etags[name]} if name in etags else {}
                t0 = time.perf_counter()
                async with session.get(base + path, headers=headers) as response:
                    await response.read()
                    out[name].append((time.perf_counter() - t0) * 1000)
                    etags[name] = response.headers.get("ETag", "")
                    out["304"].append(1.0 if response.status == 304 else 0.0)
                    as_of = response.headers.get("X-Frontline-As-Of")
                    if as_of and not as_of.startswith("1970"):
                        written = datetime.fromisoformat(as_of).timestamp()
                        out["age"].append((time.time() - written) * 1000)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    limits = aiohttp.TCPConnector(limit=pollers * 2)
    async with aiohttp.ClientSession(connector=limits) as session:
        await asyncio.gather(*(poller(session, i) for i in range(pollers)))
    return out


def report(result: dict[str, list[float]]) -> None:
    for name in ENDPOINTS:
        print(f"  {name:14} {quantiles(result[name])}")
    share = sum(result["304"]) / max(1, len(result["304"]))
    print(f"  304 answers    {share:.0%}")


def scratch_settings(base: Settings, database: str) -> Settings:
    return fresh_database(base.model_copy(update={"clickhouse_database": database}))


def catch_up(s: Settings, pollers: int) -> tuple[float, int, dict[str, list[float]] | None]:
    """Seconds for a worker to catch up from empty, the events it covered, and the pollers'
    figures when `pollers` > 0."""
    log = Path(f"/tmp/bench-dashboard-{s.clickhouse_database}.log")
    results: dict[str, list[float]] | None = None
    with dashboard(s) if pollers else _nothing() as base:
        t0 = time.monotonic()
        worker = start_worker(s, log)
        try:
            if base:
                # Poll until the worker is done (the pollers stop on their own clock): in chunks.
                results = {}
                while True:
                    chunk = asyncio.run(poll(base, pollers, 15))
                    for k, v in chunk.items():
                        results.setdefault(k, []).extend(v)
                    if _caught_up(s):
                        break
            else:
                while not _caught_up(s):
                    time.sleep(0.5)
            elapsed = time.monotonic() - t0
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
    covered = sum(r.end_offset - r.begin_offset for r in partition_lag(s))
    return elapsed, covered, results


@contextmanager
def _nothing() -> Iterator[str]:
    yield ""


def _caught_up(s: Settings) -> bool:
    return sum(r.lag for r in partition_lag(s)) == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prefix", required=True, help="topic prefix of the campaign")
    parser.add_argument("--database", required=True, help="a database caught up on it")
    parser.add_argument("--scratch", default=None, help="[default: DATABASE's _t6 sibling]")
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--skip-catchup", action="store_true")
    parser.add_argument("--rounds", type=int, default=2, help="alone / polled pairs")
    args = parser.parse_args()
    env = Settings.from_env()
    live = env.model_copy(
        update={"topic_prefix": args.prefix, "clickhouse_database": args.database}
    )
    print(f"CPU yardstick (bench/common.py, lower is faster): {cpu_yardstick():.2f} s")
    with dashboard(live) as base:
        cold, warm = first_render(base)
        print(
            f"page first render: {cold * 1000:.0f} ms as the server starts, "
            f"{warm * 1000:.0f} ms on a second load"
        )
        print(f"idle worker, {args.pollers} pollers each second for {args.seconds:.0f} s:")
        report(asyncio.run(poll(base, args.pollers, args.seconds)))
    if args.skip_catchup:
        return
    scratch = args.scratch or f"{env.clickhouse_database}_t6"
    alone_rates: list[float] = []
    polled_rates: list[float] = []
    for round_ in range(1, args.rounds + 1):
        s = scratch_settings(live, scratch)
        alone, covered, _ = catch_up(s, 0)
        alone_rates.append(covered / alone)
        print(
            f"round {round_}: catch-up, worker alone: {covered:,} messages in {alone:.1f} s: "
            f"{covered / alone:,.0f}/s"
        )
        s = scratch_settings(live, scratch)
        polled, covered, results = catch_up(s, args.pollers)
        polled_rates.append(covered / polled)
        print(
            f"round {round_}: catch-up with the dashboard and {args.pollers} pollers: "
            f"{covered:,} messages in {polled:.1f} s: {covered / polled:,.0f}/s "
            f"({alone / polled:.2f}x the rate alone)"
        )
        assert results is not None
        report(results)
        print(f"  age of figures served (now - X-Frontline-As-Of): {quantiles(results['age'])}")
    ratio = statistics.median(p / a for p, a in zip(polled_rates, alone_rates, strict=True))
    print(f"catch-up with the dashboard polling / alone, median of {args.rounds}: {ratio:.2f}")
    drop_database(s.clickhouse)
    print(f"CPU yardstick after: {cpu_yardstick():.2f} s")


if __name__ == "__main__":
    main()
