"""Corrections on the real stack (docs/contract.md, "Corrections: event.voided"): a voided
event drops out of every count (sums, distinct teams and volunteers, a shift's check-in and
hours), whether its void comes after it or before it; a second void changes nothing; both stay
in the export and the trace; a replay gives the same."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from events.routing import partition_for
from projections import queries
from streams.ingest.producer import Producer
from streams.settings import Settings
from tests.integration.harness import frontline, start_worker, stop, wait_caught_up
from tests.integration.ingest_helpers import event, line

DAY = "2022-03-17"
ORG = "org-0042"


def _totals(settings: Settings) -> dict[str, Any]:
    result = queries.run(settings.dashboard, "totals")
    return dict(zip(result.columns, result.rows[0], strict=True))


def _daily(settings: Settings) -> dict[str, Any]:
    result = queries.run(settings.dashboard, "daily_by_org")
    [row] = [r for r in result.rows if str(r[0]) == DAY and r[1] == ORG]
    return dict(zip(result.columns, row, strict=True))


def _void(target: dict[str, Any]) -> dict[str, Any]:
    return event(
        "event.voided",
        occurred_at=f"{DAY}T18:00:00+08:00",
        data={"voided_event_id": target["event_id"], "reason": "entered twice by mistake"},
    )


def _sampling(people: int, volunteer: str, team: str) -> dict[str, Any]:
    e = event("sampling.assisted", occurred_at=f"{DAY}T09:00:00+08:00")
    e.update(volunteer_id=volunteer, team_id=team)
    e["data"]["people_assisted"] = people
    return e


def _send(settings: Settings, events: list[dict[str, Any]]) -> None:
    with Producer(settings) as producer:
        for e in events:
            producer.send(line(e)).result()


FIGURES = ("sampling_assists", "volunteers", "teams", "checkins", "service_hours")


def test_a_voided_event_drops_out_of_every_count_and_stays_in_the_history(
    isolated: Settings, rebuilt: Settings, tmp_path: Path
) -> None:
    assert frontline(isolated, "migrate").returncode == 0
    assert frontline(isolated, "topics", "ensure").returncode == 0
    kept = _sampling(100, "vol-000042", "team-0042-03")
    # Entered by a volunteer of a team with nothing else that day: both leave the counts.
    mistaken = _sampling(40, "vol-000099", "team-0042-99")
    late = _sampling(7, "vol-000042", "team-0042-03")
    check_in = event("volunteer.checked_in", occurred_at=f"{DAY}T08:00:00+08:00")
    check_in.update(volunteer_id="vol-000042", team_id="team-0042-03")
    # The same shift's check-in entered again, an hour early: the shift would last 5 h.
    wrong_in = {**check_in, "event_id": event()["event_id"], "occurred_at": f"{DAY}T07:00:00+08:00"}
    check_out = event("volunteer.checked_out", occurred_at=f"{DAY}T12:00:00+08:00")
    check_out.update(volunteer_id="vol-000042", team_id="team-0042-03")

    log = tmp_path / "worker.log"
    worker = start_worker(isolated, log)
    try:
        voids = [_void(late), _void(mistaken), _void(wrong_in)]
        _send(isolated, [kept, mistaken, check_in, wrong_in, check_out, voids[0]])
        wait_caught_up(isolated, [worker], log)
        before = {k: _totals(isolated)[k] for k in FIGURES}
        assert before == {
            "sampling_assists": 140,
            "volunteers": 2,
            "teams": 2,
            "checkins": 1,
            "service_hours": 5.0,
        }
        # A void after its event (twice), and the event voided before it came.
        second = _void(mistaken)
        _send(isolated, [voids[1], voids[2], late, second])
        wait_caught_up(isolated, [worker], log)
    finally:
        stop(worker)

    after = {"sampling_assists": 100, "volunteers": 1, "teams": 1, "checkins": 1}
    assert {k: _totals(isolated)[k] for k in FIGURES} == after | {"service_hours": 4.0}
    assert {k: _daily(isolated)[k] for k in FIGURES} == after | {"service_hours": 4.0}
    ignored = queries.run(isolated.dashboard, "not_counted").rows
    assert ("ignored", "already_voided", 1) in [tuple(r[:3]) for r in ignored], ignored

    # The export keeps the voided events and their voids, as received.
    out = tmp_path / "export"
    done = frontline(isolated, "export", "--from", DAY, "--to", DAY, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    exported = {
        json.loads(x)["event_id"]
        for f in json.loads((out / "manifest.json").read_text())["files"]
        for x in (out / f["path"]).read_bytes().splitlines()
    }
    accepted = [kept, mistaken, late, check_in, wrong_in, check_out, *voids]
    # The second void is not there: ignored, it is in `uncounted`, not among accepted events.
    assert exported == {e["event_id"] for e in accepted}

    # The trace lists the voided events, each with its void, adding nothing.
    for metric, voided in (("sampling_assists", mistaken), ("service_hours", wrong_in)):
        traced = frontline(isolated, "trace", "--org", ORG, "--day", DAY, "--metric", metric)
        assert traced.returncode == 0, traced.stdout + traced.stderr
        assert f"void of {voided['event_id']}" in traced.stdout, traced.stdout
        assert "(voided)" in traced.stdout
    volunteers = frontline(isolated, "trace", "--org", ORG, "--day", DAY, "--metric", "volunteers")
    assert volunteers.returncode == 0, volunteers.stdout + volunteers.stderr
    assert "vol-000099" not in volunteers.stdout

    # Replayed from the topic, the same counts and the same tables.
    replay = frontline(isolated, "replay", "--into", rebuilt.clickhouse_database, "--quiet")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert {k: _totals(rebuilt)[k] for k in FIGURES} == after | {"service_hours": 4.0}
    audit = frontline(isolated, "audit", "--rebuilt", rebuilt.clickhouse_database)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "table presence_voided" in audit.stdout


def test_a_void_of_a_void_counted_before_changes_nothing_and_the_worker_goes_on(
    isolated: Settings, tmp_path: Path
) -> None:
    # Contract: a void of a void is accepted and changes nothing. Its key is the first void's
    # id; when that hashes to the first void's own partition (one time in the partition
    # count), the first void is in the same partition's seen ids, and counted before.
    assert frontline(isolated, "migrate").returncode == 0
    assert frontline(isolated, "topics", "ensure").returncode == 0
    partitions = isolated.topic_partitions
    mistaken = _sampling(40, "vol-000099", "team-0042-99")
    first = _void(mistaken)
    while partition_for(uuid.UUID(first["event_id"]), partitions) != partition_for(
        uuid.UUID(mistaken["event_id"]), partitions
    ):
        first = _void(mistaken)
    second = _void(first)
    kept = _sampling(100, "vol-000042", "team-0042-03")
    log = tmp_path / "worker.log"
    worker = start_worker(isolated, log)
    try:
        _send(isolated, [kept, mistaken, first])
        wait_caught_up(isolated, [worker], log)
        _send(isolated, [second])  # a later batch: the first void is looked up, not at hand
        wait_caught_up(isolated, [worker], log, timeout=60)
        assert worker.poll() is None, log.read_text()[-3000:]
    finally:
        stop(worker)
    assert _totals(isolated)["sampling_assists"] == 100
    rows = isolated.clickhouse.client().execute(
        "SELECT count() FROM event_log WHERE event_id = %(id)s",
        {"id": uuid.UUID(second["event_id"])},
    )
    assert rows[0][0] == 1
