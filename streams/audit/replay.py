"""`frontline replay --into DATABASE`: rebuild every projection from the event topic.

The same code as the live worker from the fetched message on (`streams.worker.pipeline`: the
projection, the write order, the checkpoints), fed by a consumer of its own that belongs to no
group, so the live worker goes on undisturbed. What it reads is fixed when it starts (the plan:
per partition, the first offset and the end offset, kept in the rebuilt database); started again
after an interruption, it reads the plan back and resumes from the rebuilt database's
checkpoints, as a restarted worker does: nothing is counted twice and the end is the same.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from clickhouse_driver.errors import ServerException
from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition

from projections import migrate
from projections.database import create_database
from projections.projection import Record
from projections.replays import (
    PartitionPlan,
    ReplayPlan,
    has_checkpoints,
    read_plan,
    write_plan,
)
from projections.store import StateStore
from streams.audit import REPLAY_WRITE_MAX
from streams.collector import tune_gc
from streams.kafka_security import aiokafka_options, kafka_python_options
from streams.settings import ENV, ConfigError, Settings, check_kafka_reachable
from streams.topics import events_topic
from streams.worker.pipeline import BatchStats, Pipeline
from streams.worker.reader import KafkaMessageReader

DATABASE_ACCESS_DENIED = 291  # ClickHouse's code, as in streams.cli.errors


@dataclass(frozen=True)
class ReplayRequest:
    into: str  # the database to rebuild in
    from_ms: int = 0  # Kafka timestamp of the first event (0: each partition's first offset)
    to_ms: int = 0  # Kafka timestamp where it stops (0: the end offsets as of now)
    org_id: str = ""  # only this organisation's events count ("": all)


@dataclass
class ReplayResult:
    plan: ReplayPlan
    resumed_at: int  # messages already replayed by an earlier, interrupted run
    stats: BatchStats
    elapsed_s: float


class Progress(Protocol):
    def start(self, total: int, done: int) -> None: ...
    def advance(self, messages: int) -> None: ...


class _Silent:
    def start(self, total: int, done: int) -> None:
        pass

    def advance(self, messages: int) -> None:
        pass


class _NotSent:
    """The live worker sent the dead letters already; a replay records them in `uncounted`
    (code and offset) and sends none again."""

    async def send(self, records: list[bytes]) -> None:
        pass


def target_settings(settings: Settings, into: str) -> Settings:
    if into == settings.clickhouse_database:
        raise ConfigError(
            f"--into {into} is the live database ({ENV['clickhouse_database']}); replay "
            f"into another one, e.g. {settings.clickhouse_database}_audit"
        )
    return settings.model_copy(update={"clickhouse_database": into})


def plan_replay(settings: Settings, request: ReplayRequest) -> ReplayPlan:
    """Per partition: the first offset at or after --from, and the end: the first offset at or
    after --to, else the end offset now."""
    check_kafka_reachable(settings, timeout=2.0)
    topic = events_topic(settings)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, **kafka_python_options(settings)
    )
    try:
        numbers = sorted(consumer.partitions_for_topic(topic) or ())
        if not numbers:
            raise ConfigError(
                f"topic {topic} does not exist: check FRONTLINE_TOPIC_PREFIX (nothing to replay)"
            )
        tps = [KafkaTopicPartition(topic, p) for p in numbers]
        begins = consumer.beginning_offsets(tps)
        ends = consumer.end_offsets(tps)
        starts, stops = dict(begins), dict(ends)
        if request.from_ms:
            found = consumer.offsets_for_times({tp: request.from_ms for tp in tps})
            starts = {tp: ends[tp] if f is None else f.offset for tp, f in found.items()}
        if request.to_ms:
            found = consumer.offsets_for_times({tp: request.to_ms for tp in tps})
            stops = {tp: ends[tp] if f is None else f.offset for tp, f in found.items()}
    finally:
        consumer.close()
    return ReplayPlan(
        tuple(
            PartitionPlan(topic, tp.partition, starts[tp], max(stops[tp], starts[tp])) for tp in tps
        ),
        from_ms=request.from_ms,
        to_ms=request.to_ms,
        org_id=request.org_id,
        planned_at_ms=int(time.time() * 1000),
    )


def prepare_replay(settings: Settings, request: ReplayRequest) -> tuple[Settings, ReplayPlan]:
    """Create and migrate the database, and plan the replay or read back the plan of an
    interrupted one with the same request."""
    into = target_settings(settings, request.into)
    try:
        create_database(into.clickhouse)
    except ServerException as exc:
        if int(exc.code) != DATABASE_ACCESS_DENIED:
            raise
        raise ConfigError(
            f"ClickHouse does not let {into.clickhouse.user} use database {request.into}: list "
            "it in FRONTLINE_CLICKHOUSE_DATABASES (the local stack: then deploy/stack up; it "
            f"lists {settings.clickhouse_database}_audit and _replay already)"
        ) from None
    migrate.apply(into.clickhouse, auto_close_s=int(settings.auto_close_hours * 3600))
    client = into.clickhouse.client()
    try:
        earlier = read_plan(client)
        wanted = plan_replay(settings, request)
        if earlier is None:
            if has_checkpoints(client):
                raise ConfigError(
                    f"database {request.into} holds a worker's projection, not a replay: "
                    "replay into a new database (or drop this one first)"
                )
            write_plan(client, wanted)
            return into, wanted
        if not earlier.same_request(wanted):
            theirs, ours = _topics(earlier), _topics(wanted)
            raise ConfigError(
                f"database {request.into} holds a replay of {_describe(earlier)}"
                + (f"; this one is of {ours}" if ours != theirs else "")
                + ": resume it with the same topic prefix and --from/--to/--org, or replay "
                "into a new database"
            )
        return into, earlier
    finally:
        client.disconnect()


def _topics(plan: ReplayPlan) -> str:
    return ", ".join(sorted({p.topic for p in plan.partitions}))


def _describe(plan: ReplayPlan) -> str:
    start = f"from {plan.from_ms} ms" if plan.from_ms else "from the beginning"
    end = f"to {plan.to_ms} ms" if plan.to_ms else "to the end"
    org = f"org {plan.org_id}" if plan.org_id else "every org"
    return f"{_topics(plan)} {start}, {end}, {org}"


def replay(
    settings: Settings,
    request: ReplayRequest,
    progress: Progress | None = None,
    on_plan: Callable[[ReplayPlan, bool], None] = lambda plan, resumed: None,
    *,
    batch_max: int = 5000,
    write_max: int = REPLAY_WRITE_MAX,
    processes: int = 1,
) -> ReplayResult:
    """Run (or resume) a replay to the end of its plan; with `processes` > 1, its partitions
    are shared among that many processes (streams.audit.parallel)."""
    into, plan = prepare_replay(settings, request)
    started = time.monotonic()
    if processes > 1 and len(plan.partitions) > 1:
        from streams.audit.parallel import run_in_processes

        stats, resumed_at = run_in_processes(
            settings, into, plan, progress or _Silent(), on_plan, batch_max, write_max, processes
        )
        return ReplayResult(plan, resumed_at, stats, time.monotonic() - started)
    tune_gc()  # the worker's collector thresholds: the same work, the same garbage
    result = asyncio.run(
        _run(settings, into, plan, progress or _Silent(), on_plan, batch_max, write_max)
    )
    result.elapsed_s = time.monotonic() - started
    return result


def replay_partitions(
    source: Settings,
    into: Settings,
    plan: ReplayPlan,
    only: frozenset[int],
    progress: Progress,
    batch_max: int,
    write_max: int,
) -> BatchStats:
    """One process's share of a replay: the plan's partitions numbered in `only`."""
    tune_gc()
    result = asyncio.run(
        _run(source, into, plan, progress, lambda p, r: None, batch_max, write_max, only)
    )
    return result.stats


async def _run(
    source: Settings,
    into: Settings,
    plan: ReplayPlan,
    progress: Progress,
    on_plan: Callable[[ReplayPlan, bool], None],
    batch_max: int,
    write_max: int,
    only: frozenset[int] | None = None,
) -> ReplayResult:
    store = StateStore(into.clickhouse)
    # The topic's partition count, whatever share of them this process replays: where an
    # event_id belongs.
    counts = {p.topic: len(plan.partitions) for p in plan.partitions}
    pipeline = Pipeline(
        store,
        _NotSent(),
        write_max=write_max,
        partitions=counts.__getitem__,
        reader=KafkaMessageReader(source),
    )
    remaining: dict[TopicPartition, int] = {}
    resumed_at = 0
    for p in plan.partitions:
        if only is not None and p.partition not in only:
            continue
        state = await pipeline.writer.run(
            f"load of {p.topic}[{p.partition}]",
            lambda p=p: store.load(p.topic, p.partition),  # type: ignore[misc]
        )
        state.partitions = counts[p.topic]
        state.only_org = plan.org_id or None
        if state.applied < p.start - 1:  # nothing replayed yet: it starts at --from
            state.applied = state.checkpoint = p.start - 1
        else:  # resumed: a write cut short by the interruption is replayed again from Kafka
            state = await pipeline.load_checked(state, first=p.start)
        pipeline.states[(p.topic, p.partition)] = state
        resumed_at += p.covered(state.applied)
        if state.applied + 1 < p.end:
            remaining[TopicPartition(p.topic, p.partition)] = p.end
    on_plan(plan, resumed_at > 0)
    progress.start(plan.size, resumed_at)
    if not remaining:  # finished before: nothing to read
        store.reset()
        return ReplayResult(plan, resumed_at, pipeline.totals, 0.0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=source.bootstrap_servers,
        **aiokafka_options(source),
        group_id=None,  # no group: the live worker's partitions stay where they are
        enable_auto_commit=False,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=2 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.assign(list(remaining))
        for tp in remaining:
            consumer.seek(tp, pipeline.states[(tp.topic, tp.partition)].applied + 1)
        seq = 0
        while remaining:
            got = await consumer.getmany(timeout_ms=1000, max_records=batch_max)
            batch: list[Record] = []
            for tp, records in got.items():
                end = remaining.get(tp)
                if end is not None:
                    batch.extend(r for r in records if r.offset < end)
            for tp, end in list(remaining.items()):
                # Past the end, or at it: an end offset may follow a transaction marker, which
                # takes an offset but is never returned as a record.
                if await consumer.position(tp) >= end:
                    del remaining[tp]
                    consumer.pause(tp)
            if batch:
                seq += 1
                await pipeline.handle(seq, batch, lambda: bool(remaining))
                progress.advance(len(batch))
        await pipeline.settle()
    finally:
        await consumer.stop()
        store.reset()
    return ReplayResult(plan, resumed_at, pipeline.totals, 0.0)
