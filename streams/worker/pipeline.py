"""The worker's batch pipeline, in steps that each do one thing (after getsentry/arroyo's
RunTask -> Reduce -> RunTaskInThreads -> CommitOffsets):

1. `project_batch` (pure, no I/O): a fetched batch through the projection, into rows, dead
   letters and the partitions it moved;
2. the dead letters go to a `DeadLetterSink` and are acknowledged before anything moves past
   them;
3. `Pending` gathers projected batches, and `should_write` (pure) says when to write them:
   while the fetcher is ahead (catching up), up to `write_max` messages together, else at once;
4. `OrderedWriter` writes them to the `Store` in a thread, one write in flight, in batch
   order, retrying transient ClickHouse errors with back-off; any other error (a bug) fails it;
5. once written, `on_written` gets each partition's last offset (the fetcher commits them).

`Pipeline` wires the steps; the Faust agent feeds it one batch at a time. The store and the
sink are small protocols: tests run the pipeline on in-memory doubles
(tests/unit/test_pipeline.py), and the real ones against the stack.
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import accumulate, chain
from typing import Protocol, TypeVar
from uuid import UUID

from clickhouse_driver.errors import (
    NetworkError,
    ServerException,
    SocketTimeoutError,
    UnexpectedPacketFromServerError,
)
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from events import (
    Event,
    EventVoided,
    Rejected,
    VolunteerCheckedIn,
    VolunteerCheckedOut,
    decode_at,
)
from projections.cluster import ReplicasBehind
from projections.projection import (
    EVENT_LOG_COLUMNS,
    FlushRows,
    Outcome,
    PartitionState,
    Record,
    mark_written,
    project,
    take_flush,
)
from projections.routing import keys_in_place
from streams.dead_letters import dead_letter
from streams.metrics import DELAY_SAMPLE, WorkerMetrics
from streams.worker import WORKER_WRITE_MAX

log = logging.getLogger("frontline.worker")
# A void's type in its JSON: a batch without it has no void, and needs no look-up.
_VOID_MARK = b'"event.voided"'
_SHIFT_MARK = b"volunteer.checked_"
_ID, _OFFSET = EVENT_LOG_COLUMNS.index("event_id"), EVENT_LOG_COLUMNS.index("kafka_offset")
T = TypeVar("T")
TP = tuple[str, int]
Rows = list[list[object]]

# Errors worth retrying: the server refused or the connection broke. A driver error that means
# wrong data or code (TypeMismatchError, ...) and every other exception are bugs: they stop the
# worker instead of being retried forever as "ClickHouse write failed".
TRANSIENT = (
    ReplicasBehind,
    ServerException,
    NetworkError,
    SocketTimeoutError,
    UnexpectedPacketFromServerError,
    OSError,
    EOFError,
)


class BatchLostError(Exception):
    """A fetched batch never reached the projection; the worker stops rather than skip it."""


class RebuildMismatchError(Exception):
    """A partition projected again from Kafka does not end where its checkpoint says."""


class PositionGapError(Exception):
    """Kafka delivered a partition from further on than ClickHouse's checkpoint: counting on
    would silently skip events, so the worker stops and says why."""


class PartitionsChangedError(Exception):
    """The event topic's partition count changed under a running worker: event_ids now hash
    elsewhere, and a retry of an event already counted could be counted again."""


class Store(Protocol):
    """Where projection state lives (projections.store.StateStore on the stack)."""

    @property
    def database(self) -> str: ...
    def load(self, topic: str, partition: int) -> PartitionState: ...
    def written_past(self, topic: str, partition: int, checkpoint: int) -> bool: ...
    def write(
        self,
        log_rows: Rows,
        flushes: Sequence[FlushRows],
        uncounted_rows: Rows,
        voided_presence: Sequence[tuple[object, ...]] = (),
    ) -> None: ...
    def reset(self) -> None: ...
    def event_offsets(
        self, topic: str, partition: int, event_ids: Sequence[UUID], before: int
    ) -> dict[UUID, int]: ...
    def shift_offsets(
        self, topic: str, partition: int, shift_ids: Sequence[str], before: int
    ) -> dict[str, list[int]]: ...


class MessageReader(Protocol):
    """Reads messages back from Kafka (the events voids cancel: the store knows their offsets,
    Kafka their content)."""

    async def read_many(
        self, topic: str, partition: int, offsets: Iterable[int]
    ) -> dict[int, Record]: ...

    def history(
        self, topic: str, partition: int, last: int, first: int = 0
    ) -> AsyncIterator[list[Record]]:
        """The partition's messages from offset `first` to `last`, in batches, in order."""
        ...


