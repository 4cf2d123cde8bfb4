"""Worker benchmarks on the local stack: catch-up throughput, freshness, memory.

    .venv/bin/python bench/bench_worker.py catchup --events 1000000
    .venv/bin/python bench/bench_worker.py freshness --rate 1000 --seconds 60

catchup: produces N synthetic valid events (the campaign's mix: ~92 % sampling, ids spread
like the scale-1 campaign: 210 orgs, 3,485 teams, 71,500 volunteers, 52 days), or with
--simulated SCALE the simulator's campaign through `frontline emit`, into a fresh topic
prefix; starts one `frontline worker` and times it from start to every partition's checkpoint
covering the log (Kafka -> ClickHouse, counts checked against what was produced).
It prints events/s and the worker's peak RSS.

freshness: with a worker running and caught up, produces at a steady rate and, for a sample
of events, measures the time from Kafka's acknowledgement to the event being counted in
`totals` (polling the view). Prints p50/p99.

Both print figures; neither asserts a target (README, "Benchmarks").
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import cpu_yardstick, fresh_database, quantile  # noqa: E402
from bench.procs import peak_rss_mib  # noqa: E402
from projections.database import drop_database  # noqa: E402
from streams import topic_admin  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.topics import events_topic  # noqa: E402
from streams.worker.lag import partition_lag  # noqa: E402

START = datetime(2022, 3, 14, tzinfo=UTC)


def synthetic(rng: random.Random, n: int) -> list[tuple[str, bytes, bytes, int]]:
    """(type, key, value, people) for n valid events with the campaign's mix."""
    out = []
    for i in range(n):
        vol = f"vol-{rng.randrange(71_500):06d}"
        org = rng.randrange(210)
        at = START + timedelta(seconds=rng.randrange(52 * 86400))
        r = rng.random()
        base = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "schema_version": 1,
            "occurred_at": at.isoformat(),
            "org_id": f"org-{org:04d}",
            "team_id": f"team-{org:04d}-{rng.randrange(16):02d}",
            "volunteer_id": vol,
            "source": "bench:1",
        }
        people = 0
        if r < 0.92:
            people = 1 + rng.randrange(3)
            base |= {
                "type": "sampling.assisted",
                "data": {
                    "site_id": f"site-{rng.randrange(900):04d}",
                    "people_assisted": people,
                    "assist_kind": "registration",
                },
            }
        elif r < 0.93:
            base |= {
                "type": "tracing.call_recorded",
                "data": {
                    "contact_ref": "ab" * 32,
                    "started_at": at.isoformat(),
                    "duration_s": 120,
                    "outcome": "reached",
                },
            }
        elif r < 0.96:
            base |= {
                "type": "volunteer.checked_in",
                "data": {
                    "shift_id": f"sh-{i}",
                    "site_id": "site-0001",
                    "activity": "sampling_support",
                },
            }
        elif r < 0.99:
            base |= {
                "type": "disinfection.completed",
                "data": {"site_id": "site-0002", "area_m2": 300, "floors": 6},
            }
        else:
            base |= {
                "type": "donation.received",
                "data": {"amount_fen": 10_000, "donor_kind": "individual"},
            }
        # Key = event_id: Kafka's default partitioner puts it where the worker expects it.
        key = str(base["event_id"]).encode()
        out.append((str(base["type"]), key, json.dumps(base).encode(), people))
    return out


def fresh_settings(tag: str, prefix: str | None = None) -> Settings:
    """A fresh deployment: new topics, and the stack's last test database, emptied (the
    writer may reach only the databases the stack lists)."""
    env = Settings.from_env()
    s = env.model_copy(
        update={
            "topic_prefix": prefix or f"wbench.{tag}.",
            "clickhouse_database": f"{env.clickhouse_database}_t7",
        }
    )
    fresh_database(s)
    topic_admin.ensure(s)
    return s


def produce(settings: Settings, events: list[tuple[str, bytes, bytes, int]]) -> None:
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=20,
        batch_size=512 * 1024,
        compression_type="lz4",
        max_in_flight_requests_per_connection=5,
    )
    for _kind, key, value, _ in events:
        producer.send(events_topic(settings), key=key, value=value)
    producer.flush()
    producer.close()


