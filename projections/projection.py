"""The projection itself: pure functions from one Kafka partition's messages to state and rows.

No I/O and no clock. `PartitionState` holds what a worker needs to project one topic-partition
exactly: how far it got (checkpoint), which event_ids it has accepted, the additive counters and
the shifts. `project()` applies one message; `take_flush()` turns what changed into rows whose
`version` is the last offset applied, i.e. "the state after offset `version`". Because the
result is a function of the partition's history only, the same input run twice, or by two
workers, gives the same rows (tests/unit/test_projection.py, the snuba-style idempotency test).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import NamedTuple, Protocol
from uuid import UUID

from events import (
    SHANGHAI,
    DisinfectionCompleted,
    DonationReceived,
    Event,
    EventVoided,
    Rejected,
    SamplingAssisted,
    TracingCallRecorded,
    VolunteerCheckedIn,
    VolunteerCheckedOut,
    decode_at,
    encode,
)
from events.routing import partition_for, routing_id
from projections import counters as c
from projections.counters import Counters
from projections.seen_ids import SeenIds


class Record(Protocol):
    """One Kafka message as the projection sees it. aiokafka's ConsumerRecord is one, so the
    worker passes those through without copying ~20,000 of them a second."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...  # the broker's, in ms
    @property
    def value(self) -> bytes | None: ...  # None: a tombstone, rejected as not JSON
    @property
    def key(self) -> bytes | None: ...  # the event_id as text, from every Frontline producer


class Message(NamedTuple):
    """A Record built by hand (tests, tools)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    value: bytes | None
    key: bytes | None = None


class Outcome(Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # an event_id this partition already accepted, same content
    CONFLICT = "conflict"  # an event_id already accepted with other content: dead-lettered
    ALREADY_APPLIED = "already_applied"  # offset at or before the checkpoint: redelivery
    REJECTED = "rejected"  # refused by the contract, or not in its event_id's partition
    IGNORED = "ignored"  # valid but without effect: a second void of the same event
    EXCLUDED = "excluded"  # valid, but outside a replay's `--org` (never in a live database)


COUNTER_COLUMNS = c.COLUMNS


@dataclass(slots=True)
class Shift:
    has_in: bool = False
    has_out: bool = False
    checked_in_at: int = 0  # epoch seconds (UTC), as ClickHouse's DateTime holds them
    checked_out_at: int = 0
    day: date = date(1970, 1, 1)
    org_id: str = ""
    team_id: str = ""
    site_id: str = ""
    volunteer_id: str = ""


_sha256 = hashlib.sha256

# Where every partition's chain starts: a constant, so anyone can recompute it.
CHAIN_START = hashlib.sha256(b"frontline hash chain v1").digest()


@dataclass
class PartitionState:
    """Everything needed to continue projecting one topic-partition exactly."""

    topic: str
    partition: int
    partitions: int = 1  # of the topic: where an event_id belongs (events.routing)
    checkpoint: int = -1  # last offset applied and written; -1: nothing yet
    applied: int = -1  # last offset applied in memory (>= checkpoint)
    messages: int = 0  # offsets applied since the partition's first, whatever their outcome
    # A replay restricted to one organisation (`frontline replay --org`): the others' events
    # are seen (so a later copy is still a duplicate or a conflict) but not counted.
    only_org: str | None = None
    # The hash chain over the accepted events (docs/audit.md): its head after the last one,
    # and how many it covers.
    chain: bytes = CHAIN_START
    accepted: int = 0
    # Events voided in this partition (event_id as int), whether they came before their void or
    # not: a second void changes nothing, and one that comes later never counts.
    voided: set[int] = field(default_factory=set)
    # Accepted event_ids, as 128-bit ints, with a fingerprint of their content.
    seen: SeenIds = field(default_factory=SeenIds)
    counters: Counters = field(default_factory=Counters)
    shifts: dict[str, Shift] = field(default_factory=dict)
    # Changed since the last flush, in first-change order: deterministic without sorting.
    dirty_shifts: dict[str, None] = field(default_factory=dict)


def chain_link(head: bytes, content_hash_hex: str) -> bytes:
    """The next head of a partition's hash chain: SHA-256 of the previous head and the accepted
    event's content hash (both as bytes)."""
    return _link(head, bytes.fromhex(content_hash_hex))