class DeadLetterSink(Protocol):
    async def send(self, records: list[bytes]) -> None:
        """Return once every record is acknowledged (retrying meanwhile)."""


@dataclass
class BatchStats:
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    redelivered: int = 0
    rejected: int = 0
    excluded: int = 0  # a replay's --org left them out
    ignored: int = 0  # second voids of an event

    def add(self, other: BatchStats) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.conflicts += other.conflicts
        self.redelivered += other.redelivered
        self.rejected += other.rejected
        self.excluded += other.excluded
        self.ignored += other.ignored

    def by_outcome(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "duplicate": self.duplicates,
            "conflict": self.conflicts,
            "rejected": self.rejected,
            "redelivered": self.redelivered,
            "excluded": self.excluded,
            "ignored": self.ignored,
        }


# -- 1. project ---------------------------------------------------------------------------


@dataclass
class ProjectedBatch:
    log_rows: Rows = field(default_factory=list)
    uncounted_rows: Rows = field(default_factory=list)
    dead_letters: list[bytes] = field(default_factory=list)
    touched: dict[TP, PartitionState] = field(default_factory=dict)  # checkpoint moves
    stats: BatchStats = field(default_factory=BatchStats)
    codes: Counter[str] = field(default_factory=Counter)  # dead letters by code
    # presence keys of events voided after they counted (table presence_voided)
    voided_presence: list[tuple[object, ...]] = field(default_factory=list)


def project_batch(
    states: dict[TP, PartitionState],
    messages: Sequence[Record],
    partitions: Callable[[str], int],
    resolved: dict[int, Record] | None = None,
) -> ProjectedBatch:
    """Project every message into its partition's state (which must be loaded). `resolved`:
    for a batch with voids, the voided events counted before it, by event_id as int; the
    batch's own accepted events join it as they are projected (a void may follow its event
    in the same batch)."""
    out = ProjectedBatch()
    log_rows, uncounted_rows, touched = out.log_rows, out.uncounted_rows, out.touched
    accepted = redelivered = duplicates = conflicts = rejected = excluded = ignored = 0
    for msg, routed in zip(messages, keys_in_place(messages, partitions), strict=True):
        tp = (msg.topic, msg.partition)
        state = states[tp]
        result = project(state, msg, routed, resolved)
        outcome = result.outcome
        if outcome is Outcome.ACCEPTED:
            touched[tp] = state
            accepted += 1
            if resolved is not None:
                resolved[result.event.event_id.int] = msg  # type: ignore[union-attr]
                if result.voided_presence:
                    out.voided_presence.extend(result.voided_presence)
            # ClickHouse derives the presence rows from these (migration 0003).
            log_rows.append(result.log_row)  # type: ignore[arg-type]  # set when accepted
            continue
        if outcome is Outcome.ALREADY_APPLIED:
            redelivered += 1
            continue
        touched[tp] = state
        uncounted_rows.append(result.uncounted_row)  # type: ignore[arg-type]  # set here
        if outcome is Outcome.DUPLICATE:
            duplicates += 1
            continue
        if outcome is Outcome.EXCLUDED:
            excluded += 1
            continue
        if outcome is Outcome.IGNORED:  # valid, recorded in `uncounted`, no dead letter
            ignored += 1
            continue
        if outcome is Outcome.CONFLICT:
            conflicts += 1
        else:
            rejected += 1
        why = result.rejection
        assert why is not None
        out.codes[why.code] += 1
        # The same record as ingest's: bounded, digit runs masked.
        out.dead_letters.append(
            dead_letter(
                msg.value or b"",
                code=why.code,
                message=why.message,
                field=why.field,
                origin={
                    "via": "worker",
                    "topic": msg.topic,
                    "partition": msg.partition,
                    "offset": msg.offset,
                },
            )
        )
    out.stats = BatchStats(
        accepted, duplicates, conflicts, redelivered, rejected, excluded, ignored
    )
    return out


