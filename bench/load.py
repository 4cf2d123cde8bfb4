"""A steady load for freshness measurements, in its own process so that it does not share a
GIL with whoever measures: sends `--rate` synthetic valid events per second for `--seconds`,
in ten slices a second, then stops by itself.

    python -m bench.load --topic T --rate 1000 --seconds 20

After each slice is acknowledged by Kafka (acks=all) it prints one line,
`<time.monotonic() of the acknowledgement> <sampling assists sent so far>`, so a prober in
another process (the same monotonic clock) knows what `totals.sampling_assists` must reach.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from kafka import KafkaProducer

from bench.bench_worker import synthetic

SLICES_PER_S = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--rate", type=int, required=True, help="events per second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    per_slice = max(1, args.rate // SLICES_PER_S)
    slices = max(1, int(args.seconds * SLICES_PER_S))
    # Built before the clock starts: the load is the sending, not the JSON.
    events = synthetic(random.Random(args.seed), per_slice * slices)
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all", linger_ms=5)
    sent_people = 0
    started = time.monotonic()
    try:
        for i in range(slices):
            for _kind, key, value, people in events[i * per_slice : (i + 1) * per_slice]:
                producer.send(args.topic, key=key, value=value)
                sent_people += people
            producer.flush()
            print(f"{time.monotonic():.6f} {sent_people}", flush=True)
            next_at = started + (i + 1) / SLICES_PER_S
            time.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        producer.close()
    behind = time.monotonic() - started - slices / SLICES_PER_S
    if behind > 0.5:  # the rate asked was not the rate sent: say so
        print(f"# fell behind by {behind:.1f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
