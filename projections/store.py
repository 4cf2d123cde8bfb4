"""Reads a partition's projection state back from ClickHouse and writes flushed rows to it.

Blocking (clickhouse-driver); the worker calls it from one writer thread. Write order within a
flush is the whole exactness argument (docs/architecture.md): event log (whose insert also
derives the presence rows, migration 0003) and the rows of messages not counted, counters and
shifts, the checkpoint last. A load takes only rows with version <= checkpoint, which every
table had written before that checkpoint was, so a crash anywhere in between loses nothing and
counts nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from uuid import UUID

from clickhouse_driver import Client

from projections.cluster import sync_replicas
from projections.connection import ClickHouseTarget
from projections.projection import (
    COUNTER_COLUMNS,
    COUNTER_ROW_COLUMNS,
    EVENT_LOG_COLUMNS,
    SHIFT_ROW_COLUMNS,
    UNCOUNTED_COLUMNS,
    FlushRows,
    PartitionState,
    Shift,
)
from projections.seen_ids import SeenIds

CHECKPOINT = """
SELECT count(), max(version), argMax(messages, version), argMax(head, version),
       argMax(events, version)
FROM checkpoints
WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s
"""
ALL_CHECKPOINTS = """
SELECT kafka_topic, kafka_partition, max(version), argMax(messages, version), max(written_at_ms)
FROM checkpoints
GROUP BY kafka_topic, kafka_partition
"""
# The fingerprint is the content hash's first 32 bits, as projections.projection.fingerprint reads
# them (big-endian); reinterpretAsUInt32 reads little-endian, hence the reverse.
# With the ids a replay restricted to one org saw but did not count (outcome 'excluded').
SEEN = """
SELECT DISTINCT event_id, reinterpretAsUInt32(reverse(unhex(substring(content_hash, 1, 8))))
FROM
(
    SELECT event_id, content_hash FROM event_log
    WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s
      AND kafka_offset <= %(version)s
    UNION ALL
    SELECT event_id, content_hash FROM uncounted
    WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s
      AND kafka_offset <= %(version)s AND outcome = 'excluded'
)
"""
CHECKPOINT_COLUMNS = (
    "kafka_topic",
    "kafka_partition",
    "version",
    "messages",
    "events",  # accepted events the chain's head covers (migration 0006)
    "head",
    "written_at_ms",
)
# Events voided in a partition (the targets of its accepted voids).
VOIDED = """
SELECT DISTINCT voids FROM event_log
WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s AND kafka_offset <= %(version)s
  AND voids != ''
"""
# Where a partition's accepted copies of events are (for the voids of a batch): one query for
# all of them. A voided event may be a void itself (a void of a void changes nothing, but its
# target must be found like any other). A tuple after IN: 18.16 reads a list as an Array.
EVENT_OFFSETS = """
SELECT event_id, min(kafka_offset) FROM event_log
WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s AND event_id IN %(event_ids)s
  AND kafka_offset < %(before)s
GROUP BY event_id
"""
# Where a partition's other accepted events of shifts are (a voided check-in or check-out's
# shift is paired again from them).
SHIFT_OFFSETS = """
SELECT DISTINCT shift_id, kafka_offset FROM event_log
WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s AND shift_id IN %(shift_ids)s
  AND voided = 0 AND voids = '' AND kafka_offset < %(before)s
ORDER BY kafka_offset
"""
COUNTERS = f"""
SELECT dim, day, org_id, member, {", ".join(f"argMax({c}, version)" for c in COUNTER_COLUMNS)}
FROM counters
WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s AND version <= %(version)s
GROUP BY dim, day, org_id, member
"""
SHIFTS = """
SELECT shift_id, argMax(has_in, version), argMax(has_out, version),
       toUInt32(argMax(checked_in_at, version)), toUInt32(argMax(checked_out_at, version)),
       argMax(day, version),
       argMax(org_id, version), argMax(team_id, version), argMax(site_id, version),
       argMax(volunteer_id, version)
FROM shifts
WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s AND version <= %(version)s
GROUP BY shift_id
"""
# State rows past the checkpoint: a write cut short between its inserts (a crash before the
# checkpoint). ReplacingMergeTree may then have merged away the older versions of their keys,
# the very rows a load at the checkpoint needs (see `written_past`).
WRITTEN_PAST = """
SELECT
    (SELECT count() FROM counters
     WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s AND version > %(version)s)
  + (SELECT count() FROM shifts
     WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s AND version > %(version)s)
