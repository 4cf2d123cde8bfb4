"""Auditors' replay and audit on the real stack: a replay equals live while the live worker
runs; an altered live row is reported with its key; a replay killed with -9 resumes exactly; a
replay of one org counts only that org; a verified rebuild is promoted with --swap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from projections import queries
from projections.store import StateStore
from streams.settings import Settings
from streams.topic_admin import delete_all, ensure
from streams.topics import events_topic
from tests.integration.conftest import SharedCampaign
from tests.integration.harness import (
    ROOT,
    assert_counts_exact,
    checkpoint_marks,
    cut_short_after,
    emit_campaign,
    env_of,
    frontline,
    start_worker,
    stop,
    wait_caught_up,
)


def alter_live_counter(settings: Settings) -> tuple[str, str, int]:
    """A newer version of one org's daily counter with one more sampling assist: (day, org,
    the new value)."""
    client = settings.clickhouse.client()
    row = client.execute(
        "SELECT kafka_topic, kafka_partition, dim, day, org_id, member, version, events, calls, "
        "calls_reached, call_s, sampling_assists, disinfected_m2, floors, donations_fen "
        "FROM counters WHERE dim = 'org' AND sampling_assists > 0 ORDER BY version DESC LIMIT 1"
    )[0]
    changed = list(row)
    changed[6] = row[6] + 1_000_000  # a newer version wins
    changed[11] = row[11] + 1
    client.execute(
        "INSERT INTO counters (kafka_topic, kafka_partition, dim, day, org_id, member, version, "
        "events, calls, calls_reached, call_s, sampling_assists, disinfected_m2, floors, "
        "donations_fen) VALUES",
        [tuple(changed)],
    )
    return str(row[3]), str(row[4]), int(changed[11])


def test_replay_equals_live_and_audit_reports_an_altered_row(
    isolated: Settings, rebuilt: Settings, live: tuple[dict[str, Any], Path]
) -> None:
    expected, _ = live
    # The live worker keeps running during the replay.
    done = frontline(isolated, "replay", "--into", rebuilt.clickhouse_database, "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "replay planned" in done.stdout
    assert "offsets 0 to" in done.stdout
    assert_counts_exact(rebuilt, expected)

    equal = frontline(isolated, "audit", "--rebuilt", rebuilt.clickhouse_database)
    assert equal.returncode == 0, equal.stdout + equal.stderr
    assert "every table and view equal" in equal.stdout
    assert "table event_log" in equal.stdout

    day, org, value = alter_live_counter(isolated)
    differs = frontline(isolated, "audit", "--rebuilt", rebuilt.clickhouse_database)
    assert differs.returncode == 1, differs.stdout + differs.stderr
    lines = differs.stdout.splitlines()
    # The counters table and the views built on it name the key, the column and both values.
    counters = [x for x in lines if f"org_id={org}" in x and f"day={day}" in x]
    assert any("sampling_assists" in x and str(value) in x for x in counters), (
        differs.stdout + differs.stderr
    )
    assert any(x.startswith("table counters") and "DIFFERS (1 rows)" in x for x in lines)
    assert any(x.startswith("view  daily_by_org") and "DIFFERS" in x for x in lines)
    assert any(x.startswith("view  totals") and "DIFFERS" in x for x in lines)
    assert any(x.startswith("table event_log") and "equal" in x for x in lines)


def _replay_part_way(
    isolated: Settings,
    rebuilt: Settings,
    options: list[str],
    log: Path,
    *,
    own_session: bool,
    partitions: int = 1,
) -> tuple[subprocess.Popen[bytes], int]:
    """A replay into `rebuilt` started in the background with small batches (many
    checkpoints, so a kill lands mid-way), once its checkpoints cover more than 1,000 messages
    in at least `partitions` partitions (or it ended, or 120 s passed): (the process, messages
    covered then)."""
    command = [sys.executable, "-m", "streams.cli", "replay", "--quiet"]
    command += ["--into", rebuilt.clickhouse_database, "--batch", "100", "--write-max", "100"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, *options],
            env={**os.environ, **env_of(isolated)},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=own_session,
        )
    deadline = time.monotonic() + 120
    covered = 0
    while time.monotonic() < deadline and process.poll() is None and covered <= 1000:
        try:
            rows = rebuilt.clickhouse.client().execute(
                "SELECT count(), sum(v + 1) FROM (SELECT max(version) AS v FROM checkpoints "
                "GROUP BY kafka_topic, kafka_partition)"
            )
            covered = int(rows[0][1] or 0) if rows[0][0] >= partitions else 0
        except Exception:  # the database or table is not created yet
            covered = 0
        time.sleep(0.05)
    return process, covered


def test_replay_killed_with_9_resumes_without_double_counting(
    isolated: Settings, rebuilt: Settings, tmp_path: Path
) -> None:
    expected = emit_campaign(isolated, tmp_path, seed=12)
    into = rebuilt.clickhouse_database
    log = tmp_path / "replay.log"
    total = expected["meta"]["lines"]
    first, covered = _replay_part_way(isolated, rebuilt, [], log, own_session=True)
    stop(first, signal.SIGKILL)
    assert 1000 < covered < total, f"killed at {covered} of {total}: {log.read_text()[-2000:]}"

    resumed = frontline(isolated, "replay", "--into", into, "--quiet")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming the replay planned" in resumed.stdout
    assert_counts_exact(rebuilt, expected)

    # Started once more, it has nothing left to do and counts nothing again.
    again = frontline(isolated, "replay", "--into", into, "--quiet")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "replayed 0 messages" in again.stdout
    assert_counts_exact(rebuilt, expected)


def test_a_write_the_interruption_cut_short_is_replayed_again_on_resume(
    shared_live: SharedCampaign, shared_rebuilt: Settings, tmp_path: Path
) -> None:
    # Seen in CI: a two-process replay killed and resumed counted 12,074 sampling assists of
    # 12,086. A resumed replay loaded each partition's state at its checkpoint without the
    # worker's check for state rows written past it (a kill between a write's counters and
    # its checkpoint, then a merge keeping only the newest version of each key).
    settings, rebuilt = shared_live.settings, shared_rebuilt
    into = rebuilt.clickhouse_database
    log = tmp_path / "replay.log"
    first, covered = _replay_part_way(settings, rebuilt, [], log, own_session=True)
    stop(first, signal.SIGKILL)
    assert covered > 1000, log.read_text()[-2000:]
    halfway = checkpoint_marks(rebuilt)
    finished = frontline(settings, "replay", "--into", into, "--quiet")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    cut_short_after(rebuilt, halfway)
    store = StateStore(rebuilt.clickhouse)
    assert any(store.written_past(t, p, v) for t, p, v, *_ in halfway)

    resumed = frontline(settings, "replay", "--into", into, "--quiet")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert_counts_exact(rebuilt, shared_live.expected)
    assert "rebuilding the partition's state from Kafka" in resumed.stdout + resumed.stderr


def test_replay_of_one_org_counts_only_that_org(
    shared_live: SharedCampaign, shared_rebuilt: Settings
) -> None:
    settings, rebuilt = shared_live.settings, shared_rebuilt
    into = rebuilt.clickhouse_database
    refused = frontline(settings, "replay", "--into", settings.clickhouse_database)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "is the live database" in refused.stderr

    org = str(queries.run(settings.dashboard, "daily_by_org").rows[0][1])
    done = frontline(settings, "replay", "--into", into, "--org", org, "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "of other orgs" in done.stdout
    want = queries.run(settings.dashboard, "daily_by_org", org_id=org).rows
    assert want
    assert queries.run(rebuilt.dashboard, "daily_by_org").rows == want

    # The same database with other options is another replay: refused, nothing changed.
    other = frontline(settings, "replay", "--into", into, "--quiet")
    assert other.returncode == 2, other.stdout + other.stderr
    held = f"holds a replay of {events_topic(settings)} from the beginning, to the end, org {org}"
    assert held in other.stderr
    # So is a replay of another deployment's history (other topics) into it: both are named.
    elsewhere = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "other."})
    ensure(elsewhere)
    try:
        moved = frontline(elsewhere, "replay", "--into", into, "--org", org, "--quiet")
        assert moved.returncode == 2, moved.stdout + moved.stderr
        assert held in moved.stderr
        assert f"this one is of {events_topic(elsewhere)}" in moved.stderr
    finally:
        delete_all(elsewhere)


def test_swap_promotes_a_rebuild_and_the_worker_resumes_on_it(
    isolated: Settings, rebuilt: Settings, tmp_path: Path
) -> None:
    expected = emit_campaign(isolated, tmp_path, seed=13)
    log = tmp_path / "worker.log"
    worker = start_worker(isolated, log)
    try:
        wait_caught_up(isolated, [worker], log)
        done = frontline(isolated, "replay", "--into", rebuilt.clickhouse_database, "--quiet")
        assert done.returncode == 0, done.stdout + done.stderr
        alter_live_counter(isolated)  # the live projection goes wrong
        running = frontline(isolated, "audit", "--rebuilt", rebuilt.clickhouse_database, "--swap")
        assert running.returncode == 2, running.stdout + running.stderr
        assert "running" in running.stderr
    finally:
        stop(worker)
    deadline = time.monotonic() + 30
    while True:  # the group empties once the stopped member has left
        swapped = frontline(isolated, "audit", "--rebuilt", rebuilt.clickhouse_database, "--swap")
        if swapped.returncode != 2 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert swapped.returncode == 0, swapped.stdout + swapped.stderr
    assert_counts_exact(isolated, expected)
    # The replaced projection is kept in the other database, where the audit now finds the
    # altered row.
    differs = frontline(isolated, "audit", "--rebuilt", rebuilt.clickhouse_database)
    assert differs.returncode == 1, differs.stdout + differs.stderr

    worker = start_worker(isolated, log)
    try:
        wait_caught_up(isolated, [worker], log)
        assert_counts_exact(isolated, expected)
    finally:
        stop(worker)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_replay_in_two_processes_dies_whole_and_resumes_equal_to_live(
    isolated: Settings, rebuilt: Settings, live: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    expected, _ = live
    into = rebuilt.clickhouse_database
    log = tmp_path / "replay.log"
    # At least two partitions checkpointed: partitions alternate between the two processes.
    first, covered = _replay_part_way(
        isolated, rebuilt, ["--processes", "2"], log, own_session=False, partitions=2
    )
    workers = [c for c in _children(first.pid) if "spawn_main" in _cmdline(c)]
    first.send_signal(signal.SIGKILL)  # the parent only: its processes must not write on
    first.wait(10)
    assert len(workers) == 2, f"{workers}: {log.read_text()[-2000:]}"
    # At once: an orphan would replay on (for seconds more) beside the resumed run.
    gone_by = time.monotonic() + 2
    while any(_alive(w) for w in workers) and time.monotonic() < gone_by:
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers), "a replay process outlived its parent"
    assert 1000 < covered < expected["meta"]["lines"], log.read_text()[-2000:]

    resumed = frontline(isolated, "replay", "--into", into, "--quiet", "--processes", "2")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming the replay planned" in resumed.stdout
    assert_counts_exact(rebuilt, expected)
    equal = frontline(isolated, "audit", "--rebuilt", into)
    assert equal.returncode == 0, equal.stdout + equal.stderr
    assert "every table and view equal" in equal.stdout


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
