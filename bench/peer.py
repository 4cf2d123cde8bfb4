"""The peer (issue #15): what a user would build instead of Frontline, with ClickHouse alone.

ClickHouse's Kafka table engine reads the event topic; two materialized views keep aggregates
(SummingMergeTree with uniqExact states, AggregatingMergeTree) that give the 14 public figures
of Frontline's `totals` view. The SQL is bench/peer/*.sql. `peer()` creates it in a database the
caller made, with a consumer group of its own preset to the start of the topic, and drops it
all afterwards.

The peer is inexact on purpose, as such a build is: no validation and no idempotency, so a
retried message counts twice, a voided event still counts, so do a conflicting duplicate and
anything a message's fields say. Distinct counts (orgs, teams, volunteers) and the shift
figures (min/max per shift_id) are the exception: a copy of an event changes nothing there.

    .venv/bin/python bench/peer.py --prefix peerdev. --expect /tmp/peer-sim.json

runs the peer on `<prefix>events` until it has consumed the whole topic, then prints events/s
and each figure against the simulator's expected totals.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

from projections.columns import PUBLIC  # noqa: E402
from streams.settings import Settings  # noqa: E402

SQL_DIR = Path(__file__).with_name("peer")
# Names the bench generates (never user input), checked before they are spliced into SQL.
NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
BROKERS = re.compile(r"^[A-Za-z0-9_.:,\[\]-]+$")
CREATED = re.compile(r"^CREATE (MATERIALIZED VIEW|TABLE) \S+\.(\w+)", re.MULTILINE)
# Public columns the peer cannot compute: none. The shift figures need Frontline's pairing
# (earliest check-in, latest check-out per shift_id), which min/max states per shift_id give.
NOT_COMPUTED: frozenset[str] = frozenset()


def _checked(kind: str, value: str, pattern: re.Pattern[str] = NAME) -> str:
    if not pattern.match(value):
        raise ValueError(f"{kind} {value!r} may not be spliced into SQL")
    return value


def statements(sql: str, names: Mapping[str, str]) -> list[str]:
    """`sql` split at `;` ending a line, comment lines dropped, `{name}` placeholders filled."""
    out = []
    for chunk in re.split(r";\s*$", sql, flags=re.MULTILINE):
        code = "\n".join(line for line in chunk.splitlines() if not line.strip().startswith("--"))
        if not code.strip():
            continue
        for name, value in names.items():
            code = code.replace("{" + name + "}", value)
        left = re.search(r"\{[a-z_]+\}", code)
        if left:
            raise ValueError(f"placeholder {left[0]} not filled in: {code[:80]}")
        out.append(code.strip())
    return out


@dataclass
class Peer:
    """A running peer: its Kafka table reads `topic` into `settings`' database."""

    settings: Settings
    topic: str
    group: str  # the Kafka table's consumer group
    num_consumers: int = 1
    _admin: Any = field(default=None, repr=False)
    _begin: dict[TopicPartition, int] = field(default_factory=dict, repr=False)

    def _query(self, sql: str, params: Mapping[str, object] | None = None) -> Any:
        client = self.settings.clickhouse.client()
        try:
            return client.execute(sql, params, with_column_types=True)
        finally:
            client.disconnect()

    def totals(self) -> dict[str, int | float | None]:
        """The 14 public columns of `totals` as the peer has them now (None: not computed)."""
        got: dict[str, Any] = {}
        params = {"auto_close_s": round(self.settings.auto_close_hours * 3600)}
        sql = (SQL_DIR / "totals.sql").read_text()
        for query in statements(sql, {"db": f"`{self.settings.clickhouse_database}`"}):
            rows, columns = self._query(query, params if "%(" in query else None)
            got.update(zip((name for name, _ in columns), rows[0], strict=True))
        return {c: None if c in NOT_COMPUTED else got[c] for c in PUBLIC}

    def end(self) -> int:
        """Messages on the topic now, over all partitions."""
        consumer = KafkaConsumer(bootstrap_servers=self.settings.bootstrap_servers)
        try:
            ends = consumer.end_offsets(list(self._begin))
        finally:
            consumer.close()
        return sum(ends[tp] - begin for tp, begin in self._begin.items())

    def committed(self) -> int:
        """Messages the consumer group has committed, over all partitions."""
        offsets = self._admin.list_group_offsets({self.group: None}).get(self.group, {})
        return sum(
            max(offsets[tp].offset - begin, 0) if tp in offsets else 0
            for tp, begin in self._begin.items()
        )

    def counted(self) -> int:
        """Messages in peer_totals (each view has them: see bench/peer/2_views.sql)."""
        rows, _ = self._query("SELECT sum(events) FROM peer_totals")
        return int(rows[0][0] or 0)

    def consumed(self) -> int:
        """Messages consumed and visible in every table. 18.16 commits a read's offsets before
        it pushes the read's last block (up to ~1 M rows) to the views, so the committed
        offsets alone run ahead; the count alone runs ahead after a failed block is re-read."""
        return min(self.committed(), self.counted())

    def consumers(self) -> int:
        """Active members of the consumer group (the Kafka table's librdkafka consumers)."""
        described = self._admin.describe_groups([self.group])
        return len(described.get(self.group, {}).get("members") or [])


