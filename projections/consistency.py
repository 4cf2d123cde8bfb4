"""Is every offset up to a checkpoint accounted for? (`frontline lag`, `frontline verify`)

Every message the worker projects leaves exactly one trace in ClickHouse: a row of event_log
(counted) or of uncounted (duplicate, conflict, rejection), both keyed by their Kafka offset,
and every checkpoint says how many messages it covers. A partition is consistent when the
offsets up to its checkpoint that Kafka holds are exactly the offsets ClickHouse has a row for.
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.connection import ClickHouseTarget

RECORDED = """
SELECT uniqExact(kafka_offset), min(kafka_offset), max(kafka_offset)
FROM
(
    SELECT kafka_offset FROM event_log
    WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s
      AND kafka_offset <= %(version)s
    UNION ALL
    SELECT kafka_offset FROM uncounted
    WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s
      AND kafka_offset <= %(version)s
)
"""
RECORDED_OFFSETS = """
SELECT DISTINCT kafka_offset
FROM
(
    SELECT kafka_offset FROM event_log
    WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s
      AND kafka_offset BETWEEN %(first)s AND %(version)s
    UNION ALL
    SELECT kafka_offset FROM uncounted
    WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s
      AND kafka_offset BETWEEN %(first)s AND %(version)s
)
"""


@dataclass(frozen=True)
class Recorded:
    """What ClickHouse holds for one partition up to its checkpoint."""

    offsets: int  # distinct offsets with a row
    first: int | None
    last: int | None


def recorded(target: ClickHouseTarget, topic: str, partition: int, version: int) -> Recorded:
    count, first, last = target.client().execute(
        RECORDED, {"topic": topic, "partition": partition, "version": version}
    )[0]
    if not count:
        return Recorded(0, None, None)
    return Recorded(int(count), int(first), int(last))


def recorded_offsets(
    target: ClickHouseTarget, topic: str, partition: int, first: int, version: int
) -> set[int]:
    """The offsets in [first, version] that ClickHouse has a row for."""
    rows = target.client().execute(
        RECORDED_OFFSETS,
        {"topic": topic, "partition": partition, "first": first, "version": version},
    )
    return {int(offset) for (offset,) in rows}