def _link(head: bytes, content_digest: bytes) -> bytes:
    return _sha256(head + content_digest).digest()


class Projected(NamedTuple):  # a tuple: one per message
    outcome: Outcome
    event: Event | None = None
    rejection: Rejected | None = None  # why it goes to the dead letters (rejected, conflict)
    log_row: list[object] | None = None  # accepted: its event_log row
    uncounted_row: list[object] | None = None  # otherwise: its `uncounted` row
    # A void of an event that had counted: that event's presence keys (table presence_voided)
    voided_presence: list[tuple[object, ...]] | None = None


_NO_EVENT_ID = UUID(int=0)
_new_tuple = tuple.__new__


def fingerprint(content_hash_hex: str) -> int:
    """The 32 bits of a content hash that SeenIds keeps (ClickHouse derives the same)."""
    return int(content_hash_hex[:8], 16)


def project(
    state: PartitionState,
    msg: Record,
    in_place: bool = False,
    resolved: Mapping[int, Record] | None = None,
) -> Projected:
    """Apply one message to its partition's state.

    `in_place`: the batch check (`projections.routing.keys_in_place`) found the message's key
    canonical and hashing to its partition; without it, the partition is computed here
    (slower).
    `resolved`: for a void of an event this partition counted, that event's message (by
    event_id as int), which the caller looked up: the projection itself does no I/O."""
    if msg.offset <= state.applied:
        return Projected(Outcome.ALREADY_APPLIED)
    state.applied = msg.offset
    state.messages += 1
    raw = msg.value or b""
    # The content hash as bytes for the chain and the fingerprint, as hex for the rows.
    content_digest = _sha256(raw).digest()
    digest = content_digest.hex()
    try:
        # The broker's timestamp, not the clock: a replay decides exactly as the first run did.
        event, occurred_s = decode_at(raw, msg.timestamp / 1000)
    except Rejected as rejection:
        return _uncounted(msg, Outcome.REJECTED, rejection, None, digest)
    event_id = event.event_id
    placed_by = routing_id(event)  # a void goes where the event it voids is
    # In place, the key is canonical text: equal numbers mean equal texts (routing.py).
    key = msg.key
    if not (in_place and key and int(key.replace(b"-", b""), 16) == placed_by.int) and (
        partition_for(placed_by, state.partitions) != msg.partition
    ):
        # Counted here, a copy in the right partition would be counted again.
        return _uncounted(msg, Outcome.REJECTED, _MISROUTED, event, digest)
    fp = int.from_bytes(content_digest[:4], "big")  # fingerprint(digest), without the text
    first = state.seen.add(event_id.int, fp)
    if first is not None:
        # Our producers write the canonical encoding; a copy re-serialized by another client
        # is the same event if its canonical form hashes as the first copy did.
        if first == fp or first == fingerprint(content_hash(encode(event))):
            return _uncounted(msg, Outcome.DUPLICATE, None, event, digest)
        conflict = Rejected(
            "conflicting_duplicate",
            f"event_id {event_id} was accepted before with other content; the first copy "
            "counts, this one does not (send a new event_id for a new event)",
            "event_id",
        )
        return _uncounted(msg, Outcome.CONFLICT, conflict, event, digest)
    if state.only_org is not None and event.org_id != state.only_org:
        return _uncounted(msg, Outcome.EXCLUDED, None, event, digest)
    if type(event) is EventVoided:
        return _void(state, msg, event, digest, resolved or {})
    if state.voided and event_id.int in state.voided:
        # Voided before it came: in the history (and the chain), never counted.
        state.chain = _link(state.chain, content_digest)
        state.accepted += 1
        row = _log_row(msg, event, int(occurred_s), _day(int(occurred_s)), "", "", digest)
        row[-3] = 1  # voided
        return Projected(Outcome.ACCEPTED, event=event, log_row=row)
    # Kept as epoch seconds to the end: clickhouse-driver sends an int to a DateTime column as
    # is, but reads a naive datetime in the server's zone (through pytz, 3 us a row, unless
    # the client's zone is the same): a server and host on +08:00 would shift UTC by 8 h.
    second = int(occurred_s)  # >= 2019 (schema): int() is the floor
    day_number = (second + _SHANGHAI_S) // 86_400  # the Asia/Shanghai day (no DST since 1991)
    day = c.day_of(day_number)
    # _AT_A_SITE holds the types whose data has site_id; mypy cannot narrow through a set.
    site_id = event.data.site_id if type(event) in _AT_A_SITE else ""  # type: ignore[union-attr]
    o, t, s = c.indexes(event.org_id, event.team_id, site_id)
    _count(state.counters, event, day_number, o, t, s)
    shift_id = ""
    if type(event) in _SHIFT_EVENTS:
        shift_id = _pair_shift(state, event, day, second)
    state.chain = _link(state.chain, content_digest)
    state.accepted += 1
    row = _log_row(msg, event, second, day, site_id, shift_id, digest)
    # Projected(ACCEPTED, event, log_row=row) without the generated __new__ (a Python call with
    # keywords): this line runs for nearly every message.
    return _new_tuple(Projected, (Outcome.ACCEPTED, event, None, row, None, None))