def _partitions(settings: Settings, topic: str) -> dict[TopicPartition, int]:
    """The topic's partitions and their first offsets."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    try:
        ids = consumer.partitions_for_topic(topic)
        if not ids:
            raise ValueError(f"topic {topic!r} does not exist")
        tps = [TopicPartition(topic, p) for p in sorted(ids)]
        return dict(consumer.beginning_offsets(tps))
    finally:
        consumer.close()


def _preset(admin: Any, group: str, begin: Mapping[TopicPartition, int], timeout: float) -> None:
    """Commit the start of every partition for the new `group` (librdkafka would start it at
    the end). Retried: a fresh Kafka answers COORDINATOR_NOT_AVAILABLE for a while."""
    offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in begin.items()}
    deadline = time.monotonic() + timeout
    while True:
        try:
            errors = admin.alter_group_offsets(group, offsets)
            problem: object = {tp: e for tp, e in errors.items() if e.__name__ != "NoError"}
            if not problem:
                return
        except KafkaError as exc:
            problem = exc
        if time.monotonic() > deadline:
            raise RuntimeError(f"cannot preset the offsets of group {group}: {problem}")
        time.sleep(0.5)


def _drop(settings: Settings, sql: str) -> None:
    """Drop what `sql` creates, views first (then the Kafka table stops streaming)."""
    client = settings.clickhouse.client()
    db = f"`{settings.clickhouse_database}`"
    made = CREATED.findall(sql)
    try:
        for kind in ("MATERIALIZED VIEW", "TABLE"):
            for _, name in (m for m in made if m[0] == kind):
                client.execute(f"DROP TABLE IF EXISTS {db}.{name}")
    finally:
        client.disconnect()


def _delete_group(admin: Any, group: str, timeout: float = 15) -> None:
    """Delete the group once its consumers have left (dropping the Kafka table closes them;
    a consumer that could not leave keeps the group until its session times out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(KafkaError):
            # kafka-python 3.0 answers {group: "OK" or the error's name}.
            if admin.delete_groups([group]).get(group) in ("OK", "GroupIdNotFoundError"):
                return
        time.sleep(0.5)


@contextmanager
def peer(settings: Settings, topic: str, consumers: int = 1) -> Iterator[Peer]:
    """Create the peer in `settings.clickhouse_database` (which the caller created empty), its
    consumer group preset to the start of `topic`; yields once created (consumption starts at
    once, within 500 ms). Afterwards drops every table and view it made and deletes its group.

    `consumers`: kafka_num_consumers of the Kafka table (at most one per partition reads)."""
    if settings.kafka_security_protocol != "PLAINTEXT":
        # 18.16's Kafka engine takes credentials from the server's config only.
        raise ValueError("the peer needs a PLAINTEXT Kafka listener")
    if not 1 <= consumers <= 64:
        raise ValueError(f"consumers={consumers}: want 1 to 64")
    group = _checked("group", f"{topic}.peer.{uuid.uuid4().hex[:12]}")
    names = {
        "db": f"`{settings.clickhouse_database}`",  # a checked identifier (Settings)
        "topic": _checked("topic", topic),
        "group": group,
        "broker": _checked("broker list", settings.kafka_bootstrap.replace(" ", ""), BROKERS),
        "consumers": str(consumers),
    }
    files = sorted(SQL_DIR.glob("[0-9]_*.sql"))
    sql = "\n".join(path.read_text() for path in files)
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        begin = _partitions(settings, topic)
        _preset(admin, group, begin, settings.startup_timeout)
        try:
            client = settings.clickhouse.client()
            try:
                for statement in statements(sql, names):
                    client.execute(statement)
            finally:
                client.disconnect()
            yield Peer(settings, topic, group, consumers, admin, begin)
        finally:
            _drop(settings, sql)
            _delete_group(admin, group)
    finally:
        admin.close()


def wait_consumed(p: Peer, target: int, timeout: float, poll: float = 0.1) -> float:
    """Wait until the peer has consumed `target` messages; seconds waited."""
    start = time.monotonic()
    while (done := p.consumed()) < target:
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"the peer consumed {done} of {target} messages in {timeout:g} s")
        time.sleep(poll)
    return time.monotonic() - start


