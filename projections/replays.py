"""The plan of a replay, kept in the database it rebuilds (migration 0005)."""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_driver import Client

PLAN_COLUMNS = (
    "kafka_topic",
    "kafka_partition",
    "start_offset",
    "end_offset",
    "from_ms",
    "to_ms",
    "org_id",
    "planned_at_ms",
)
READ_PLAN = f"SELECT {', '.join(PLAN_COLUMNS)} FROM replay_plan FINAL ORDER BY kafka_partition"
WRITE_PLAN = f"INSERT INTO replay_plan ({', '.join(PLAN_COLUMNS)}) VALUES"
ANY_CHECKPOINT = "SELECT count() FROM checkpoints"


@dataclass(frozen=True)
class PartitionPlan:
    topic: str
    partition: int
    start: int  # first offset replayed
    end: int  # first offset not replayed

    @property
    def size(self) -> int:
        return max(self.end - self.start, 0)

    def covered(self, checkpoint: int) -> int:
        """Messages of this partition's share a checkpoint at `checkpoint` covers (an
        interrupted replay's; -1 or below `start`: none)."""
        return max(0, min(checkpoint + 1, self.end) - self.start)


@dataclass(frozen=True)
class ReplayPlan:
    partitions: tuple[PartitionPlan, ...]
    from_ms: int  # 0: from each partition's first offset
    to_ms: int  # 0: to the end offsets as of planning
    org_id: str  # "": every organisation
    planned_at_ms: int

    @property
    def size(self) -> int:
        return sum(p.size for p in self.partitions)

    def same_request(self, other: ReplayPlan) -> bool:
        """The same --from, --to and --org (and topic): `other` may resume this replay."""
        return (self.from_ms, self.to_ms, self.org_id) == (
            other.from_ms,
            other.to_ms,
            other.org_id,
        ) and {p.topic for p in self.partitions} == {p.topic for p in other.partitions}


def read_plan(client: Client) -> ReplayPlan | None:
    rows = client.execute(READ_PLAN)
    if not rows:
        return None
    first = rows[0]
    return ReplayPlan(
        tuple(PartitionPlan(str(t), int(p), int(s), int(e)) for t, p, s, e, *_ in rows),
        from_ms=int(first[4]),
        to_ms=int(first[5]),
        org_id=str(first[6]),
        planned_at_ms=int(first[7]),
    )


def write_plan(client: Client, plan: ReplayPlan) -> None:
    client.execute(
        WRITE_PLAN,
        [
            (
                p.topic,
                p.partition,
                p.start,
                p.end,
                plan.from_ms,
                plan.to_ms,
                plan.org_id,
                plan.planned_at_ms,
            )
            for p in plan.partitions
        ],
    )


def has_checkpoints(client: Client) -> bool:
    return int(client.execute(ANY_CHECKPOINT)[0][0]) > 0
