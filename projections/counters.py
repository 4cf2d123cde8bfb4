"""One partition's additive counters, packed: no Python object per counter.

A worker holds millions of counters at scale 1 (2.3 M keys for the 5.7 M-event campaign). As a
dict of (dim, day, org, member) tuples to slotted objects they took ~204 bytes each, and the
garbage collector walked every one of those objects on each full collection: with it off,
catch-up ran 22 % faster. Here a key is one int (dimension, day number and two interned name
indexes) and the eight values live in one `array('q')`, so the dict holds only ints and the
collector never looks at it.
"""

from __future__ import annotations

from array import array
from datetime import date, timedelta

from projections.columns import COUNTERS

# The values of a counter: the counters table's value columns, in this order.
COLUMNS = COUNTERS
STRIDE = len(COLUMNS)
EVENTS, CALLS, CALLS_REACHED, CALL_S, SAMPLING_ASSISTS, DISINFECTED_M2, FLOORS, DONATIONS_FEN = (
    range(STRIDE)
)
DIMS = ("org", "team", "site", "outcome")
ORG, TEAM, SITE, OUTCOME = range(len(DIMS))
_DIM_OF = {name: i for i, name in enumerate(DIMS)}

_NAME_BITS = 20  # interned org/team/site/outcome names per process: ~10^4 in the article
_NAME_MASK = (1 << _NAME_BITS) - 1
_ORG_SHIFT = _NAME_BITS + 2
_DAY_SHIFT = 2 * _NAME_BITS + 2
_EPOCH = date(1970, 1, 1)

# Names and days are shared by every partition of the process; they only ever grow, by the
# number of distinct organisations, teams, sites and days.
_NAMES: list[str] = []
_INDEX: dict[str, int] = {}
_DAYS: dict[int, date] = {}


def name_index(name: str) -> int:
    i = _INDEX.get(name)
    if i is None:
        i = len(_NAMES)
        if i > _NAME_MASK:
            raise OverflowError(
                f"more than {_NAME_MASK + 1} distinct org/team/site ids in one worker process"
            )
        _INDEX[name] = i
        _NAMES.append(name)
    return i


def indexes(org: str, team: str, site: str) -> tuple[int, int, int]:
    """`name_index` of an event's org, team and site (-1: no site), in one call."""
    index = _INDEX
    o, t = index.get(org), index.get(team)
    if o is None:
        o = name_index(org)
    if t is None:
        t = name_index(team)
    if not site:
        return o, t, -1
    s = index.get(site)
    return o, t, name_index(site) if s is None else s


def day_of(number: int) -> date:
    """The date `number` days after 1970-01-01, one shared object per day."""
    day = _DAYS.get(number)
    if day is None:
        day = _DAYS[number] = _EPOCH + timedelta(days=number)
    return day


def pack(dim: str, day: date, org: str, member: str) -> int:
    """The key of a counter; `Counters.count` builds the same layout inline, per event."""
    prefix = (((day - _EPOCH).days << _NAME_BITS) | name_index(org)) << _ORG_SHIFT
    return prefix | (name_index(member) << 2) | _DIM_OF[dim]


def unpack(key: int) -> tuple[str, date, str, str]:
    """`pack` undone; `Counters.changed_rows` does the same inline, per changed key."""
    member = _NAMES[(key >> 2) & _NAME_MASK]
    org = _NAMES[(key >> _ORG_SHIFT) & _NAME_MASK]
    return DIMS[key & 3], day_of(key >> _DAY_SHIFT), org, member


class Counters:
    """Counters by packed key, and the keys changed since the last flush in first-change order."""

    __slots__ = ("_dirty", "_slot", "values")

    def __init__(self) -> None:
        self._slot: dict[int, int] = {}  # key -> offset of its first value in `values`
        self.values = array("q")
        self._dirty: dict[int, None] = {}

    def __len__(self) -> int:
        return len(self._slot)

    def _offset(self, key: int) -> int:
        """Where `key`'s values start; a new key gets zeros."""
        at = self._slot.get(key)
        if at is None:
            at = self._slot[key] = len(self.values)
            self.values.extend(_ZEROS)
        return at

    def bump(self, key: int) -> int:
        """Count one more event under `key`; returns the offset of its values for the rest."""
        at = self._offset(key)
        self.values[at] += 1
        self._dirty[key] = None
        return at

    def count(
        self, day_number: int, org: int, team: int, site: int, outcome: str, sign: int = 1
    ) -> list[int]:
        """One event (sign -1: one event voided): bump its org's, team's and (site >= 0) site's
        and (if any) call outcome's counters of that day, names given by `indexes`; the
        offsets of their values, in that order. For events with several values or a call
        outcome (calls, disinfections: ~1.5 % of the campaign's); `add` is the hot path."""
        prefix = ((day_number << _NAME_BITS) | org) << _ORG_SHIFT
        keys = [prefix | (org << 2) | ORG, prefix | (team << 2) | TEAM]
        if site >= 0:
            keys.append(prefix | (site << 2) | SITE)
        if outcome:
            keys.append(prefix | (name_index(outcome) << 2) | OUTCOME)
        offsets = []
        for key in keys:
            at = self._offset(key)
            self.values[at] += sign
            self._dirty[key] = None
            offsets.append(at)
        return offsets

    def add(
        self, day_number: int, org: int, team: int, site: int, sign: int, column: int, amount: int
    ) -> None:
        """`count` for an event with no call outcome, adding `amount` to one value `column` of
        each counter too (EVENTS and 0 for none): all but calls and disinfections, 93 % of the
        campaign's events. `_offset` written out, without `count`'s lists: it runs for nearly
        every event."""
        prefix = ((day_number << _NAME_BITS) | org) << _ORG_SHIFT
        slot, values, dirty = self._slot, self.values, self._dirty
        keys: tuple[int, ...] = (prefix | (org << 2) | ORG, prefix | (team << 2) | TEAM)
        if site >= 0:
            keys += (prefix | (site << 2) | SITE,)
        for key in keys:
            at = slot.get(key)
            if at is None:
                at = slot[key] = len(values)
                values.extend(_ZEROS)
            values[at] += sign
            values[at + column] += amount
            dirty[key] = None

    def get(self, dim: str, day: date, org: str, member: str) -> tuple[int, ...] | None:
        at = self._slot.get(pack(dim, day, org, member))
        return None if at is None else tuple(self.values[at : at + STRIDE])

    def load(self, dim: str, day: date, org: str, member: str, values: tuple[int, ...]) -> None:
        """Set a counter as read back from ClickHouse (not marked as changed)."""
        at = self._offset(pack(dim, day, org, member))
        self.values[at : at + STRIDE] = array("q", values)

    def changed_rows(self, topic: str, partition: int, version: int) -> list[tuple[object, ...]]:
        """(topic, partition, dim, day, org, member, version, *values) for every key changed
        since `clear_changed`: the counters table's row, built in one tuple per key."""
        values, slot, names, days = self.values, self._slot, _NAMES, _DAYS
        rows: list[tuple[object, ...]] = []
        append = rows.append
        for key in self._dirty:
            at = slot[key]
            day_number = key >> _DAY_SHIFT
            append(
                (
                    topic,
                    partition,
                    DIMS[key & 3],
                    days.get(day_number) or day_of(day_number),
                    names[(key >> _ORG_SHIFT) & _NAME_MASK],
                    names[(key >> 2) & _NAME_MASK],
                    version,
                    *values[at : at + STRIDE],
                )
            )
        return rows

    def clear_changed(self) -> None:
        self._dirty.clear()


_ZEROS = array("q", [0] * STRIDE)
