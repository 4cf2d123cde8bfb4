"""What `frontline audit` compares between two Frontline databases, and the SQL it runs.

Two kinds of things are compared:

- the projection tables, as state (what a worker would load: the newest version of each row,
  without the writer's clock), row by row. They are big (event_log has a row per event), so
  each side is first summarised in ClickHouse, per bucket of keys (a count and a sum of row
  hashes), and only the buckets that differ are read and compared in Python, as sets: a row
  written twice by a retried insert (not merged yet) is the same state, and FINAL would cost
  five times the scan;
- the public views and named queries: summarised whole the same way, read only if they differ.

The SQL is built here from these declarations, never from user input; database names are
checked identifiers (projections.connection.DATABASE_NAME).
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.columns import COUNTERS
from projections.projection import EVENT_LOG_COLUMNS, SHIFT_ROW_COLUMNS, UNCOUNTED_COLUMNS

BUCKETS = 1024
UUID_COLUMNS = frozenset({"event_id"})


@dataclass(frozen=True)
class Relation:
    """A projection table as state: `source` is a FROM clause with `{db}`."""

    name: str
    key: tuple[str, ...]
    values: tuple[str, ...]
    source: str

    def summary_sql(self, db: str) -> str:
        """Per bucket: rows and a sum of row hashes (UInt64 sums wrap: order-free and exact
        enough to tell two sets apart)."""
        return (
            f"SELECT {self._bucket()} AS bucket, count(), sum(cityHash64({self._as_text()})) "
            f"FROM {self.source.format(db=f'`{db}`')} GROUP BY bucket"
        )

    def rows_sql(self, db: str) -> str:
        """Every row of some buckets (parameter `buckets`)."""
        return (
            f"SELECT {self._columns()} FROM {self.source.format(db=f'`{db}`')} "
            f"WHERE {self._bucket()} IN %(buckets)s"
        )

    def _bucket(self) -> str:
        # modulo(), not %: the driver binds %(name)s parameters in the same text.
        keys = ", ".join(f"toString({c})" for c in self.key)
        return f"modulo(cityHash64({keys}), {BUCKETS})"

    def _as_text(self) -> str:
        # 18.16's cityHash64 takes no UUID: those are hashed as their text.
        return ", ".join(
            f"toString({c})" if c in UUID_COLUMNS else c for c in (*self.key, *self.values)
        )

    def _columns(self) -> str:
        return ", ".join((*self.key, *self.values))


# The state a worker writes, without what keys it and what only the writer knows (its clock,
# the versions): the same columns as projections.projection writes, declared there once.
_LOG_KEY = ("kafka_topic", "kafka_partition", "kafka_offset")
_NOT_STATE = frozenset({"written_at_ms", "version"})
_LOG_VALUES = tuple(c for c in EVENT_LOG_COLUMNS if c not in _LOG_KEY and c not in _NOT_STATE)
_UNCOUNTED_VALUES = tuple(c for c in UNCOUNTED_COLUMNS if c not in _LOG_KEY and c not in _NOT_STATE)
_SHIFT_KEY = ("kafka_topic", "kafka_partition", "shift_id")
_SHIFT_VALUES = tuple(c for c in SHIFT_ROW_COLUMNS if c not in _SHIFT_KEY and c not in _NOT_STATE)
_STATE = ", ".join(f"argMax({c}, version) AS {c}" for c in COUNTERS)
_SHIFT_STATE = ", ".join(f"argMax({c}, version) AS {c}" for c in _SHIFT_VALUES)

RELATIONS = (
    Relation(
        "checkpoints",
        ("kafka_topic", "kafka_partition"),
        ("at_version", "messages", "events", "head"),
        # Not `AS version`: an alias is visible to the other aggregates (current releases
        # refuse an aggregate inside another; 18.16 substitutes it).
        "(SELECT kafka_topic, kafka_partition, max(version) AS at_version, "
        "argMax(messages, version) AS messages, argMax(events, version) AS events, "
        "argMax(head, version) AS head FROM {db}.checkpoints "
        "GROUP BY kafka_topic, kafka_partition)",
    ),
    Relation("event_log", _LOG_KEY, _LOG_VALUES, "{db}.event_log"),
    Relation("uncounted", _LOG_KEY, _UNCOUNTED_VALUES, "{db}.uncounted"),
    Relation(
        "counters",
        ("kafka_topic", "kafka_partition", "dim", "day", "org_id", "member"),
        COUNTERS,
        f"(SELECT kafka_topic, kafka_partition, dim, day, org_id, member, {_STATE} "
        "FROM {db}.counters GROUP BY kafka_topic, kafka_partition, dim, day, org_id, member)",
    ),
    Relation(
        "shifts",
        _SHIFT_KEY,
        _SHIFT_VALUES,
        f"(SELECT kafka_topic, kafka_partition, shift_id, {_SHIFT_STATE} "
        "FROM {db}.shifts GROUP BY kafka_topic, kafka_partition, shift_id)",
    ),
    Relation(
        "shift_policy",
        ("key",),
        ("auto_close_s",),
        "(SELECT key, argMax(auto_close_s, version) AS auto_close_s FROM {db}.shift_policy "
        "GROUP BY key)",
    ),
    Relation(
        "presence",
        ("dim", "day", "org_id", "member"),
        (),
        "(SELECT DISTINCT dim, day, org_id, member FROM {db}.presence)",
    ),
    Relation(
        "presence_voided",
        ("dim", "day", "org_id", "member", "event_id"),
        (),
        "(SELECT DISTINCT dim, day, org_id, member, event_id FROM {db}.presence_voided)",
    ),
)

# Named queries (projections/queries) compared whole, with the columns that key a row. Left
# out: event_delay (the writer's clock), and open_shifts' open_hours (the reader's clock).
QUERY_KEYS: dict[str, tuple[str, ...]] = {
    "totals": (),
    "daily_by_org": ("day", "org_id"),
    "daily_by_team": ("day", "org_id", "team_id"),
    "daily_by_site": ("day", "org_id", "site_id"),
    "call_outcomes": ("outcome",),
    "not_counted": ("outcome", "code"),
    "open_shifts": ("shift_id",),
}
QUERY_IGNORED = {"open_shifts": ("open_hours",)}
# Named queries that read only one compared table (the same SQL text runs on both sides):
# when that table is equal as state, so is the query's result, and running it twice would cost
# most of an audit (9 of 45 s for daily_by_site at scale 1). The public views, totals and
# daily_by_org, are always compared.
QUERY_INPUT = {
    "daily_by_team": "counters",
    "daily_by_site": "counters",
    "call_outcomes": "counters",
    "not_counted": "uncounted",
}


def query_summary_sql(query: str) -> str:
    """Rows and a sum of row hashes of a named query's whole result (`*` expands in a function's
    arguments on 18.16 and current releases alike)."""
    return f"SELECT count(), sum(cityHash64(*)) FROM ({query.strip().rstrip(';')})"


# Promoting a rebuild: the tables a worker writes and the views read. 18.16 renames tables one
# by one (current releases also have EXCHANGE TABLES, atomic); views and the materialized view
# are recreated by `frontline migrate` in the promoted database.
SWAPPED_TABLES = (
    "event_log",
    "uncounted",
    "counters",
    "shifts",
    "checkpoints",
    "presence",
    "presence_voided",
)

# The accepted events an export selects: their offsets, a list per partition, day and type
# (the caller keeps those up to each partition's checkpoint: rows past it belong to a write not
# yet finished). Lists, not a row per event: at scale 1 a day's 365,000 rows took 0.45 s to
# decode in Python. groupUniqArray: a row written twice before a merge is one event.
SELECTED_EVENTS = """
SELECT kafka_partition, day, type, groupUniqArray(kafka_offset) AS offsets
FROM event_log
WHERE kafka_topic = %(topic)s
  AND day >= %(from_day)s AND day <= %(to_day)s
  AND (%(org_id)s = '' OR org_id = %(org_id)s)
  AND (%(type)s = '' OR type = %(type)s)
