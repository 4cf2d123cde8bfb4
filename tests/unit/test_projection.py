"""The pure projection (projections.projection): exact, order-insensitive where it must be, and the
same output when run twice on the same input (as snuba's processor idempotency tests)."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import date
from typing import Any

from events import decode, encode
from events.routing import partition_for
from projections.projection import (
    COUNTER_COLUMNS,
    Message,
    Outcome,
    PartitionState,
    flush_rows,
    mark_written,
    project,
    take_flush,
)

TS_MS = 1_700_000_000_000  # broker timestamp, 2023: after every occurred_at below


def _event(kind: str, **data: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "schema_version": 1,
        "occurred_at": data.pop("at", "2022-03-17T08:00:00+08:00"),
        "org_id": data.pop("org", "org-0001"),
        "team_id": "team-0001-01",
        "volunteer_id": data.pop("vol", "vol-000001"),
        "source": "app:test:1.0",
        "data": data,
    }


def _messages(events: list[dict[str, Any]], start: int = 0) -> list[Message]:
    return [Message("t", 0, start + i, TS_MS, json.dumps(e).encode()) for i, e in enumerate(events)]


def _run(messages: list[Message]) -> tuple[PartitionState, list[Outcome]]:
    state = PartitionState("t", 0)
    return state, [project(state, m).outcome for m in messages]


def _shift(shift: str, hour_in: int, hour_out: int | None) -> list[dict[str, Any]]:
    out = [
        _event(
            "volunteer.checked_in",
            shift_id=shift,
            site_id="site-1",
            activity="sampling_support",
            at=f"2022-03-17T{hour_in:02d}:00:00+08:00",
        )
    ]
    if hour_out is not None:
        out.append(
            _event(
                "volunteer.checked_out",
                shift_id=shift,
                site_id="site-1",
                at=f"2022-03-17T{hour_out:02d}:00:00+08:00",
            )
        )
    return out


def test_same_input_twice_gives_the_same_rows() -> None:
    events = [
        *_shift("s1", 8, 12),
        _event("sampling.assisted", site_id="site-1", people_assisted=3, assist_kind="other"),
        _event("tracing.call_recorded", **_call("reached", 300)),
        _event("donation.received", amount_fen=12345, donor_kind="individual"),
    ]
    messages = _messages([*events, events[2]])  # with a duplicate submission
    a, outcomes_a = _run(messages)
    b, outcomes_b = _run(copy.deepcopy(messages))
    assert outcomes_a == outcomes_b
    assert flush_rows(a) == flush_rows(b)


def _call(outcome: str, seconds: int) -> dict[str, Any]:
    return {
        "contact_ref": "ab" * 32,
        "started_at": "2022-03-17T08:00:00+08:00",
        "duration_s": seconds,
        "outcome": outcome,
    }


def test_duplicate_counts_once_and_redelivery_is_skipped() -> None:
    sample = _event("sampling.assisted", site_id="site-1", people_assisted=4, assist_kind="other")
    messages = _messages([sample, sample])
    state, outcomes = _run(messages)
    assert outcomes == [Outcome.ACCEPTED, Outcome.DUPLICATE]
    assert project(state, messages[0]).outcome is Outcome.ALREADY_APPLIED
    org = state.counters.get("org", date(2022, 3, 17), "org-0001", "org-0001")
    assert org is not None
    assert dict(zip(COUNTER_COLUMNS, org, strict=True)) == {
        **dict.fromkeys(COUNTER_COLUMNS, 0),
        "events": 1,
        "sampling_assists": 4,
    }


def test_checkout_before_checkin_pairs_the_shift() -> None:
    check_in, check_out = _shift("s9", 9, 17)
    state, outcomes = _run(_messages([check_out, check_in]))
    assert outcomes == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    shift = state.shifts["s9"]
    assert shift.has_in
    assert shift.has_out
    assert shift.checked_out_at - shift.checked_in_at == 8 * 3600  # 09:00 to 17:00
    assert shift.day == date(2022, 3, 17)


def test_rejected_event_changes_no_count() -> None:
    bad = _event("sampling.assisted", site_id="site-1", people_assisted=0, assist_kind="other")
    state, outcomes = _run(_messages([bad]))
    assert outcomes == [Outcome.REJECTED]
    assert len(state.counters) == 0
    assert state.applied == 0  # the offset is consumed all the same


def test_flush_versions_are_the_last_offset_and_clear_dirty_keys() -> None:
    state, _ = _run(_messages(_shift("s1", 8, 9), start=40))
    rows = take_flush(state)
    assert rows.version == 41
    assert {r[6] for r in rows.counters} == {41}
    assert [r[2] for r in rows.shifts] == ["s1"]
    assert flush_rows(state).counters == []  # the next flush starts empty
    assert state.checkpoint == -1  # ... but nothing is written yet
    mark_written(state, rows)
    assert state.checkpoint == 41


def test_rows_taken_for_writing_do_not_change_with_the_next_batch() -> None:
    state, _ = _run(_messages(_shift("s1", 8, 9), start=0))
    rows = take_flush(state)
    before = list(rows.counters)
    for msg in _messages(_shift("s2", 10, 11), start=2):
        project(state, msg)
    assert list(rows.counters) == before
    assert {r[6] for r in take_flush(state).counters} == {3}


def test_late_event_updates_the_day_it_happened() -> None:
    early = _event(
        "sampling.assisted",
        site_id="site-1",
        people_assisted=2,
        assist_kind="other",
        at="2022-03-15T23:30:00+08:00",  # 15:30 UTC: still the 15th in Shanghai
    )
    state, _ = _run(_messages([early]))
    assert state.counters.get("org", date(2022, 3, 15), "org-0001", "org-0001") is not None
    assert state.counters.get("org", date(2022, 3, 16), "org-0001", "org-0001") is None


# -- an event_id counts once, wherever its copies come from (issue #11, finding 3) ------------


def _sample(people: int = 4, **overrides: Any) -> dict[str, Any]:
    event = _event(
        "sampling.assisted", site_id="site-1", people_assisted=people, assist_kind="other"
    )
    return {**event, **overrides}


def _assists(state: PartitionState) -> int:
    org = state.counters.get("org", date(2022, 3, 17), "org-0001", "org-0001")
    return 0 if org is None else dict(zip(COUNTER_COLUMNS, org, strict=True))["sampling_assists"]


def test_reuse_of_an_id_with_other_content_is_a_conflict_the_first_copy_counts() -> None:
    first = _sample(4)
    other_volunteer = {**first, "volunteer_id": "vol-000777"}
    other_type = {
        **_event("donation.received", amount_fen=999_999, donor_kind="individual"),
        "event_id": first["event_id"],
    }
    state, outcomes = _run(_messages([first, other_volunteer, other_type, first]))
    assert outcomes == [Outcome.ACCEPTED, Outcome.CONFLICT, Outcome.CONFLICT, Outcome.DUPLICATE]
    assert _assists(state) == 4
    donations = [r for r in state.counters.changed_rows("t", 0, 3) if r[-1]]
    assert donations == []


def test_a_copy_serialized_otherwise_is_a_duplicate_not_a_conflict() -> None:
    first = _sample(4)
    reordered = json.dumps(first, sort_keys=True, separators=(", ", ": ")).encode()
    canonical = encode(decode(json.dumps(first).encode()))
    state = PartitionState("t", 0)
    outcomes = [
        project(state, Message("t", 0, i, TS_MS, raw)).outcome
        for i, raw in enumerate([canonical, reordered])
    ]
    assert outcomes == [Outcome.ACCEPTED, Outcome.DUPLICATE]


def test_a_message_outside_its_event_ids_partition_is_not_counted() -> None:
    event = _sample(4)
    home = partition_for(uuid.UUID(event["event_id"]), 6)
    state = PartitionState("t", (home + 1) % 6, partitions=6)
    raw = json.dumps(event).encode()
    result = project(state, Message("t", (home + 1) % 6, 0, TS_MS, raw, event["event_id"].encode()))
    assert result.outcome is Outcome.REJECTED
    assert result.rejection is not None
    assert result.rejection.code == "misrouted"
    assert _assists(state) == 0
    at_home = PartitionState("t", home, partitions=6)
    assert project(at_home, Message("t", home, 0, TS_MS, raw)).outcome is Outcome.ACCEPTED


def test_every_offset_not_counted_has_its_row_and_every_offset_is_counted_once() -> None:
    first = _sample(4)
    bad = _sample(0)
    state = PartitionState("t", 0)
    results = [
        project(state, m) for m in _messages([first, first, bad, {**first, "team_id": "t2"}])
    ]
    rows = [r.uncounted_row for r in results]
    assert rows[0] is None
    assert results[0].log_row is not None
    assert [(r[2], r[5], r[6]) for r in rows[1:] if r is not None] == [
        (1, "duplicate", ""),
        (2, "rejected", "out_of_range"),
        (3, "conflict", "conflicting_duplicate"),
    ]
    assert state.messages == 4
    assert take_flush(state).messages == 4
    project(state, _messages([first])[0])  # a redelivery of offset 0: not a new message
    assert state.messages == 4