# -- 3. gather and decide -------------------------------------------------------------------


def should_write(pending_messages: int, write_max: int, more_fetched: bool) -> bool:
    """Write now, or wait for the next batch? Waiting while the fetcher is ahead makes fewer,
    larger inserts (one row per counter changed in all of them); with nothing more fetched,
    waiting would only cost freshness."""
    return pending_messages >= write_max or not more_fetched


@dataclass
class WriteJob:
    seq: int  # the last batch it covers
    log_rows: Rows
    uncounted_rows: Rows
    flushes: list[FlushRows]
    states: list[PartitionState]
    voided_presence: list[tuple[object, ...]] = field(default_factory=list)


@dataclass
class Pending:
    """Projected batches not yet handed to a write."""

    seq: int = 0
    messages: int = 0
    log_rows: Rows = field(default_factory=list)
    uncounted_rows: Rows = field(default_factory=list)
    touched: dict[TP, PartitionState] = field(default_factory=dict)
    voided_presence: list[tuple[object, ...]] = field(default_factory=list)
    taken_seq: int = 0  # the last batch handed to a write

    def add(self, seq: int, batch: ProjectedBatch, messages: int) -> None:
        self.seq = seq
        self.messages += messages
        self.log_rows.extend(batch.log_rows)
        self.uncounted_rows.extend(batch.uncounted_rows)
        self.touched.update(batch.touched)
        self.voided_presence.extend(batch.voided_presence)

    def take(self) -> WriteJob | None:
        """The rows of everything gathered, as values (projecting on leaves them as they are);
        None if nothing was projected since the last take."""
        if self.seq == self.taken_seq:
            return None
        self.taken_seq = self.seq
        states = list(self.touched.values())
        job = WriteJob(
            self.seq,
            self.log_rows,
            self.uncounted_rows,
            [take_flush(s) for s in states],
            states,
            self.voided_presence,
        )
        self.log_rows, self.uncounted_rows, self.touched, self.messages = [], [], {}, 0
        self.voided_presence = []
        return job


# -- 4. write, in order ---------------------------------------------------------------------