GROUP BY kafka_partition, day, type
"""

# `frontline trace`: one figure of daily_by_org (the column is one of columns.DAILY_BY_ORG,
# checked before it is named here) and the rows behind it.
FIGURE = """
SELECT {metric} FROM daily_by_org WHERE day = %(day)s AND org_id = %(org_id)s
"""
TRACE_EVENTS = """
SELECT DISTINCT kafka_partition, kafka_offset, kafka_ts_ms, event_id, type, occurred_at,
       team_id, volunteer_id, shift_id
FROM event_log
WHERE kafka_topic = %(topic)s AND day = %(day)s AND org_id = %(org_id)s
  AND (%(all_types)s = 1 OR type IN %(types)s) AND type != 'event.voided'
ORDER BY occurred_at, kafka_partition, kafka_offset
"""
# Every void in the history (voids are rare), with the event it cancels (`voids`).
TRACE_VOIDS = """
SELECT DISTINCT kafka_partition, kafka_offset, kafka_ts_ms, event_id, type, occurred_at,
       team_id, volunteer_id, shift_id, voids
FROM event_log
WHERE kafka_topic = %(topic)s AND voids != ''
ORDER BY kafka_partition, kafka_offset
"""
TRACE_SHIFTS = """
SELECT shift_id, status, service_s
FROM shifts_current
WHERE day = %(day)s AND org_id = %(org_id)s AND status != 'orphan_checkout'
ORDER BY shift_id
"""
SHIFT_EVENTS = """
SELECT DISTINCT kafka_partition, kafka_offset, kafka_ts_ms, event_id, type, occurred_at,
       team_id, volunteer_id, shift_id
FROM event_log
WHERE kafka_topic = %(topic)s AND shift_id IN %(shifts)s
  AND type IN ('volunteer.checked_in', 'volunteer.checked_out')
ORDER BY shift_id, occurred_at, kafka_partition, kafka_offset
"""

# The hash chain (migration 0006): a partition's accepted events up to its checkpoint, and the
# head stored with the checkpoint.
ACCEPTED = """
SELECT DISTINCT kafka_offset, content_hash FROM event_log
WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s
  AND kafka_offset <= %(checkpoint)s
ORDER BY kafka_offset
"""
HEAD_AT = """
SELECT any(events), any(head) FROM checkpoints
WHERE kafka_topic = %(topic)s AND kafka_partition = %(partition)s AND version = %(checkpoint)s
"""
