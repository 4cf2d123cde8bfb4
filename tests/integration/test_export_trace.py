"""Export and trace on the real stack: an export holds every accepted event as received, passes
`--check`, and fails it once one byte changes; `trace` of daily_by_org cells lists events that
sum to the cell, and says so when they do not."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import date
from pathlib import Path
from typing import Any

from projections import queries
from streams.settings import Settings
from tests.integration.conftest import SharedCampaign
from tests.integration.harness import frontline
from tests.integration.test_replay_audit import alter_live_counter


def _days(settings: Settings) -> list[date]:
    rows = queries.run(settings.dashboard, "daily_by_org").rows
    return sorted({r[0] for r in rows if isinstance(r[0], date)})


def test_export_is_complete_reproducible_and_checked(
    shared_live: SharedCampaign, tmp_path: Path
) -> None:
    settings = shared_live.settings
    days = _days(settings)
    first, last = days[0].isoformat(), days[-1].isoformat()
    out = tmp_path / "export"
    done = frontline(settings, "export", "--from", first, "--to", last, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((out / "manifest.json").read_text())

    hashes = {
        str(h): (int(p), int(o))
        for p, o, h in settings.clickhouse.client().execute(
            "SELECT DISTINCT kafka_partition, kafka_offset, content_hash FROM event_log"
        )
    }
    assert manifest["events"] == len(hashes) > 1000
    seen = 0
    for entry in manifest["files"]:
        lines = (out / entry["path"]).read_bytes().splitlines()
        assert len(lines) == entry["events"]
        for line in lines:
            # Byte for byte as received: each line hashes to its event_log row.
            partition, offset = hashes[hashlib.sha256(line).hexdigest()]
            span = entry["offsets"][str(partition)]
            assert span[0] <= offset <= span[1]
            event = json.loads(line)
            assert event["type"] == entry["type"]
            seen += 1
    assert seen == len(hashes)

    checked = frontline(settings, "export", "--check", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    again = tmp_path / "again"
    assert (
        frontline(settings, "export", "--from", first, "--to", last, "--out", str(again)).returncode
        == 0
    )
    second = json.loads((again / "manifest.json").read_text())
    assert [f["sha256"] for f in second["files"]] == [f["sha256"] for f in manifest["files"]]

    victim = out / manifest["files"][0]["path"]
    data = bytearray(victim.read_bytes())
    data[10] ^= 0x01
    victim.write_bytes(bytes(data))
    broken = frontline(settings, "export", "--check", str(out))
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert manifest["files"][0]["path"] in broken.stdout
    assert "SHA-256" in broken.stdout


def test_csv_export_of_one_day_and_type(shared_live: SharedCampaign, tmp_path: Path) -> None:
    settings = shared_live.settings
    day = _days(settings)[1].isoformat()
    out = tmp_path / "csv"
    args = ["export", "--from", day, "--to", day, "--type", "sampling.assisted"]
    done = frontline(settings, *args, "--format", "csv", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    [entry] = manifest["files"]
    assert entry["path"] == f"{day}/sampling.assisted.csv"
    want = settings.clickhouse.client().execute(
        "SELECT uniqExact(kafka_partition, kafka_offset) FROM event_log "
        "WHERE day = %(day)s AND type = 'sampling.assisted'",
        {"day": date.fromisoformat(day)},
    )[0][0]
    assert entry["events"] == want > 0
    assert frontline(settings, "export", "--check", str(out)).returncode == 0


def test_an_event_log_row_written_twice_is_exported_once(
    shared_live: SharedCampaign, tmp_path: Path
) -> None:
    """A write repeated after a crash leaves two event_log rows for one event until ClickHouse
    merges them (ReplacingMergeTree): the export holds the event once."""
    settings = shared_live.settings
    client = settings.clickhouse.client()
    [(partition, offset, day)] = client.execute(
        "SELECT kafka_partition, kafka_offset, day FROM event_log "
        "ORDER BY kafka_partition, kafka_offset LIMIT 1"
    )
    where = {"partition": partition, "offset": offset}
    client.execute(
        "INSERT INTO event_log SELECT * FROM event_log "
        "WHERE kafka_partition = %(partition)s AND kafka_offset = %(offset)s LIMIT 1",
        where,
    )
    try:
        rows, events = client.execute(
            "SELECT count(), uniqExact(kafka_partition, kafka_offset) FROM event_log "
            "WHERE day = %(day)s",
            {"day": day},
        )[0]
        assert rows == events + 1, "the copy was merged away before the export"
        out = tmp_path / "twice"
        done = frontline(
            settings, "export", "--from", str(day), "--to", str(day), "--out", str(out)
        )
        assert done.returncode == 0, done.stdout + done.stderr
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["events"] == events
        assert sum(f["events"] for f in manifest["files"]) == events
        lines = [
            line for f in manifest["files"] for line in (out / f["path"]).read_bytes().splitlines()
        ]
        assert len(lines) == len(set(lines)) == events
    finally:
        client.execute("OPTIMIZE TABLE event_log FINAL")  # the other tests' campaign as it was


METRICS = (
    "sampling_assists",
    "calls",
    "call_minutes",
    "disinfected_m2",
    "donations_fen",
    "checkins",
    "service_hours",
    "volunteers",
    "teams",
)


def test_trace_of_random_cells_sums_to_the_cell(
    isolated: Settings, live: tuple[dict[str, Any], Path]
) -> None:
    result = queries.run(isolated.dashboard, "daily_by_org")
    rows = [dict(zip(result.columns, r, strict=True)) for r in result.rows]
    rng = random.Random(3)
    for metric in METRICS:
        cells = [r for r in rows if r[metric]]
        cell = rng.choice(cells)
        traced = frontline(
            isolated,
            "trace",
            "--org",
            str(cell["org_id"]),
            "--day",
            str(cell["day"]),
            "--metric",
            metric,
        )
        assert traced.returncode == 0, f"{metric}: {traced.stdout}{traced.stderr}"
        assert f"= daily_by_org's {metric} ({cell[metric]:g})" in traced.stdout, traced.stdout
        # One line per event (or shift, or member), each with its Kafka coordinates.
        assert len(traced.stdout.splitlines()) >= 3

    # A figure that no longer matches its events is reported.
    day, org, _ = alter_live_counter(isolated)
    wrong = frontline(isolated, "trace", "--org", org, "--day", day, "--metric", "sampling_assists")
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert "daily_by_org's sampling_assists" in wrong.stderr