def start_worker(
    settings: Settings, log: Path, extra: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings.environ()}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "warning", *extra],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def simulated(s: Settings, scale: float) -> tuple[int, dict[str, Any]]:
    """Simulate the campaign at `scale` and emit it; (events on the topics, expected totals)."""
    out, expect = Path(f"/tmp/bench-sim-{scale}.jsonl"), Path(f"/tmp/bench-sim-{scale}.json")
    env = {**os.environ, **s.environ()}
    cli = [sys.executable, "-m", "streams.cli"]
    sim = ["simulate", "--scale", str(scale), "--out", str(out), "--expect", str(expect)]
    subprocess.run([*cli, *sim], env=env, check=True, cwd=ROOT)
    emit = ["emit", str(out), "--allow-rejects", "--quiet"]
    subprocess.run([*cli, *emit], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    meta = json.loads(expect.read_text())
    return meta["meta"]["lines"] - meta["meta"]["invalid"], meta["totals"]


def catchup(
    n: int,
    scale: float | None,
    reuse: str | None,
    worker_args: Sequence[str] = (),
    keep: bool = False,
) -> None:
    tag = "w" + uuid.uuid4().hex[:6]
    s = fresh_settings(tag, reuse)
    t0 = time.monotonic()
    if reuse and scale is not None:
        # Topics filled by an earlier --simulated run: a new database is a new consumer group.
        meta = json.loads(Path(f"/tmp/bench-sim-{scale}.json").read_text())
        n = meta["meta"]["lines"] - meta["meta"]["invalid"]
        expected = meta["totals"]
    elif scale is None:
        events = synthetic(random.Random(7), n)
        produce(s, events)
        expected = {"sampling_assists": sum(p for _, _, _, p in events)}
    else:
        n, expected = simulated(s, scale)
    print(f"put {n} events on the topics in {time.monotonic() - t0:.1f} s")
    before = cpu_yardstick()
    log = Path(f"/tmp/bench-worker-{tag}.log")
    t0 = time.monotonic()
    worker = start_worker(s, log, worker_args)
    peak = 0.0
    try:
        while True:
            time.sleep(0.5)
            peak = max(peak, peak_rss_mib(worker.pid)) if worker.poll() is None else peak
            if worker.poll() is not None:
                sys.exit(f"worker exited: {log.read_text()[-2000:]}")
            if sum(r.lag for r in partition_lag(s)) == 0:
                break
        elapsed = time.monotonic() - t0
        peak = max(peak, peak_rss_mib(worker.pid))
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
    rows, columns = s.clickhouse.client().execute("SELECT * FROM totals", with_column_types=True)
    got = dict(zip((name for name, _ in columns), rows[0], strict=True))
    # The simulator's expected.json has every column; the synthetic events only their sum.
    differ = [f"{k} {got[k]} (expected {v})" for k, v in expected.items() if got[k] != v]
    print(
        f"worker caught up {n} events in {elapsed:.1f} s (incl. start-up): "
        f"{n / elapsed:,.0f} events/s"
    )
    print(f"peak worker RSS: {peak:.0f} MiB")
    checked = ", ".join(expected) if len(expected) < 3 else f"all {len(expected)} columns"
    print(f"totals, {checked}: {'exact' if not differ else 'MISMATCH: ' + '; '.join(differ)}")
    print(
        f"CPU yardstick (bench/common.py, lower is faster): {before:.2f} s before, "
        f"{cpu_yardstick():.2f} s after"
    )
    if keep:  # for bench/bench_audit.py
        print(f"kept: --prefix {s.topic_prefix} --database {s.clickhouse_database}")
        return
    drop_database(s.clickhouse)


def freshness(rate: int, seconds: int, worker_args: Sequence[str] = ()) -> None:
    tag = "w" + uuid.uuid4().hex[:6]
    s = fresh_settings(tag)
    log = Path(f"/tmp/bench-fresh-{tag}.log")
    worker = start_worker(s, log, worker_args)
    client = s.dashboard.client()
    producer = KafkaProducer(bootstrap_servers=s.bootstrap_servers, acks="all", linger_ms=0)
    rng = random.Random(11)
    delays: list[float] = []
    try:
        # Warm-up: the worker joins the group and loads its (empty) state.
        for _kind, key, value, _ in synthetic(rng, 10):
            producer.send(events_topic(s), key=key, value=value)
        producer.flush()
        while sum(r.lag for r in partition_lag(s)) != 0:
            time.sleep(0.2)
        (base,) = client.execute("SELECT sampling_assists FROM totals")[0]
        stop = time.monotonic() + seconds
        expected = base
        sent = 0
        while time.monotonic() < stop:
            tick = time.monotonic()
            batch = synthetic(rng, rate // 10)
            for _kind, key, value, people in batch:
                producer.send(events_topic(s), key=key, value=value)
                expected += people
            producer.flush()  # acknowledged by Kafka (acks=all) from here
            acked = time.monotonic()
            sent += len(batch)
            if sent % (rate * 2) < rate // 10:  # probe every ~2 s
                while client.execute("SELECT sampling_assists FROM totals")[0][0] < expected:
                    time.sleep(0.01)
                delays.append(time.monotonic() - acked)
            time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
        producer.close()
    print(
        f"{rate} events/s for {seconds} s; {len(delays)} probes of ack -> visible in totals: "
        f"p50 {quantile(delays, 0.5) * 1000:.0f} ms, p99 {quantile(delays, 0.99) * 1000:.0f} ms, "
        f"max {max(delays) * 1000:.0f} ms"
    )
    drop_database(s.clickhouse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("catchup")
    c.add_argument("--events", type=int, default=500_000, help="synthetic, article cardinalities")
    c.add_argument("--simulated", type=float, help="instead: the simulated campaign at this scale")
    c.add_argument("--reuse", metavar="PREFIX", help="with --simulated: topics already filled")
    c.add_argument("--keep", action="store_true", help="keep the database (bench_audit.py)")
    f = sub.add_parser("freshness")
    f.add_argument("--rate", type=int, default=1000)
    f.add_argument("--seconds", type=int, default=60)
    for p in (c, f):
        p.add_argument(
            "--worker-args",
            default="",
            help='options for `frontline worker`, e.g. "--batch 10000 --write-max 40000"',
        )
    args = parser.parse_args()
    extra = shlex.split(args.worker_args)
    if args.cmd == "catchup":
        catchup(args.events, args.simulated, args.reuse, extra, args.keep)
    else:
        freshness(args.rate, args.seconds, extra)


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
