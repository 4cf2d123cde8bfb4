"""Shared by the benchmarks: realistic valid events, a throw-away topic prefix, and a yardstick
for how fast this machine's CPU is right now."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kafka.admin import KafkaAdminClient

from projections import migrate
from projections.database import create_database, drop_database
from streams.settings import Settings
from streams.topic_admin import ensure

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "valid"
# Roughly the campaign's mix: sampling assists dominate, then shifts, then calls.
MIX = {
    "sampling_assisted": 55,
    "volunteer_checked_in": 15,
    "volunteer_checked_out": 15,
    "tracing_call_recorded": 10,
    "disinfection_completed": 4,
    "donation_received": 1,
}


def events(n: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """`n` valid events of every type, over 200 orgs and 70,000 volunteers."""
    rng = random.Random(seed)
    templates = {
        name: json.loads((FIXTURES / f"{name}.json").read_text())["payload"] for name in MIX
    }
    names = rng.choices(list(MIX), weights=list(MIX.values()), k=n)
    for name in names:
        payload = dict(templates[name])
        org = rng.randrange(200)
        payload["event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        payload["org_id"] = f"org-{org:04d}"
        payload["team_id"] = f"team-{org:04d}-{rng.randrange(17):02d}"
        payload["volunteer_id"] = f"vol-{rng.randrange(70_000):06d}"
        yield payload


@contextmanager
def bench_topics(settings: Settings) -> Iterator[Settings]:
    """Settings with a fresh topic prefix whose topics exist; deleted afterwards."""
    mine = settings.model_copy(update={"topic_prefix": f"bench.{uuid.uuid4().hex[:8]}."})
    ensure(mine)
    try:
        yield mine
    finally:
        delete_topics(mine)


def delete_topics(settings: Settings) -> None:
    """Delete every topic of `settings`' prefix."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


def fresh_database(settings: Settings) -> Settings:
    """`settings`' database dropped, created again and migrated: empty projections."""
    drop_database(settings.clickhouse)
    create_database(settings.clickhouse)
    migrate.apply(settings.clickhouse)
    return settings


def quantile(values: Sequence[float], q: float) -> float:
    """The `q` quantile of `values` (nearest rank from below); NaN for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def cpu_yardstick() -> float:
    """Seconds for a fixed pure-Python loop (20 M additions). The development VM's CPU speed
    drifts within minutes with no steal time reported (this loop: 0.71-0.96 s over one
    session; the same loop under another interpreter 1.45-2.36 s back to back), so
    benchmarks print it next to their figures."""
    start = time.perf_counter()
    total = 0
    for i in range(20_000_000):
        total += i
    return time.perf_counter() - start
