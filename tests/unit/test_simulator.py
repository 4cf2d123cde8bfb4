"""The campaign simulator: deterministic, faithful to the article, and its expected.json is
exactly what plain counting of the decoded file gives."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import pytest

from events import (
    REJECTION_CODES,
    DisinfectionCompleted,
    DonationReceived,
    Event,
    EventVoided,
    Rejected,
    SamplingAssisted,
    TracingCallRecorded,
    VolunteerCheckedIn,
    VolunteerCheckedOut,
    decode,
    family,
    local_day,
)
from events.simulator import simulate
from events.simulator.invalid import invalid_line
from events.simulator.scenario import plan

SCALE = 0.01


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("sim")
    simulate(
        scenario_name="liaocheng-2022",
        scale=SCALE,
        seed=7,
        out=folder / "events.jsonl",
        expect=folder / "expected.json",
    )
    expected = json.loads((folder / "expected.json").read_text())
    return (folder / "events.jsonl").read_bytes(), expected


@pytest.fixture(scope="module")
def decoded(run: tuple[bytes, dict[str, Any]]) -> list[tuple[bytes, Event | Rejected]]:
    out: list[tuple[bytes, Event | Rejected]] = []
    for line in run[0].splitlines():
        try:
            out.append((line, decode(line)))
        except Rejected as err:
            out.append((line, err))
    return out


def test_same_seed_same_bytes(tmp_path: Path, run: tuple[bytes, dict[str, Any]]) -> None:
    again = simulate(
        scenario_name="liaocheng-2022", scale=SCALE, seed=7, out=tmp_path / "again.jsonl"
    )
    assert (tmp_path / "again.jsonl").read_bytes() == run[0]
    assert again == run[1]
    simulate(scenario_name="liaocheng-2022", scale=SCALE, seed=8, out=tmp_path / "other.jsonl")
    assert (tmp_path / "other.jsonl").read_bytes() != run[0]


def test_unknown_scenario(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        simulate(scenario_name="wuhan", scale=SCALE, seed=1, out=tmp_path / "x")


def _independent_views(
    events: list[Event], as_of: datetime, auto_close: timedelta
) -> dict[str, Any]:
    """The dashboard views by the most literal reading of DESIGN.md (sets and sums)."""
    rows: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: defaultdict(int) | {"teams": set(), "volunteers": set()}
    )
    orgs, teams, vols = set(), set(), set()
    shifts_in: dict[str, Event] = {}
    shifts_out: dict[str, Event] = {}
    for e in events:
        row = rows[(local_day(e).isoformat(), e.org_id)]
        row["teams"].add(e.team_id)
        row["volunteers"].add(e.volunteer_id)
        orgs.add(e.org_id)
        teams.add(e.team_id)
        vols.add(e.volunteer_id)
        if isinstance(e, VolunteerCheckedIn):
            row["checkins"] += 1
            shifts_in[e.data.shift_id] = e
        elif isinstance(e, VolunteerCheckedOut):
            shifts_out[e.data.shift_id] = e
        elif isinstance(e, TracingCallRecorded):
            row["calls"] += 1
            row["calls_reached"] += e.data.outcome == "reached"
            row["call_s"] += e.data.duration_s
        elif isinstance(e, SamplingAssisted):
            row["sampling_assists"] += e.data.people_assisted
        elif isinstance(e, DisinfectionCompleted):
            row["disinfected_m2"] += e.data.area_m2
            row["floors"] += e.data.floors
        elif isinstance(e, DonationReceived):
            row["donations_fen"] += e.data.amount_fen
    for shift_id, start in shifts_in.items():
        row = rows[(local_day(start).isoformat(), start.org_id)]
        end = shifts_out.get(shift_id)
        if end is not None:
            row["service_s"] += max(0, int((end.occurred_at - start.occurred_at).total_seconds()))
        elif as_of - start.occurred_at < auto_close:
            row["open_shifts"] += 1
        else:
            row["unclosed_shifts"] += 1

    def columns(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "teams": len(row["teams"]),
            "volunteers": len(row["volunteers"]),
            "checkins": row["checkins"],
            "service_hours": round(row["service_s"] / 3600, 2),
            "open_shifts": row["open_shifts"],
            "unclosed_shifts": row["unclosed_shifts"],
            "calls": row["calls"],
            "calls_reached": row["calls_reached"],
            "call_minutes": round(row["call_s"] / 60, 2),
            "sampling_assists": row["sampling_assists"],
            "disinfected_m2": row["disinfected_m2"],
            "floors": row["floors"],
            "donations_fen": row["donations_fen"],
        }

    daily = [{"day": d, "org_id": o} | columns(rows[(d, o)]) for d, o in sorted(rows)]
    total: dict[str, Any] = defaultdict(int) | {"teams": teams, "volunteers": vols}
    for row in rows.values():
        for key, value in row.items():
            if key not in ("teams", "volunteers"):
                total[key] += value
    return {"totals": {"orgs": len(orgs)} | columns(total), "daily_by_org": daily}


def test_expected_equals_independent_count_of_the_file(
    run: tuple[bytes, dict[str, Any]], decoded: list[tuple[bytes, Event | Rejected]]
) -> None:
    expected = run[1]
    unique: dict[str, Event] = {}
    conflicts = 0
    for _, result in decoded:
        if not isinstance(result, Rejected):
            # The first copy of an id counts; a retry carries the same event, a conflicting
            # reuse other content (never counted).
            first = unique.setdefault(str(result.event_id), result)
            conflicts += first != result
    assert conflicts == expected["meta"]["conflicts"] > 0
    # A void cancels the event it names (whenever either arrives) and counts nothing itself.
    voids = [e for e in unique.values() if isinstance(e, EventVoided)]
    voided = {str(v.data.voided_event_id) for v in voids}
    standing: list[Event] = [
        e for k, e in unique.items() if k not in voided and not isinstance(e, EventVoided)
    ]
    assert len(voided) == expected["meta"]["mistaken"] + expected["meta"]["void_unknown"]
    assert len(voids) - len(voided) == expected["meta"]["voided_twice"] > 0
    views = _independent_views(
        standing,
        datetime.fromisoformat(expected["as_of"]),
        timedelta(hours=expected["auto_close_hours"]),
    )
    assert views["totals"] == expected["totals"]
    assert views["daily_by_org"] == expected["daily_by_org"]
    # A second void of an event is ignored by the worker: not among the accepted.
    assert len(unique) == expected["meta"]["accepted_unique"] + expected["meta"]["voided_twice"]


def test_meta_counts_match_the_file(
    run: tuple[bytes, dict[str, Any]], decoded: list[tuple[bytes, Event | Rejected]]
) -> None:
    meta = run[1]["meta"]
    codes = Counter(r.code for _, r in decoded if isinstance(r, Rejected))
    assert dict(codes) == meta["invalid_by_code"]
    assert set(codes) == set(REJECTION_CODES), "every rejection code appears"
    by_family = Counter(family(r.type) for _, r in decoded if not isinstance(r, Rejected))
    assert dict(by_family) == meta["lines_by_family"]
    assert len(decoded) == meta["lines"]
    accepted = sum(by_family.values())
    assert accepted == (
        meta["accepted_unique"] + meta["duplicates"] + meta["conflicts"] + meta["voided_twice"]
    )
    assert meta["invalid"] == sum(codes.values())
    assert meta["dead_letters_by_code"] == dict(
        sorted((codes + Counter(conflicting_duplicate=meta["conflicts"])).items())
    )


def test_retries_late_and_out_of_order_are_present(
    decoded: list[tuple[bytes, Event | Rejected]], run: tuple[bytes, dict[str, Any]]
) -> None:
    meta = run[1]["meta"]
    seen: dict[str, tuple[bytes, Event]] = {}
    identical = reserialized = conflicts = late = 0
    newest = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
    checkout_first = 0
    checked_in: set[str] = set()
    for line, result in decoded:
        if isinstance(result, Rejected):
            continue
        key = str(result.event_id)
        if key in seen:
            first_line, first = seen[key]
            conflicts += first != result
            identical += first_line == line
            reserialized += first_line != line and first == result
            continue
        seen[key] = (line, result)
        if result.occurred_at < newest - timedelta(days=1):
            late += 1
        newest = max(newest, result.occurred_at)
        if isinstance(result, VolunteerCheckedIn):
            checked_in.add(result.data.shift_id)
        if isinstance(result, VolunteerCheckedOut) and result.data.shift_id not in checked_in:
            checkout_first += 1
    assert identical == meta["duplicates_identical"] > 0
    assert reserialized == meta["duplicates_reserialized"] > 0
    assert conflicts == meta["conflicts"] > 0
    assert 0 < late <= meta["late"]
    assert checkout_first >= meta["checkin_after_checkout"] > 0
    assert run[1]["totals"]["unclosed_shifts"] == meta["never_closed"] > 0
    assert meta["pilot_v0"] > 0
    # Distinct ids: an identical retry of a pilot event repeats its line.
    pilot = {str(r.event_id) for line, r in decoded if b'"schema_version":0' in line}  # type: ignore[union-attr]
    assert len(pilot) == meta["pilot_v0"]


def test_figures_are_the_article_scaled(run: tuple[bytes, dict[str, Any]]) -> None:
    totals = run[1]["totals"]
    assert totals["orgs"] >= 200 * SCALE
    assert totals["teams"] == round(3_485 * SCALE)
    assert totals["volunteers"] == round(71_520 * SCALE)  # all ids of the plan are active
    assert 12_000 * SCALE <= totals["checkins"] <= 13_000 * SCALE
    assert totals["calls"] >= 53_000 * SCALE
    assert totals["sampling_assists"] == pytest.approx(6_030_000 * SCALE, rel=0.01)
    assert totals["disinfected_m2"] == 18_036_000 * SCALE  # exact by construction
    assert totals["donations_fen"] == 6_368_000_000 * SCALE  # 63.68 M yuan, exact
    # Shifts of 2-8 h: service hours consistent with the check-ins.
    closed = totals["checkins"] - totals["unclosed_shifts"] - totals["open_shifts"]
    assert 2 * closed <= totals["service_hours"] <= 8 * closed
    days = sorted({row["day"] for row in run[1]["daily_by_org"]})
    assert (days[0], days[-1]) == ("2022-03-14", "2022-05-05")


def test_mass_testing_days_are_peaks(run: tuple[bytes, dict[str, Any]]) -> None:
    per_day: Counter[str] = Counter()
    for row in run[1]["daily_by_org"]:
        per_day[row["day"]] += row["sampling_assists"]
    top = {day for day, _ in per_day.most_common(10)}
    assert {"2022-03-16", "2022-03-17", "2022-04-06", "2022-05-04"} <= top
    assert min(per_day[d] for d in top) > 4 * max(v for d, v in per_day.items() if d not in top)


def test_volunteer_federation_share(run: tuple[bytes, dict[str, Any]]) -> None:
    vf = [row for row in run[1]["daily_by_org"] if row["org_id"] == "org-0001"]
    sampling = sum(row["sampling_assists"] for row in vf)
    assert sampling == pytest.approx(980_000 * SCALE, rel=0.05)


@pytest.mark.parametrize("code", REJECTION_CODES)
def test_each_invalid_maker_gets_its_code(code: str) -> None:
    event = {
        "event_id": "886313e1-3b8a-4372-9b90-0c9aee199e5d",
        "type": "sampling.assisted",
        "schema_version": 1,
        "occurred_at": "2022-03-17T09:30:12+08:00",
        "org_id": "org-0001",
        "team_id": "team-0001-0001",
        "volunteer_id": "vol-000001",
        "source": "app:ios:1.4.2:dev-000001",
        "data": {"site_id": "site-00001", "people_assisted": 1, "assist_kind": "other"},
    }
    for seed in range(5):
        line = invalid_line(code, json.loads(json.dumps(event)), Random(seed))
        assert line.endswith(b"\n")
        assert line.count(b"\n") == 1
        with pytest.raises(Rejected) as info:
            decode(line[:-1])
        assert info.value.code == code


@pytest.mark.parametrize("scale", [0.001, 0.01, 0.5, 1.0, 3.0])
def test_plan_is_consistent(scale: float) -> None:
    p = plan(scale)
    assert p.orgs >= 2
    assert p.orgs - 1 <= p.teams - p.vf_teams <= p.volunteers - p.vf_volunteers
    assert 1 <= p.vf_teams <= p.vf_volunteers
    assert p.teams <= p.volunteers


def test_plan_at_scale_one_is_the_article() -> None:
    p = plan(1)
    assert (p.orgs, p.teams, p.volunteers, p.vf_volunteers) == (212, 3_485, 71_520, 37_000)
    assert p.disinfections * p.area_base == 18_036_000
    assert p.donations * p.donation_base == 6_368_000_000
    assert p.checkins == 12_480
