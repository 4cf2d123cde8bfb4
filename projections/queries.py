"""Named, read-only queries for dashboards: `projections/queries/NAME.sql`.

Parameters are bound by clickhouse-driver (escaped client-side, as 18.16 has no server-side
parameters); nothing from the user is ever spliced into SQL text. Every query takes `org_id`
('' = all), `from_day` and `to_day`; `totals` ignores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from projections.connection import ClickHouseTarget

QUERIES_DIR = Path(__file__).parent / "queries"
FIRST_DAY = date(2019, 12, 1)
LAST_DAY = date(2105, 12, 31)


class UnknownQueryError(KeyError):
    """No query of that name; the message lists the names."""


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[object, ...]]


def names() -> list[str]:
    return sorted(p.stem for p in QUERIES_DIR.glob("*.sql"))


def sql(name: str) -> str:
    path = QUERIES_DIR / f"{name}.sql"
    if name not in names():
        raise UnknownQueryError(f"no query {name!r}; known: {', '.join(names())}")
    return path.read_text()


def params(
    org_id: str = "",
    from_day: date = FIRST_DAY,
    to_day: date = LAST_DAY,
    extra: dict[str, object] | None = None,
) -> dict[str, object]:
    """The parameters every named query takes (defaults: all orgs, all days)."""
    return {"org_id": org_id, "from_day": from_day, "to_day": to_day, **(extra or {})}


def run(
    target: ClickHouseTarget,
    name: str,
    *,
    org_id: str = "",
    from_day: date = FIRST_DAY,
    to_day: date = LAST_DAY,
    extra: dict[str, object] | None = None,
) -> Result:
    bound = params(org_id, from_day, to_day, extra)
    rows, types = target.client().execute(sql(name), bound, with_column_types=True)
    return Result([c for c, _ in types], [tuple(r) for r in rows])


def plain(value: object) -> object:
    """A value as JSON and CSV show it: dates in ISO 8601, decimals as their exact text."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def records(result: Result) -> list[dict[str, object]]:
    """The rows as JSON objects: what `frontline query --format json` prints and the dashboard
    API returns."""
    return [{c: plain(v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows]