def compare(got: Mapping[str, int | float | None], want: Mapping[str, Any]) -> list[str]:
    """One line per public column: the peer's value, the expected one, the relative error."""
    lines = []
    for column in PUBLIC:
        value, expected = got[column], want.get(column)
        if value is None or expected is None:
            error = "n/a"
        elif expected == 0:
            error = "exact" if value == 0 else "inf"
        else:
            error = f"{(value - expected) / expected:+.3%}"
        lines.append(f"{column:<17}{value!s:>14}{expected!s:>14}  {error}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--prefix", required=True, help="topic prefix: reads <prefix>events")
    parser.add_argument("--expect", type=Path, help="the simulator's --expect file")
    parser.add_argument("--consumers", type=int, default=1, help="kafka_num_consumers")
    parser.add_argument(
        "--database", help="ClickHouse database, made and dropped here (default: <database>_t5)"
    )
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)

    from projections.database import create_database, drop_database

    env = Settings.from_env()
    settings = env.model_copy(
        update={
            "topic_prefix": args.prefix,
            "clickhouse_database": args.database or f"{env.clickhouse_database}_t5",
        }
    )
    drop_database(settings.clickhouse)
    create_database(settings.clickhouse)
    try:
        start = time.monotonic()
        with peer(settings, settings.topic("events"), args.consumers) as p:
            created = time.monotonic() - start
            total = p.end()
            first = None  # when the first rows became visible
            while (done := p.consumed()) < total:
                if first is None and p.counted() > 0:
                    first = time.monotonic() - start
                if time.monotonic() - start > args.timeout:
                    raise TimeoutError(f"consumed {done} of {total} in {args.timeout:g} s")
                time.sleep(0.05)
            elapsed = time.monotonic() - start
            got = p.totals()
        print(
            f"{total:,} messages consumed in {elapsed:.2f} s from the first CREATE: "
            f"{total / elapsed:,.0f} events/s (kafka_num_consumers={args.consumers}; created "
            f"in {created:.2f} s; first rows visible at "
            f"{'-' if first is None else f'{first:.2f} s'})"
        )
        if args.expect:
            want = json.loads(args.expect.read_text())["totals"]
            print(f"{'column':<17}{'peer':>14}{'expected':>14}  error")
            print("\n".join(compare(got, want)))
        else:
            print(json.dumps(got, indent=1))
    finally:
        drop_database(settings.clickhouse)


if __name__ == "__main__":
    main()
