"""How fast can messages reach Python code at all? Faust topic agent vs aiokafka getmany.

    .venv/bin/python bench/bench_faust_ceiling.py --events 300000

Puts N synthetic events on a fresh topic prefix (or reads --prefix's topics), then, each in its
own process and consumer group, reads them all:

- faust: an agent on the five event topics with `stream.take_events(5000, within=0.2)` that
  does nothing with the events;
- aiokafka: `getmany(max_records=5000)` in a loop.

This is why the worker fetches batches itself (streams/worker/fetcher.py). Prints messages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_worker import fresh_settings, produce, synthetic  # noqa: E402
from projections.database import drop_database  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.topics import events_topic  # noqa: E402


def _topics(prefix: str) -> list[str]:
    s = Settings.from_env().model_copy(update={"topic_prefix": prefix})
    return [events_topic(s)]


def run_faust(prefix: str, total: int) -> None:
    import faust

    app = faust.App(
        f"ceiling-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{Settings.from_env().bootstrap_servers[0]}",
        store="memory://",
        web_enabled=False,
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=20_000,
        datadir=f"/tmp/bench-faust-ceiling-{os.getpid()}",
        logging_config=None,
    )
    source = app.topic(*_topics(prefix), value_serializer="raw", key_serializer="raw")
    seen = {"n": 0, "t0": 0.0}

    @app.agent(source, concurrency=1)
    async def drain(stream):  # type: ignore[no-untyped-def]
        async for batch in stream.take_events(5000, within=0.2):
            if seen["n"] == 0:
                seen["t0"] = time.monotonic()
            seen["n"] += len(batch)
            if seen["n"] >= total:
                elapsed = time.monotonic() - seen["t0"]
                print(f"faust topic agent: {seen['n'] / elapsed:,.0f} messages/s", flush=True)
                os._exit(0)
            yield None

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()


async def run_aiokafka(prefix: str, total: int) -> None:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *_topics(prefix),
        bootstrap_servers=Settings.from_env().bootstrap_servers,
        group_id=f"ceiling-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    n, t0 = 0, 0.0
    while n < total:
        got = await consumer.getmany(timeout_ms=1000, max_records=5000)
        if got and n == 0:
            t0 = time.monotonic()
        n += sum(len(records) for records in got.values())
    print(f"aiokafka getmany:  {n / (time.monotonic() - t0):,.0f} messages/s", flush=True)
    await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--prefix", help="read these topics instead of producing new ones")
    parser.add_argument("--only", choices=["faust", "aiokafka"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only == "faust":
        run_faust(args.prefix, args.events)
        return
    if args.only == "aiokafka":
        asyncio.run(run_aiokafka(args.prefix, args.events))
        return
    prefix = args.prefix
    if prefix is None:
        settings = fresh_settings("c" + uuid.uuid4().hex[:6])
        drop_database(settings.clickhouse)  # only the topics are needed
        prefix = settings.topic_prefix
        produce(settings, synthetic(random.Random(7), args.events))
    for which in ("aiokafka", "faust"):
        cmd = [sys.executable, __file__, "--only", which, "--prefix", prefix]
        subprocess.run([*cmd, "--events", str(args.events)], check=True, timeout=900)


if __name__ == "__main__":
    main()