"""


def _insert(
    client: Client,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
) -> None:
    if rows:
        # Transposed here by zip, in C: given rows, the driver builds every column with a
        # Python loop over them (5 % of the worker's GIL time at scale 1, py-spy).
        data = [list(column) for column in zip(*rows, strict=True)]
        client.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES", data, columnar=True)


class StateStore:
    """Load and write projection state in one Frontline database."""

    def __init__(self, target: ClickHouseTarget) -> None:
        self._target = target
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = self._target.client()
        return self._client

    @property
    def database(self) -> str:
        return self._target.database

    def reset(self) -> None:
        """Drop the connection (after an error) so the next call reconnects."""
        if self._client is not None:
            self._client.disconnect()
        self._client = None

    def load(self, topic: str, partition: int) -> PartitionState:
        if self._target.cluster:
            sync_replicas(self._target, partition)  # every read below sees every write
        params: dict[str, object] = {"topic": topic, "partition": partition}
        state = PartitionState(topic, partition)
        written, checkpoint, messages, head, accepted = self.client.execute(CHECKPOINT, params)[0]
        if written == 0:
            return state
        state.checkpoint = state.applied = int(checkpoint)
        state.messages = int(messages)
        params["version"] = state.checkpoint
        if head:  # none for state written before migration 0006: the chain starts there
            state.chain = bytes.fromhex(head)
            state.accepted = int(accepted)
        state.seen = SeenIds((uuid.int, int(fp)) for uuid, fp in self.client.execute(SEEN, params))
        state.voided = {UUID(str(v)).int for (v,) in self.client.execute(VOIDED, params)}
        for dim, day, org, member, *values in self.client.execute(COUNTERS, params):
            state.counters.load(dim, day, org, member, tuple(values))
        for (
            shift_id,
            has_in,
            has_out,
            in_at,
            out_at,
            day,
            org,
            team,
            site,
            vol,
        ) in self.client.execute(SHIFTS, params):
            state.shifts[shift_id] = Shift(
                bool(has_in), bool(has_out), in_at, out_at, day, org, team, site, vol
            )
        return state

    def event_offsets(
        self, topic: str, partition: int, event_ids: Sequence[UUID], before: int
    ) -> dict[UUID, int]:
        """The offsets of a partition's accepted copies of events, before offset `before`;
        the events not accepted there are left out."""
        params = {
            "topic": topic,
            "partition": partition,
            "event_ids": tuple(event_ids),
            "before": before,
        }
        rows = self.client.execute(EVENT_OFFSETS, params) if event_ids else []
        return {UUID(str(event_id)): int(offset) for event_id, offset in rows}

    def shift_offsets(
        self, topic: str, partition: int, shift_ids: Sequence[str], before: int
    ) -> dict[str, list[int]]:
        """The offsets of a partition's accepted check-ins and check-outs of shifts, before
        offset `before`, in order, by shift."""
        params = {
            "topic": topic,
            "partition": partition,
            "shift_ids": tuple(shift_ids),
            "before": before,
        }
        out: dict[str, list[int]] = {}
        for shift_id, offset in self.client.execute(SHIFT_OFFSETS, params) if shift_ids else []:
            out.setdefault(str(shift_id), []).append(int(offset))
        return out

    def written_past(self, topic: str, partition: int, checkpoint: int) -> bool:
        """Whether counters or shifts hold rows of the partition past its checkpoint: a write
        was cut short after its state rows and before its checkpoint. A merge keeps only the
        newest version of a key, so the state at the checkpoint may be gone for those keys:
        `load` cannot be trusted, the partition's state is rebuilt from Kafka instead."""
        params = {"topic": topic, "partition": partition, "version": checkpoint}
        return int(self.client.execute(WRITTEN_PAST, params)[0][0]) > 0

    def checkpoints(self) -> dict[tuple[str, int], int]:
        """Last offset covered per (topic, partition), over all partitions."""
        return {tp: version for tp, (version, _) in self.positions().items()}

    def checkpoint_marks(self) -> tuple[dict[tuple[str, int], int], int]:
        """Last offset covered per (topic, partition), and the newest checkpoint's write time
        (ms since the epoch; 0 before any)."""
        rows = self.client.execute(ALL_CHECKPOINTS)
        return {(str(t), int(p)): int(v) for t, p, v, _, _ in rows}, max(
            (int(w) for *_, w in rows), default=0
        )

    def positions(self) -> dict[tuple[str, int], tuple[int, int]]:
        """Per (topic, partition): the last offset covered and how many messages were projected
        up to it (0 for checkpoints written before migration 0004, which did not count)."""
        rows = self.client.execute(ALL_CHECKPOINTS)
        return {(str(t), int(p)): (int(v), int(m)) for t, p, v, m, _ in rows}

    def write(
        self,
        log_rows: list[list[object]],
        flushes: Sequence[FlushRows],
        uncounted_rows: Sequence[list[object]] = (),
        voided_presence: Sequence[tuple[object, ...]] = (),
    ) -> None:
        """Write one flush; the checkpoints go last, after everything they cover."""
        now_ms = int(time.time() * 1000)
        client = self.client
        for row in log_rows:
            row[-1] = now_ms  # written_at_ms
        for row in uncounted_rows:
            row[-1] = now_ms
        _insert(client, "event_log", EVENT_LOG_COLUMNS, log_rows)
        _insert(client, "uncounted", UNCOUNTED_COLUMNS, uncounted_rows)
        _insert(
            client,
            "presence_voided",
            ("dim", "day", "org_id", "member", "event_id"),
            voided_presence,
        )
        _insert(client, "counters", COUNTER_ROW_COLUMNS, [r for f in flushes for r in f.counters])
        _insert(client, "shifts", SHIFT_ROW_COLUMNS, [r for f in flushes for r in f.shifts])
        _insert(
            client,
            "checkpoints",
            CHECKPOINT_COLUMNS,
            [
                (f.topic, f.partition, f.version, f.messages, f.accepted, f.chain.hex(), now_ms)
                for f in flushes
            ],
        )