_MISROUTED = Rejected(
    "misrouted",
    "the message is not in its event_id's partition; produce it with key = event_id and "
    "Kafka's default partitioner (the SDK, emit and HTTP ingest do)",
    "event_id",
)


_ALREADY_VOIDED = Rejected(
    "already_voided",
    "this event was voided before; a second void changes nothing",
    "data.voided_event_id",
)


class UnresolvedVoidError(Exception):
    """A void of an event this partition counted came without that event's message: the
    caller must look it up (streams.worker.pipeline) before projecting."""


def _day(second: int) -> date:
    return c.day_of((second + _SHANGHAI_S) // 86_400)


def _void(
    state: PartitionState,
    msg: Record,
    void: EventVoided,
    digest: str,
    resolved: Mapping[int, Record],
) -> Projected:
    target = void.data.voided_event_id.int
    if target in state.voided:
        return _uncounted(msg, Outcome.IGNORED, _ALREADY_VOIDED, void, digest)
    state.voided.add(target)
    presence = None
    if target in state.seen:  # it counted here: take its counts back
        record = resolved.get(target)
        if record is None:
            raise UnresolvedVoidError(
                f"void {void.event_id} of {void.data.voided_event_id} at "
                f"{msg.topic}[{msg.partition}]@{msg.offset} came without the voided event"
            )
        presence = _uncount(state, record, resolved)
    state.chain = chain_link(state.chain, digest)
    state.accepted += 1
    second = int(void.occurred_at.timestamp())
    row = _log_row(msg, void, second, _day(second), "", "", digest)
    row[-2] = str(void.data.voided_event_id)  # voids
    return Projected(Outcome.ACCEPTED, event=void, log_row=row, voided_presence=presence)


def _uncount(
    state: PartitionState, record: Record, resolved: Mapping[int, Record]
) -> list[tuple[object, ...]] | None:
    """Subtract what a counted event added (decoded as it was when it counted); the presence
    keys it gave, for the views to drop where nothing else supports them."""
    event, occurred_s = decode_at(record.value or b"", record.timestamp / 1000)
    if type(event) is EventVoided:
        return None  # a void of a void: voids count nothing, so nothing to take back
    if state.only_org is not None and event.org_id != state.only_org:
        return None  # excluded from this replay: it never counted
    second = int(occurred_s)
    day_number = (second + _SHANGHAI_S) // 86_400
    day = c.day_of(day_number)
    site_id = event.data.site_id if type(event) in _AT_A_SITE else ""  # type: ignore[union-attr]
    o, t, s = c.indexes(event.org_id, event.team_id, site_id)
    _count(state.counters, event, day_number, o, t, s, sign=-1)
    if type(event) in _SHIFT_EVENTS:
        _repair_shift(state, event, record, resolved)
    epoch = date(1970, 1, 1)
    return [
        ("team", day, event.org_id, event.team_id, event.event_id),
        ("volunteer", day, event.org_id, event.volunteer_id, event.event_id),
        ("org", epoch, "", event.org_id, event.event_id),
        ("team", epoch, "", event.team_id, event.event_id),
        ("volunteer", epoch, "", event.volunteer_id, event.event_id),
    ]


def _uncounted(
    msg: Record, outcome: Outcome, why: Rejected | None, event: Event | None, digest: str
) -> Projected:
    row: list[object] = [
        msg.topic,
        msg.partition,
        msg.offset,
        msg.timestamp,
        _NO_EVENT_ID if event is None else event.event_id,
        outcome.value,
        "" if why is None else why.code,
        digest,
        0,  # written_at_ms, set by the writer
    ]
    return Projected(outcome, event=event, rejection=why, uncounted_row=row)


# The contract's fixed Asia/Shanghai offset (events.SHANGHAI), in seconds.
_SHANGHAI_S = int(SHANGHAI.utcoffset(None).total_seconds())

# Exact types, looked up in a set: cheaper per event than isinstance with a union.
_AT_A_SITE = frozenset(
    {SamplingAssisted, DisinfectionCompleted, VolunteerCheckedIn, VolunteerCheckedOut}
)
_SHIFT_EVENTS = frozenset({VolunteerCheckedIn, VolunteerCheckedOut})


def _count(
    counters: Counters,
    event: Event,
    day_number: int,
    org: int,
    team: int,
    site: int,
    sign: int = 1,
) -> None:
    """Add what one event counts (sign -1: take it back, for a void)."""
    kind = type(event)
    if kind is SamplingAssisted:  # 92 % of the campaign's events
        amount = sign * event.data.people_assisted  # type: ignore[union-attr]
        counters.add(day_number, org, team, site, sign, c.SAMPLING_ASSISTS, amount)
    elif kind is TracingCallRecorded:
        assert isinstance(event, TracingCallRecorded)
        values = counters.values
        outcome = event.data.outcome.value
        reached = outcome == "reached"
        for at in counters.count(day_number, org, team, site, outcome, sign):
            values[at + c.CALLS] += sign
            values[at + c.CALLS_REACHED] += sign * reached
            values[at + c.CALL_S] += sign * event.data.duration_s
    elif kind is DisinfectionCompleted:
        assert isinstance(event, DisinfectionCompleted)
        values = counters.values
        for at in counters.count(day_number, org, team, site, "", sign):
            values[at + c.DISINFECTED_M2] += sign * event.data.area_m2
            values[at + c.FLOORS] += sign * event.data.floors
    elif kind is DonationReceived:
        amount = sign * event.data.amount_fen  # type: ignore[union-attr]
        counters.add(day_number, org, team, site, sign, c.DONATIONS_FEN, amount)
    else:
        counters.add(day_number, org, team, site, sign, c.EVENTS, 0)


def _repair_shift(
    state: PartitionState, event: Event, record: Record, resolved: Mapping[int, Record]
) -> None:
    """A voided check-in or check-out leaves its shift's part: the part is paired again from
    the shift's other standing events of this partition, which the caller looked up with the
    voided one (`resolved`; the batch's own accepted events are there too)."""
    assert isinstance(event, VolunteerCheckedIn | VolunteerCheckedOut)
    shift_id = event.data.shift_id
    if shift_id not in state.shifts:
        return
    state.shifts[shift_id] = Shift()
    state.dirty_shifts[shift_id] = None
    mark = shift_id.encode()
    for other in resolved.values():
        if (
            other.partition != record.partition
            or other.topic != record.topic
            or other.offset == record.offset
            or mark not in (other.value or b"")
        ):
            continue
        kept, occurred_s = decode_at(other.value or b"", other.timestamp / 1000)
        if (
            type(kept) in _SHIFT_EVENTS
            and kept.data.shift_id == shift_id  # type: ignore[union-attr]
            and kept.event_id.int not in state.voided
            and (state.only_org is None or kept.org_id == state.only_org)
        ):
            _pair_shift(state, kept, _day(int(occurred_s)), int(occurred_s))


def _pair_shift(state: PartitionState, event: Event, day: date, at: int) -> str:
    """Pair a check-in or check-out with its shift; returns the shift_id."""
    assert isinstance(event, VolunteerCheckedIn | VolunteerCheckedOut)
    shift_id = event.data.shift_id
    shift = state.shifts.get(shift_id)
    if shift is None:
        shift = state.shifts[shift_id] = Shift()
    if isinstance(event, VolunteerCheckedIn):
        # The earliest check-in of a shift starts it; its day and org own the shift.
        if shift.has_in and at >= shift.checked_in_at:
            return shift_id
        shift.has_in = True
        shift.checked_in_at = at
        shift.day = day
        shift.org_id = event.org_id
        shift.team_id = event.team_id
        shift.site_id = event.data.site_id
        shift.volunteer_id = event.volunteer_id
    else:
        # The latest check-out ends it. A check-out first keeps its own org for display only.
        if shift.has_out and at <= shift.checked_out_at:
            return shift_id
        shift.has_out = True
        shift.checked_out_at = at
        if not shift.has_in:
            shift.day = day
            shift.org_id = event.org_id
            shift.team_id = event.team_id
            shift.site_id = event.data.site_id
            shift.volunteer_id = event.volunteer_id
    state.dirty_shifts[shift_id] = None
    return shift_id


def content_hash(raw: bytes) -> str:
    """SHA-256 of the bytes as received: what an auditor can check against the topic."""
    return hashlib.sha256(raw).hexdigest()


EVENT_LOG_COLUMNS = (
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "kafka_ts_ms",
    "event_id",
    "type",
    "schema_version",
    "occurred_at",
    "day",
    "org_id",
    "team_id",
    "volunteer_id",
    "site_id",
    "shift_id",
    "source",
    "content_hash",
    "voided",  # 1: voided before it came, never counted (presence skips it)
    "voids",  # a void: the event_id it voids
    "written_at_ms",  # the writer's clock, set in place when the row is written
)


def _log_row(
    msg: Record, event: Event, at: int, day: date, site: str, shift_id: str, digest: str
) -> list[object]:
    # A list: the writer sets written_at_ms in place instead of copying every row.
    return [
        msg.topic,
        msg.partition,
        msg.offset,
        msg.timestamp,
        event.event_id,
        event.type,
        event.schema_version,
        at,
        day,
        event.org_id,
        event.team_id,
        event.volunteer_id,
        site,
        shift_id,
        event.source,
        digest,
        0,  # voided
        "",  # voids
        0,
    ]


# Every message that was not counted: duplicates, conflicts, rejections. With event_log, one row
# per offset up to the checkpoint: what `frontline verify` compares with Kafka.
UNCOUNTED_COLUMNS = (
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "kafka_ts_ms",
    "event_id",
    "outcome",
    "code",
    "content_hash",
    "written_at_ms",
)

COUNTER_ROW_COLUMNS = (
    "kafka_topic",
    "kafka_partition",
    "dim",
    "day",
    "org_id",
    "member",
    "version",
    *COUNTER_COLUMNS,
)
SHIFT_ROW_COLUMNS = (
    "kafka_topic",
    "kafka_partition",
    "shift_id",
    "version",
    "has_in",
    "has_out",
    "checked_in_at",
    "checked_out_at",
    "day",
    "org_id",
    "team_id",
    "site_id",
    "volunteer_id",
)


@dataclass(frozen=True)
class FlushRows:
    """What one partition's state changed since its last flush, as versioned rows."""

    topic: str
    partition: int
    version: int
    messages: int  # offsets applied up to `version` (the checkpoint's consistency count)
    counters: Sequence[tuple[object, ...]]
    shifts: Sequence[tuple[object, ...]]
    chain: bytes = CHAIN_START  # the chain's head after the accepted events up to `version`
    accepted: int = 0  # how many accepted events the head covers


def flush_rows(state: PartitionState) -> FlushRows:
    """Rows for every key changed since the last flush, at version = last offset applied."""
    v = state.applied
    counters = state.counters.changed_rows(state.topic, state.partition, v)
    shifts = []
    for shift_id in state.dirty_shifts:
        s = state.shifts[shift_id]
        shifts.append(
            (
                state.topic,
                state.partition,
                shift_id,
                v,
                int(s.has_in),
                int(s.has_out),
                s.checked_in_at,
                s.checked_out_at,
                s.day,
                s.org_id,
                s.team_id,
                s.site_id,
                s.volunteer_id,
            )
        )
    return FlushRows(
        state.topic,
        state.partition,
        v,
        state.messages,
        counters,
        shifts,
        state.chain,
        state.accepted,
    )


def take_flush(state: PartitionState) -> FlushRows:
    """`flush_rows`, and the state starts collecting changes for the next flush.

    The rows are values, not views of the state: projecting the next batch while they are
    being written changes neither them nor the next flush."""
    rows = flush_rows(state)
    state.counters.clear_changed()
    state.dirty_shifts.clear()
    return rows


def mark_written(state: PartitionState, rows: FlushRows) -> None:
    """After every row of `rows` and the checkpoint are written."""
    state.checkpoint = max(state.checkpoint, rows.version)
