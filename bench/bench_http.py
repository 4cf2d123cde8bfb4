"""HTTP ingest throughput and latency: 8 clients posting batches of 100 (target >= 5,000
events/s, p99 <= 250 ms).

    .venv/bin/python bench/bench_http.py [--clients 8] [--batch 100] [--seconds 20]

Starts `frontline serve` as its own process on a free port with throw-away topics and a token
per client, then posts pre-built batches of valid events as fast as the server answers. Every
202 means Kafka acknowledged (acks=all) the batch. Prints events/s and response-time
percentiles; the topics are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_topics, events
from streams.ingest.tokens import TokenStore
from streams.settings import ENV, Settings

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def client(
    url: str, token: str, bodies: list[bytes], until: float, latencies: list[float]
) -> int:
    sent = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as session:
        i = 0
        while time.perf_counter() < until:
            body = bodies[i % len(bodies)]
            i += 1
            started = time.perf_counter()
            async with session.post(url, data=body) as response:
                await response.read()
                if response.status != 202:
                    raise RuntimeError(f"HTTP {response.status}: {await response.text()}")
            latencies.append(time.perf_counter() - started)
            sent += 1
    return sent


async def wait_up(url: str, timeout_s: float = 30) -> None:
    deadline = time.perf_counter() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.perf_counter() > deadline:
                raise RuntimeError("frontline serve did not come up")
            await asyncio.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()

    # Each batch belongs to one org, as a device's would.
    payloads = list(events(args.clients * 50 * args.batch))
    with tempfile.TemporaryDirectory() as tmp, bench_topics(Settings.from_env()) as settings:
        store = TokenStore(Path(tmp) / "tokens.json")
        tokens, bodies = [], []
        for c in range(args.clients):
            org = f"org-{c:04d}"
            tokens.append(store.create(f"bench-device-{c}", org))
            mine = payloads[c * 50 * args.batch : (c + 1) * 50 * args.batch]
            for p in mine:
                p["org_id"] = org
            bodies.append(
                [
                    json.dumps(mine[i : i + args.batch]).encode()
                    for i in range(0, len(mine), args.batch)
                ]
            )
        port = free_port()
        env = {
            **os.environ,
            ENV["topic_prefix"]: settings.topic_prefix,
            ENV["http_port"]: str(port),
            ENV["token_file"]: str(store.path),
            ENV["ingest_rate_limit"]: "100000",
        }
        server = subprocess.Popen(
            [str(REPO / ".venv/bin/frontline"), "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(wait_up(f"{base}/healthz"))
            latencies: list[float] = []

            async def run(seconds: float) -> int:
                until = time.perf_counter() + seconds
                counts = await asyncio.gather(
                    *(
                        client(f"{base}/v1/events", tokens[c], bodies[c], until, latencies)
                        for c in range(args.clients)
                    )
                )
                return sum(counts)

            asyncio.run(run(2))  # warm-up: connections, producer, JIT of the broker
            latencies.clear()
            started = time.perf_counter()
            requests = asyncio.run(run(args.seconds))
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(30)
    q = statistics.quantiles(latencies, n=100)
    print(
        f"http: {args.clients} clients x batches of {args.batch}: {requests:,} requests in "
        f"{elapsed:.1f} s = {requests * args.batch / elapsed:,.0f} events/s; response "
        f"p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