class OrderedWriter:
    """Writes jobs one at a time, in submission order, in one thread (clickhouse-driver blocks;
    the event loop must keep Kafka's heartbeats). `done_seq` is the last batch written."""

    def __init__(
        self,
        store: Store,
        metrics: WorkerMetrics,
        on_written: Callable[[WriteJob], Awaitable[None]],
        executor: ThreadPoolExecutor | None = None,
        retry_delay_s: float = 0.5,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.retry_delay_s = retry_delay_s
        self._on_written = on_written
        self._executor = executor or ThreadPoolExecutor(1, "clickhouse")
        self._task: asyncio.Task[None] | None = None
        self.last_job: WriteJob | None = None  # in flight, or written (then also in the store)

    async def submit(self, job: WriteJob) -> None:
        """Start writing `job` once the write in flight is done."""
        await self.join()
        self.last_job = job
        self._task = asyncio.ensure_future(self._write(job))
        # Let the task hand the write to the thread now: the next batch may arrive without the
        # loop ever suspending, and the write would then wait until the next join().
        await asyncio.sleep(0)

    async def join(self) -> None:
        """Wait for the write in flight, if any (raises what failed it). Shielded: a waiter
        cancelled (the agent, when the worker stops) leaves the write going, for `drain`."""
        task = self._task
        if task is None:
            return
        try:
            await asyncio.shield(task)
        finally:
            if task.done() and self._task is task:
                self._task = None

    async def run(self, what: str, fn: Callable[[], T]) -> T:
        """Blocking store I/O in the writer's thread; transient errors are retried with
        back-off (0.5 s doubling to 30 s) for as long as it takes, while consumption waits;
        others raise."""

        def note(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self.metrics.write_errors.inc()
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "ClickHouse %s failed (%s: %s); consumption paused, retrying in %.1fs",
                what,
                type(exc).__name__,
                first,
                wait,
            )
            self.store.reset()  # a new connection for the next attempt

        loop = asyncio.get_running_loop()
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(TRANSIENT),
            wait=wait_exponential(multiplier=self.retry_delay_s, max=30),
            before_sleep=note,
            reraise=True,
        ):
            with attempt:
                result = await loop.run_in_executor(self._executor, fn)
        return result

    async def _write(self, job: WriteJob) -> None:
        started = time.monotonic()
        store = self.store
        await self.run(
            "write",
            lambda: store.write(job.log_rows, job.flushes, job.uncounted_rows, job.voided_presence),
        )
        self.metrics.writes.observe(time.monotonic() - started)
        now_ms = int(time.time() * 1000)
        step = max(1, len(job.log_rows) // DELAY_SAMPLE)
        self.metrics.observe_delays(now_ms, (int(r[3]) for r in job.log_rows[::step]))  # type: ignore[call-overload]
        for state, rows in zip(job.states, job.flushes, strict=True):
            mark_written(state, rows)
        await self._on_written(job)


# -- the pipeline ---------------------------------------------------------------------------


def _event_of(record: Record) -> Event | None:
    """The record decoded as the projection decodes it; None if the contract refuses it (the
    projection then rejects it, and nothing needs looking up for it)."""
    try:
        event, _ = decode_at(record.value or b"", record.timestamp / 1000)
    except Rejected:
        return None
    return event


def containing(messages: Sequence[Record], mark: bytes) -> list[Record]:
    """The messages whose value holds `mark`, in order: a cheap test on the raw bytes before
    any decoding. One search over the values joined (with a byte no mark holds between them)
    instead of one per message: `mark in value` cost ~1 us a message, 2 % of a replay."""
    if not mark or b"\x00" in mark:
        raise ValueError("a mark is not empty and holds no NUL byte (the separator)")
    values = [m.value or b"" for m in messages]
    joined = b"\x00".join(values)
    found: list[Record] = []
    at = joined.find(mark)
    if at < 0:
        return found
    ends = list(accumulate(len(v) + 1 for v in values))  # where each value's separator is
    while at >= 0:
        i = bisect_right(ends, at)
        found.append(messages[i])
        at = joined.find(mark, ends[i])
    return found


def _voids(messages: Sequence[Record]) -> list[Record]:
    """The messages that may be voids: voids are rare."""
    return containing(messages, _VOID_MARK)


def _shift_before(shift_events: Sequence[Record], void: Record, target: UUID) -> Record | None:
    """The voided event's first message before its void in the same partition, among the
    batch's check-ins and check-outs (the only voided events whose look-up goes further)."""
    mark = str(target).encode()
    for m in shift_events:
        if m.partition != void.partition or m.topic != void.topic or m.offset >= void.offset:
            continue
        if mark not in (m.value or b""):
            continue
        event = _event_of(m)
        if event is not None and event.event_id == target:
            return m
    return None


def _may_be_shift(m: Record) -> bool:
    return bool(m.value and _SHIFT_MARK in m.value)


def _shift_of(record: Record) -> str | None:
    if not _may_be_shift(record):
        return None
    event = _event_of(record)
    if isinstance(event, VolunteerCheckedIn | VolunteerCheckedOut):
        return event.data.shift_id
    return None


@dataclass
class Pipeline:
    """Per-process projection of the partitions this worker consumes (module docstring)."""

    store: Store
    sink: DeadLetterSink
    # While the next batch is already fetched, the rows of consecutive batches are written
    # together, up to this many messages (docs/architecture.md, "Flow of one event").
    write_max: int = WORKER_WRITE_MAX
    # How many partitions a topic has (the fetcher's metadata): where an event_id belongs.
    partitions: Callable[[str], int] = lambda topic: 1
    # Kafka's log start and end offsets of a partition, as last seen (for metrics).
    bounds: Callable[[TP], tuple[int, int] | None] = lambda tp: (0, 0)
    # {partition: last offset} once their rows and checkpoints are written (offset commits).
    on_written: Callable[[dict[TP, int]], Awaitable[None]] | None = None
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)
    # Where a void finds the event it voids (None: a batch with a void of a counted event fails).
    reader: MessageReader | None = None
    executor: ThreadPoolExecutor | None = None
    retry_delay_s: float = 0.5  # the first wait after a transient store error
    states: dict[TP, PartitionState] = field(default_factory=dict)
    totals: BatchStats = field(default_factory=BatchStats)
    batches_done: int = 0  # batches projected and written, in order
    failed: BaseException | None = None  # set once projection stopped for good
    closing: bool = False  # the worker stops: its agent takes no more batches
    pending: Pending = field(default_factory=Pending)
    _progress: asyncio.Condition = field(default_factory=asyncio.Condition)
    _writer: OrderedWriter | None = None

    @property
    def writer(self) -> OrderedWriter:
        if self._writer is None:
            self._writer = OrderedWriter(
                self.store, self.metrics, self._written, self.executor, self.retry_delay_s
            )
        return self._writer

    async def handle(
        self, seq: int, messages: Sequence[Record], more_fetched: Callable[[], bool] = lambda: False
    ) -> BatchStats:
        """Project batch number `seq`; write it now, or with the next batches if
        `more_fetched()` says one is already waiting and fewer than `write_max` messages wait."""
        if seq != self.pending.seq + 1:
            # A batch between the fetcher and here was lost: counting on would move the
            # checkpoints past events never projected.
            raise BatchLostError(
                f"batch {seq} arrived after batch {self.pending.seq}; stopping without "
                "committing (a restart resumes from the ClickHouse checkpoints)"
            )
        await self._load_new(messages)
        self._check_partition_counts(messages)
        resolved = None
        if voids := _voids(messages):
            resolved = await self._look_up_voided(messages, voids, self.states)
        if any((m.topic, m.partition) not in self.states for m in messages):
            # A rebalance revoked a partition (`forget`) while this batch awaited its loads:
            # its new owner projects these messages from the checkpoint; if the partition
            # comes back here, the consumer fetches them again from the committed offset.
            kept = [m for m in messages if (m.topic, m.partition) in self.states]
            log.info(
                "batch %d: %d message(s) of revoked partitions left to their new owner",
                seq,
                len(messages) - len(kept),
            )
            messages = kept
        batch = project_batch(self.states, messages, self.partitions, resolved)
        self.metrics.count(batch.stats.by_outcome(), batch.codes)
        if batch.dead_letters:  # durable before any checkpoint moves past them
            await self.sink.send(batch.dead_letters)
        self.totals.add(batch.stats)
        self.pending.add(seq, batch, len(messages))
        if should_write(self.pending.messages, self.write_max, more_fetched()):
            await self._start_write()
        return batch.stats

    async def _look_up_voided(
        self,
        messages: Sequence[Record],
        voids: Sequence[Record],
        states: dict[TP, PartitionState],
    ) -> dict[int, Record]:
        """The messages of the events the batch's voids void that counted before the batch,
        and for a voided check-in or check-out its shift's other events in the partition (its
        part is paired again from them). An event the batch itself holds needs no look-up:
        `project_batch` adds each accepted message as it goes. Voids are rare and come minutes
        to hours after their event, so that event is usually written: the batch's look-ups
        go to the store at once, in one query per partition, and only what it lacks waits for
        everything projected to be written (`settle`). `voids`: the batch's messages that
        may be voids (`_voids`)."""
        wanted: dict[TP, dict[UUID, int]] = {}  # voided event -> its first void's offset
        in_batch: list[tuple[TP, int, Record]] = []  # a void's offset, its event before it
        shift_events: list[Record] | None = None  # the batch's, found on first need
        for m in voids:
            void = _event_of(m)
            state = states.get((m.topic, m.partition))
            if type(void) is not EventVoided or state is None or m.offset <= state.applied:
                continue  # not a void, or a redelivery the projection skips
            target = void.data.voided_event_id
            if target.int in state.voided:
                continue  # a second void: ignored
            if target.int in state.seen:
                wanted.setdefault((m.topic, m.partition), {}).setdefault(target, m.offset)
                continue
            if shift_events is None:
                shift_events = containing(messages, _SHIFT_MARK)
            if (earlier := _shift_before(shift_events, m, target)) is not None:
                in_batch.append(((m.topic, m.partition), m.offset, earlier))
        found: dict[int, Record] = {}
        if not (wanted or in_batch) or self.reader is None:
            return found
        missing = await self._read_counted(wanted, found)
        if missing:  # projected, not written yet: still in rows waiting or being written
            missing = await self._read_unwritten(missing, found)
        if missing:
            await self.settle()
            await self._read_counted(missing, found)
        # Voided check-ins and check-outs, wherever found: their shifts' other events.
        shifts: dict[TP, dict[str, int]] = {}  # shift -> offset of the first void reopening it
        for tp, void_offset, record in [
            *(
                (tp, o, found[t.int])
                for tp, ts in wanted.items()
                for t, o in ts.items()
                if t.int in found
            ),
            *in_batch,
        ]:
            shift_id = _shift_of(record)
            if shift_id is not None:
                at = shifts.setdefault(tp, {})
                at[shift_id] = min(void_offset, at.get(shift_id, void_offset))
        if shifts:
            await self.settle()  # every event of those shifts projected so far is written
            await self._read_shifts(shifts, found)
        return found

    async def _read_counted(
        self, wanted: dict[TP, dict[UUID, int]], found: dict[int, Record]
    ) -> dict[TP, dict[UUID, int]]:
        """Adds the voided events' messages to `found`; returns those the store lacks."""
        store, located = self.store, {}
        for (topic, partition), targets in wanted.items():
            ids, before = list(targets), max(targets.values())
            offsets = await self.writer.run(
                "look-up of voided events",
                lambda t=topic, p=partition, i=ids, b=before: store.event_offsets(t, p, i, b),  # type: ignore[misc]
            )
            located[(topic, partition)] = {target.int: o for target, o in offsets.items()}
        return await self._read_located(wanted, located, found)

    async def _read_unwritten(
        self, wanted: dict[TP, dict[UUID, int]], found: dict[int, Record]
    ) -> dict[TP, dict[UUID, int]]:
        """`_read_counted` for events in the event_log rows not written yet (gathered, or in
        the write in flight): a void minutes after its event need not wait for that write."""
        job = self.writer.last_job
        older = job.log_rows if job is not None else []
        ids = {target.int: tp for tp, targets in wanted.items() for target in targets}
        located: dict[TP, dict[int, int]] = {}
        left = len(ids)
        # Newest first: voids come soon after their events, so the scan usually stops early
        # (up to 100,000 rows wait in a replay). A partition accepts an event_id once, so the
        # first row found is the only one.
        for row in chain(reversed(self.pending.log_rows), reversed(older)):
            target = row[_ID].int  # type: ignore[attr-defined]  # event_id: a UUID
            if target in ids and ids[target] == (row[0], row[1]):
                at = located.setdefault(ids[target], {})
                if target not in at:
                    at[target] = row[_OFFSET]  # type: ignore[assignment]  # an int
                    left -= 1
                    if not left:
                        break
        return await self._read_located(wanted, located, found)

    async def _read_located(
        self,
        wanted: dict[TP, dict[UUID, int]],
        located: dict[TP, dict[int, int]],
        found: dict[int, Record],
    ) -> dict[TP, dict[UUID, int]]:
        """Reads the messages at the offsets `located` (by event_id as int) into `found`;
        returns the wanted events not located."""
        assert self.reader is not None
        missing = {}
        for tp, targets in wanted.items():
            at = located.get(tp, {})
            if at:
                records = await self.reader.read_many(tp[0], tp[1], at.values())
                found.update((target, records[offset]) for target, offset in at.items())
            if lacking := {t: o for t, o in targets.items() if t.int not in at}:
                missing[tp] = lacking
        return missing

    async def _read_shifts(
        self, shifts: dict[TP, dict[str, int]], found: dict[int, Record]
    ) -> None:
        """Adds the accepted check-ins and check-outs of `shifts` (by the offset of the void
        that reopens each) to `found`."""
        assert self.reader is not None
        store = self.store
        for (topic, partition), befores in shifts.items():
            by_shift = await self.writer.run(
                "look-up of voided shifts' events",
                lambda t=topic, p=partition, b=befores: store.shift_offsets(  # type: ignore[misc]
                    t, p, list(b), max(b.values())
                ),
            )
            offsets = {o for shift_id, os in by_shift.items() for o in os if o < befores[shift_id]}
            records = await self.reader.read_many(topic, partition, offsets)
            for offset in sorted(offsets):
                kept = _event_of(records[offset])
                if kept is not None:
                    found.setdefault(kept.event_id.int, records[offset])

    async def settle(self) -> None:
        """Write everything projected so far and wait until it is written."""
        await self._start_write()
        await self.writer.join()

    async def wait_for_write(self) -> None:
        await self.writer.join()

    def forget(self, tps: Iterable[TP]) -> None:
        """A revoked partition's state may move on elsewhere: reload it if it comes back."""
        for tp in tps:
            self.states.pop(tp, None)

    async def drain(self, batches: int) -> None:
        """Wait until the first `batches` batches are written. Once the projection failed,
        nothing more will be written; once the worker is closing, its agent takes no more
        batches: then only the write in flight is waited for, so that no write of these
        partitions lands after they went to another worker."""
        async with self._progress:
            await self._progress.wait_for(
                lambda: self.batches_done >= batches or self.failed is not None or self.closing
            )
        if self.closing and self.failed is None:
            await self.writer.join()

    async def close(self) -> None:
        """The worker stops: wakes a rebalance waiting in `drain` for batches that the stopped
        agent will never project (it would hold the stop, and the group, until killed)."""
        async with self._progress:
            self.closing = True
            self._progress.notify_all()

    async def fail(self, exc: BaseException) -> None:
        """Record that projection stopped for good; wakes anyone draining."""
        async with self._progress:
            self.failed = exc
            self._progress.notify_all()

    async def _start_write(self) -> None:
        job = self.pending.take()
        if job is None:
            return
        if job.flushes:
            await self.writer.submit(job)
        else:
            await self.writer.join()  # in order: nothing moved, but earlier writes come first
            await self._done(job.seq)

    async def _written(self, job: WriteJob) -> None:
        for rows in job.flushes:
            bounds = self.bounds((rows.topic, rows.partition))
            if bounds is None:  # no longer ours: its new owner reports its lag
                continue
            begin, end = bounds
            self.metrics.written(
                rows.topic, rows.partition, rows.version, rows.messages, begin, end
            )
        if self.on_written is not None:
            await self.on_written({(f.topic, f.partition): f.version for f in job.flushes})
        await self._done(job.seq)

    async def _done(self, batches: int) -> None:
        async with self._progress:
            self.batches_done = batches
            self._progress.notify_all()

    async def _load_new(self, messages: Sequence[Record]) -> None:
        firsts: dict[TP, int] = {}
        for m in messages:
            tp = (m.topic, m.partition)
            if tp not in self.states and tp not in firsts:
                firsts[tp] = m.offset  # offsets rise within a partition's messages
        if not firsts:
            return
        await self.settle()  # a load sees every write made before it
        store = self.store
        for (topic, partition), first in firsts.items():
            state = await self.writer.run(
                f"load of {topic}[{partition}]",
                lambda t=topic, p=partition: store.load(t, p),  # type: ignore[misc]
            )
            state = await self.load_checked(state)
            if first > state.applied + 1:
                raise PositionGapError(
                    f"{topic}[{partition}] resumes at offset {first} but ClickHouse "
                    f"({store.database}) holds state up to {state.applied}. The database was "
                    "probably dropped or restored while the group's offsets stayed. Stop "
                    "every worker of this deployment and start one: it moves the group back "
                    "to the checkpoints."
                )
            state.partitions = self.partitions(topic)
            self.states[(topic, partition)] = state

    async def load_checked(self, state: PartitionState, first: int = 0) -> PartitionState:
        """`state` as loaded at its checkpoint, or projected again from Kafka (from offset
        `first`, where its counting began) when a write past the checkpoint was cut short."""
        store = self.store
        if state.checkpoint >= first and await self.writer.run(
            f"check of {state.topic}[{state.partition}]",
            lambda: store.written_past(state.topic, state.partition, state.checkpoint),
        ):
            return await self._rebuild(state, first)
        return state

    async def _rebuild(self, loaded: PartitionState, first: int = 0) -> PartitionState:
        """The partition's state at its checkpoint, projected again from Kafka: a write was
        cut short after its state rows and before its checkpoint (a crash between inserts),
        and merges may have dropped the older versions a load at the checkpoint reads
        (`StateStore.written_past`). Rare and bounded by the partition's history; the rows
        past the checkpoint are true states too, so nothing written needs undoing."""
        topic, partition, upto = loaded.topic, loaded.partition, loaded.checkpoint
        if self.reader is None:
            raise RuntimeError("a rebuild reads Kafka: the pipeline has no reader")
        log.warning(
            "%s[%d]: a write past checkpoint %d was cut short; rebuilding the partition's "
            "state from Kafka (offsets up to %d) instead of loading it",
            topic,
            partition,
            upto,
            upto,
        )
        fresh = PartitionState(topic, partition, only_org=loaded.only_org)
        fresh.partitions = self.partitions(topic)
        states = {(topic, partition): fresh}
        async for chunk in self.reader.history(topic, partition, upto, first):
            resolved = None
            if voids := _voids(chunk):
                resolved = await self._look_up_voided(chunk, voids, states)
            project_batch(states, chunk, self.partitions, resolved)
        if (fresh.applied, fresh.messages, fresh.accepted) != (
            upto,
            loaded.messages,
            loaded.accepted,
        ) or (loaded.accepted and fresh.chain != loaded.chain):
            raise RebuildMismatchError(
                f"{topic}[{partition}]: projected again up to {upto}, the state differs from "
                f"its checkpoint (offset {fresh.applied}, {fresh.messages} messages, "
                f"{fresh.accepted} accepted, against {loaded.messages} and {loaded.accepted}); "
                "run `frontline verify`"
            )
        fresh.checkpoint = upto
        fresh.counters.clear_changed()
        fresh.dirty_shifts.clear()
        return fresh

    def _check_partition_counts(self, messages: Sequence[Record]) -> None:
        for topic in {m.topic for m in messages}:
            now = self.partitions(topic)
            for (t, p), state in self.states.items():
                if t == topic and state.partitions != now:
                    raise PartitionsChangedError(
                        f"{topic} has {now} partitions, {state.partitions} when partition {p} "
                        "was loaded: event_ids now belong to other partitions, where retries "
                        "of events already counted would count again. Remove the added "
                        "partitions (recreate the topic from its history) or start a new "
                        "deployment; the worker stops."
                    )
