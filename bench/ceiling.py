"""The ceiling: how fast this box hands a topic's messages to Python at all, with nothing done
to them, and with only `json.loads`. Each reader runs in its own process (the suite reads its
CPU time), consumes the topic from its start to `--total` messages and prints one JSON line.

    python -m bench.ceiling --how aiokafka|kafka-python|json --topic T --total N
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

from kafka import KafkaConsumer

HOW = ("aiokafka", "kafka-python", "json")


async def _aiokafka(bootstrap: str, topic: str, total: int, parse: bool) -> float:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"ceiling-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 2**20,  # as the worker's fetcher
    )
    await consumer.start()
    loads = json.loads
    n, first = 0, 0.0
    try:
        while n < total:
            got = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if got and not first:
                first = time.monotonic()
            for records in got.values():
                n += len(records)
                if parse:
                    for r in records:
                        loads(r.value)
    finally:
        await consumer.stop()
    return first


def _kafka_python(bootstrap: str, topic: str, total: int) -> float:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"ceiling-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 2**20,
    )
    n, first = 0, 0.0
    try:
        while n < total:
            got = consumer.poll(timeout_ms=1000, max_records=5000)
            if got and not first:
                first = time.monotonic()
            n += sum(len(records) for records in got.values())
    finally:
        consumer.close()
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--how", choices=HOW, required=True)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--total", type=int, required=True)
    args = parser.parse_args()
    started = time.monotonic()
    if args.how == "kafka-python":
        first = _kafka_python(args.bootstrap, args.topic, args.total)
    else:
        first = asyncio.run(
            _aiokafka(args.bootstrap, args.topic, args.total, parse=args.how == "json")
        )
    done = time.monotonic()
    print(json.dumps({"from_start_s": done - started, "from_first_s": done - first}))


if __name__ == "__main__":
    main()
