"""`frontline trace --org ID --day D --metric NAME`: the events behind one figure of
daily_by_org, each with its Kafka coordinates and what it adds, and whether they sum to it.

Three kinds of figures:
- sums of event values (calls, sampling_assists, donations_fen, ...): the org's events of that
  day and type, read back from Kafka and decoded by the contract's own code;
- shift figures (checkins, service_hours, open_shifts, unclosed_shifts): the shifts the view
  gives the org and day, each with its check-in and check-out events;
- distinct counts (teams, volunteers): one line per member, with its first event.

A voided event is listed too, adding 0, followed by its void (docs/contract.md, Corrections).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from events import (
    DisinfectionCompleted,
    DonationReceived,
    Event,
    SamplingAssisted,
    TracingCallRecorded,
    decode_at,
)
from projections.audit import FIGURE, SHIFT_EVENTS, TRACE_EVENTS, TRACE_SHIFTS, TRACE_VOIDS
from projections.columns import DAILY_BY_ORG
from projections.store import StateStore
from streams.audit.history import Message, read_offsets
from streams.settings import ConfigError, Settings
from streams.topics import events_topic

# Sums of event values: the event type and what one event adds (in seconds for the minutes).
SUMS: dict[str, tuple[str, Callable[[Event], int]]] = {
    "calls": ("tracing.call_recorded", lambda e: 1),
    "calls_reached": (
        "tracing.call_recorded",
        lambda e: int(isinstance(e, TracingCallRecorded) and e.data.outcome.value == "reached"),
    ),
    "call_minutes": (
        "tracing.call_recorded",
        lambda e: e.data.duration_s if isinstance(e, TracingCallRecorded) else 0,
    ),
    "sampling_assists": (
        "sampling.assisted",
        lambda e: e.data.people_assisted if isinstance(e, SamplingAssisted) else 0,
    ),
    "disinfected_m2": (
        "disinfection.completed",
        lambda e: e.data.area_m2 if isinstance(e, DisinfectionCompleted) else 0,
    ),
    "floors": (
        "disinfection.completed",
        lambda e: e.data.floors if isinstance(e, DisinfectionCompleted) else 0,
    ),
    "donations_fen": (
        "donation.received",
        lambda e: e.data.amount_fen if isinstance(e, DonationReceived) else 0,
    ),
}
SHIFT_FIGURES = ("checkins", "service_hours", "open_shifts", "unclosed_shifts")
DISTINCT = {"teams": "team_id", "volunteers": "volunteer_id"}
METRICS = tuple(c for c in DAILY_BY_ORG if c not in ("day", "org_id"))
# Figures the view shows in minutes and hours, rounded to hundredths, of whole seconds.
SECONDS_PER = {"call_minutes": 60, "service_hours": 3600}


@dataclass
class TraceLine:
    what: str  # the event (or shift, or member) this line stands for
    event_id: str
    type: str
    occurred_at: datetime | None
    partition: int | None
    offset: int | None
    raw: int  # what it adds, in seconds for a figure in minutes or hours

    def adds(self, metric: str) -> float:
        return self.raw / SECONDS_PER.get(metric, 1)


@dataclass
class Trace:
    org_id: str
    day: date
    metric: str
    figure: float | None  # the view's value (None: no row for that org and day)
    lines: list[TraceLine] = field(default_factory=list)

    @property
    def total(self) -> float:
        raw = sum(line.raw for line in self.lines)
        per = SECONDS_PER.get(self.metric)
        return raw if per is None else round(raw / per, 2)

    @property
    def equal(self) -> bool:
        return (self.figure or 0) == self.total


def trace(settings: Settings, org_id: str, day: date, metric: str) -> Trace:
    if metric not in METRICS:
        raise ConfigError(f"no metric {metric!r} in daily_by_org; one of {', '.join(METRICS)}")
    reader = settings.dashboard.client()
    params: dict[str, Any] = {
        "day": day,
        "org_id": org_id,
        "topic": events_topic(settings),
        "all_types": 1,
        "types": ("",),  # tuples: 18.16 takes no array after IN
    }
    rows = reader.execute(FIGURE.format(metric=metric), params)
    figure = rows[0][0] if rows else None
    if isinstance(figure, Decimal):
        figure = float(figure)
    result = Trace(org_id, day, metric, figure)
    checkpoints = StateStore(settings.dashboard).checkpoints()
    topic = events_topic(settings)

    def counted(row: tuple[Any, ...]) -> bool:
        return int(row[1]) <= checkpoints.get((topic, int(row[0])), -1)

    # The first counted void of each voided event (a second one is ignored, not in event_log).
    voided_by: dict[str, tuple[Any, ...]] = {}
    for r in reader.execute(TRACE_VOIDS, params):
        if counted(r):
            voided_by.setdefault(str(r[9]), r)

    def add_voided(row: tuple[Any, ...], what: str) -> bool:
        """A voided event's line and its void's, adding nothing; False if not voided."""
        void = voided_by.get(str(row[3]))
        if void is None:
            return False
        result.lines.append(_line(row, f"{what} (voided)", 0))
        result.lines.append(_line(void, f"void of {row[3]}", 0))
        return True

    if metric in SUMS:
        kind, value_of = SUMS[metric]
        params.update(all_types=0, types=(kind,))
        events = [r for r in reader.execute(TRACE_EVENTS, params) if counted(r)]
        decoded = _decode_from_kafka(
            settings, topic, [r for r in events if str(r[3]) not in voided_by]
        )
        for r in events:
            if not add_voided(r, str(r[3])):
                result.lines.append(_line(r, str(r[3]), value_of(decoded[(int(r[0]), int(r[1]))])))
    elif metric in DISTINCT:
        column = 6 if metric == "teams" else 7
        firsts: dict[str, tuple[Any, ...]] = {}
        for r in reader.execute(TRACE_EVENTS, params):
            if counted(r) and str(r[3]) not in voided_by:
                firsts.setdefault(str(r[column]), r)
        for member, r in sorted(firsts.items()):
            result.lines.append(_line(r, member, 1))
    else:
        shifts = reader.execute(TRACE_SHIFTS, params)
        by_shift: dict[str, list[tuple[Any, ...]]] = {}
        if shifts:
            params["shifts"] = tuple(str(s[0]) for s in shifts)
            for r in reader.execute(SHIFT_EVENTS, params):
                if counted(r):
                    by_shift.setdefault(str(r[8]), []).append(r)
        for shift_id, status, service_s in shifts:
            adds = {
                "checkins": 1,
                "service_hours": int(service_s),
                "open_shifts": int(status == "open"),
                "unclosed_shifts": int(status == "unclosed"),
            }[metric]
            pair = by_shift.get(str(shift_id), [])
            what = f"shift {shift_id} ({status})"
            for r in pair:
                if add_voided(r, what):
                    continue
                # The shift's value on its first standing event; its other events add 0.
                result.lines.append(_line(r, what, adds))
                adds = 0
            if not pair:
                result.lines.append(
                    TraceLine(f"shift {shift_id} ({status})", "", "", None, None, None, adds)
                )
    return result


def _line(row: tuple[Any, ...], what: str, adds: int) -> TraceLine:
    partition, offset, _ts, event_id, kind, occurred_at, *_ = row
    return TraceLine(what, str(event_id), str(kind), occurred_at, int(partition), int(offset), adds)


def _decode_from_kafka(
    settings: Settings, topic: str, rows: list[tuple[Any, ...]]
) -> dict[tuple[int, int], Event]:
    wanted: dict[int, list[int]] = {}
    for r in rows:
        wanted.setdefault(int(r[0]), []).append(int(r[1]))
    out: dict[tuple[int, int], Event] = {}

    def keep(message: Message) -> None:
        # The contract's own decoding, at the broker's time, as the worker decoded it.
        event, _ = decode_at(message.value, message.timestamp_ms / 1000)
        out[(message.partition, message.offset)] = event

    read_offsets(settings, topic, {p: sorted(o) for p, o in wanted.items()}, keep)
    return out
