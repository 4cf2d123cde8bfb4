"""The exact `totals` and `daily_by_org` views for a simulated campaign, by plain counting.

Shares nothing with the stream processors: it is fed each unique accepted event once, as the
simulator makes it (duplicates and invalid lines never reach it), and counts.

Memory: bitmaps of ids per day and one record per shift; never one entry per event.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Final

from events.decode import SHANGHAI

COLUMNS: Final = (
    "orgs",
    "teams",
    "volunteers",
    "checkins",
    "service_hours",
    "open_shifts",
    "unclosed_shifts",
    "calls",
    "calls_reached",
    "call_minutes",
    "sampling_assists",
    "disinfected_m2",
    "floors",
    "donations_fen",
)
# Internal integer counters of a (day, org) row; hours and minutes are kept in seconds.
_TEAMS, _VOLS, _CHECKINS, _SERVICE_S, _OPEN, _UNCLOSED = range(6)
_CALLS, _REACHED, _CALL_S, _SAMPLING, _AREA, _FLOORS, _FEN = range(6, 13)
_WIDTH: Final = 13
_EPOCH_DAY: Final = date(1970, 1, 1)


def day_of(epoch_s: int) -> int:
    """Days since 1970-01-01 of the Asia/Shanghai date of an instant."""
    return (epoch_s + 8 * 3600) // 86_400


class Expected:
    """Counts of unique accepted events, keyed by (local day, org index)."""

    def __init__(self, orgs: int, teams: int, volunteers: int) -> None:
        self._sizes = (orgs, teams, volunteers)
        self._rows: dict[tuple[int, int], list[int]] = {}
        self._day_ids: dict[int, tuple[bytearray, bytearray]] = {}
        self._all_orgs = bytearray(orgs)
        self._all_teams = bytearray(teams)
        self._all_vols = bytearray(volunteers)
        # shift number -> [check-in epoch or -1, check-out epoch or -1, day, org]
        self._shifts: dict[int, list[int]] = {}

    def _row(self, day: int, org: int, team: int, vol: int) -> list[int]:
        """The (day, org) row, after counting the ids of this event as seen."""
        row = self._rows.get((day, org))
        if row is None:
            row = self._rows[(day, org)] = [0] * _WIDTH
        ids = self._day_ids.get(day)
        if ids is None:
            ids = self._day_ids[day] = (bytearray(self._sizes[1]), bytearray(self._sizes[2]))
        # A team and a volunteer belong to one org, so "new today" means "new for (day, org)".
        if not ids[0][team]:
            ids[0][team] = 1
            row[_TEAMS] += 1
        if not ids[1][vol]:
            ids[1][vol] = 1
            row[_VOLS] += 1
        self._all_orgs[org] = self._all_teams[team] = self._all_vols[vol] = 1
        return row

    def checked_in(self, at: int, org: int, team: int, vol: int, shift: int) -> None:
        day = day_of(at)
        self._row(day, org, team, vol)[_CHECKINS] += 1
        record = self._shifts.setdefault(shift, [-1, -1, 0, 0])
        record[0], record[2], record[3] = at, day, org

    def checked_out(self, at: int, org: int, team: int, vol: int, shift: int) -> None:
        self._row(day_of(at), org, team, vol)
        self._shifts.setdefault(shift, [-1, -1, 0, 0])[1] = at

    def call(self, at: int, org: int, team: int, vol: int, reached: bool, seconds: int) -> None:
        row = self._row(day_of(at), org, team, vol)
        row[_CALLS] += 1
        row[_REACHED] += reached
        row[_CALL_S] += seconds

    def sampling(self, at: int, org: int, team: int, vol: int, people: int) -> None:
        self._row(day_of(at), org, team, vol)[_SAMPLING] += people

    def disinfection(self, at: int, org: int, team: int, vol: int, m2: int, floors: int) -> None:
        row = self._row(day_of(at), org, team, vol)
        row[_AREA] += m2
        row[_FLOORS] += floors

    def donation(self, at: int, org: int, team: int, vol: int, fen: int) -> None:
        self._row(day_of(at), org, team, vol)[_FEN] += fen

    def result(self, as_of: datetime, auto_close_s: int, org_id: list[str]) -> dict[str, Any]:
        """`totals`, `daily_by_org` and the exact seconds behind the rounded columns."""
        limit = int(as_of.timestamp()) - auto_close_s
        rows = {key: list(row) for key, row in self._rows.items()}
        for t_in, t_out, day, org in self._shifts.values():
            if t_in < 0:
                continue  # a check-out without check-in starts no shift and has no hours
            row = rows[(day, org)]
            if t_out >= 0:
                row[_SERVICE_S] += max(0, t_out - t_in)
            elif t_in > limit:
                row[_OPEN] += 1
            else:
                row[_UNCLOSED] += 1
        daily = [
            {"day": (_EPOCH_DAY + timedelta(days=day)).isoformat(), "org_id": org_id[org]}
            | _columns(row)
            for (day, org), row in sorted(rows.items())
        ]
        total = [sum(row[i] for row in rows.values()) for i in range(_WIDTH)]
        total[_TEAMS], total[_VOLS] = sum(self._all_teams), sum(self._all_vols)
        totals = {"orgs": sum(self._all_orgs)} | _columns(total)
        return {
            "totals": totals,
            "daily_by_org": daily,
            "exact": {"service_seconds": total[_SERVICE_S], "call_seconds": total[_CALL_S]},
        }


def _columns(row: list[int]) -> dict[str, int | float]:
    return {
        "teams": row[_TEAMS],
        "volunteers": row[_VOLS],
        "checkins": row[_CHECKINS],
        "service_hours": round(row[_SERVICE_S] / 3600, 2),
        "open_shifts": row[_OPEN],
        "unclosed_shifts": row[_UNCLOSED],
        "calls": row[_CALLS],
        "calls_reached": row[_REACHED],
        "call_minutes": round(row[_CALL_S] / 60, 2),
        "sampling_assists": row[_SAMPLING],
        "disinfected_m2": row[_AREA],
        "floors": row[_FLOORS],
        "donations_fen": row[_FEN],
    }


AS_OF_DEFAULT: Final = datetime(2022, 5, 7, tzinfo=SHANGHAI)
