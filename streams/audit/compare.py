"""`frontline audit --live DB --rebuilt DB`: every projection table and public view, row by row.

Read-only (the `dashboard` user): the projection tables through per-bucket summaries computed
in ClickHouse, then the rows of differing buckets only (projections.audit); the named queries
whole. A difference is a key with its value on each side (None: the row is missing there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from projections import queries
from projections.audit import (
    QUERY_IGNORED,
    QUERY_INPUT,
    QUERY_KEYS,
    RELATIONS,
    Relation,
    query_summary_sql,
)
from projections.connection import ClickHouseTarget
from projections.database import list_databases
from streams.settings import ConfigError

Row = tuple[object, ...]
SHOWN = 20  # differences listed per table or view


@dataclass(frozen=True)
class Difference:
    key: Row
    live: Row | None  # None: no such row in the live database
    rebuilt: Row | None


@dataclass
class Comparison:
    name: str  # table or query
    kind: str  # "table" or "view"
    columns: tuple[str, ...]  # of the values
    key_columns: tuple[str, ...]
    rows: int = 0  # rows compared (the live side)
    differences: list[Difference] = field(default_factory=list)
    derived_from: str = ""  # equal without being run: the same query over this equal table
    more: int = 0  # differences beyond those kept

    @property
    def equal(self) -> bool:
        return not self.differences and not self.more

    def add(self, difference: Difference) -> None:
        if len(self.differences) < SHOWN:
            self.differences.append(difference)
        else:
            self.more += 1


def _diff_rows(
    comparison: Comparison, live: Sequence[Row], rebuilt: Sequence[Row], key_len: int
) -> None:
    def by_key(rows: Sequence[Row]) -> dict[Row, list[Row]]:
        # As sets: the same row twice (a retried insert, not merged yet) is the same state.
        out: dict[Row, set[Row]] = {}
        for row in rows:
            out.setdefault(tuple(row[:key_len]), set()).add(tuple(row[key_len:]))
        return {key: sorted(values, key=repr) for key, values in out.items()}

    left, right = by_key(live), by_key(rebuilt)
    for key in sorted(left.keys() | right.keys(), key=repr):
        a, b = sorted(left.get(key, []), key=repr), sorted(right.get(key, []), key=repr)
        for i in range(max(len(a), len(b))):
            x = a[i] if i < len(a) else None
            y = b[i] if i < len(b) else None
            if x != y:
                comparison.add(Difference(key, x, y))


def compare_relation(
    target: ClickHouseTarget, relation: Relation, live: str, rebuilt: str
) -> Comparison:
    client = target.client(database=False)
    try:
        comparison = Comparison(relation.name, "table", relation.values, relation.key)
        sides = []
        for db in (live, rebuilt):
            sides.append(
                {int(b): (int(n), int(h)) for b, n, h in client.execute(relation.summary_sql(db))}
            )
        comparison.rows = sum(n for n, _ in sides[0].values())
        differing = sorted(
            b for b in sides[0].keys() | sides[1].keys() if sides[0].get(b) != sides[1].get(b)
        )
        if differing:
            params = {"buckets": tuple(differing)}  # a tuple: 18.16 takes no array after IN
            rows = [client.execute(relation.rows_sql(db), params) for db in (live, rebuilt)]
            _diff_rows(comparison, rows[0], rows[1], len(relation.key))
        return comparison
    finally:
        client.disconnect()


def compare_query(target: ClickHouseTarget, name: str, live: str, rebuilt: str) -> Comparison:
    ignored = QUERY_IGNORED.get(name, ())
    key = QUERY_KEYS[name]
    comparison = Comparison(name, "view", (), key)
    if not ignored:  # summarised in ClickHouse first; read whole only if they differ
        summaries = []
        for db in (live, rebuilt):
            client = target.with_database(db).client()
            try:
                sql = query_summary_sql(queries.sql(name))
                summaries.append(client.execute(sql, queries.params())[0])
            finally:
                client.disconnect()
        comparison.rows = int(summaries[0][0])
        if summaries[0] == summaries[1]:
            return comparison
    results = [queries.run(target.with_database(db), name) for db in (live, rebuilt)]
    columns = [c for c in results[0].columns if c not in ignored]
    comparison.columns = tuple(c for c in columns if c not in key)
    comparison.rows = len(results[0].rows)
    keep = [results[0].columns.index(c) for c in (*key, *comparison.columns)]
    shaped = [[tuple(row[i] for i in keep) for row in result.rows] for result in results]
    _diff_rows(comparison, shaped[0], shaped[1], len(key))
    return comparison


def audit(
    target: ClickHouseTarget,
    live: str,
    rebuilt: str,
    progress: Callable[[Comparison], None] = lambda c: None,
) -> list[Comparison]:
    """Compare every projection table and named query of `live` and `rebuilt` as `target`'s
    user (the read-only `dashboard` user for an auditor)."""
    existing = set(list_databases(target))
    for db, what in ((live, "live"), (rebuilt, "rebuilt")):
        if db not in existing:
            hint = (
                f"`frontline replay --into {db}` first"
                if what == "rebuilt"
                else ("check FRONTLINE_CLICKHOUSE_DATABASE or --live")
            )
            raise ConfigError(
                f"no database {db} (the {what} one) that {target.user} can read: {hint}"
            )
    out = []
    for relation in RELATIONS:
        out.append(compare_relation(target, relation, live, rebuilt))
        progress(out[-1])
    equal_tables = {c.name for c in out if c.equal}
    for name in QUERY_KEYS:
        source = QUERY_INPUT.get(name, "")
        if source in equal_tables:
            out.append(Comparison(name, "view", (), QUERY_KEYS[name], derived_from=source))
        else:
            out.append(compare_query(target, name, live, rebuilt))
        progress(out[-1])
    return out
