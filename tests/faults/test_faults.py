"""Faults under steady load (issue #11, deliverable 8): worker kill -9, ClickHouse stopped,
Kafka stopped, a rebalance, a duplicate flood, poison messages of every kind. After each:
`totals` and `daily_by_org` equal the oracle, no unique event is missing or counted twice, every
poison message is dead-lettered with its reason, and the worker is still consuming."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from events.examples import EXAMPLES
from events.routing import partition_for
from projections.database import drop_database
from streams.ingest.http import create_ingest_app
from streams.ingest.tokens import TokenStore
from streams.settings import Settings
from streams.topics import dead_letter_topic, events_topic, worker_group
from tests.faults.conftest import Row, Variant
from tests.faults.pipeline import (
    Campaign,
    Load,
    http_sender,
    outage,
    progress,
    recovery_after,
    sdk_sender,
    simulate,
    start_worker,
    verdict,
    wait_until,
)
from tests.fixtures import load as fixtures
from tests.integration.harness import frontline, stop, stuck, wait_caught_up
from tests.integration.ingest_helpers import read_dead_letters
from tests.integration.servers import own_clickhouse, own_kafka, serving

CATCH_UP_S = 300


def _prepare(settings: Settings) -> None:
    assert frontline(settings, "migrate").returncode == 0
    assert frontline(settings, "topics", "ensure").returncode == 0


def _finish(
    settings: Settings,
    campaign: Campaign,
    load: Load,
    workers: list,  # type: ignore[type-arg]
    log: Path,
) -> None:
    load.join()
    wait_caught_up(settings, workers, log, timeout=CATCH_UP_S)
    assert all(w.poll() is None for w in workers), "a worker stopped"


def test_worker_kill_9_under_load(
    isolated: Settings, tmp_path: Path, variant: Variant, report: list[Row]
) -> None:
    campaign = simulate(isolated, tmp_path, variant.scale, seed=21)
    _prepare(isolated)
    log = tmp_path / "worker.log"
    worker = start_worker(isolated, log, "--batch", "500", "--write-max", "2000")
    send, close = sdk_sender(isolated)
    load = Load(send, campaign.lines, variant.rate).start()
    try:
        wait_until(
            lambda: progress(isolated) > len(campaign.lines) // 4, 120, "progress", [worker], log
        )
        killed = time.monotonic()
        stop(worker, signal.SIGKILL)
        time.sleep(variant.outage_s)
        restarted = time.monotonic()
        worker = start_worker(isolated, log)
        recovery = recovery_after(isolated, restarted, [worker], log)
        _finish(isolated, campaign, load, [worker], log)
        result = verdict(isolated, campaign)
    finally:
        close()
        stop(worker)
    report.append(
        Row("worker kill -9 (steady load)", load.offered_between(killed, restarted), result.lost,
            result.double_counted, recovery)
    )  # fmt: skip


def test_worker_kill_9_during_catch_up(
    isolated: Settings, tmp_path: Path, variant: Variant, report: list[Row]
) -> None:
    campaign = simulate(isolated, tmp_path, variant.scale, seed=22)
    _prepare(isolated)
    send, close = sdk_sender(isolated)
    Load(send, campaign.lines, 100_000, batch=500).start().join()  # all in before the worker
    close()
    log = tmp_path / "worker.log"
    worker = start_worker(isolated, log, "--batch", "500", "--write-max", "2000")
    try:
        wait_until(
            lambda: progress(isolated) > len(campaign.lines) // 3, 120, "progress", [worker], log
        )
        stop(worker, signal.SIGKILL)
        behind = len(campaign.lines) - progress(isolated)
        restarted = time.monotonic()
        worker = start_worker(isolated, log)
        recovery = recovery_after(isolated, restarted, [worker], log)
        wait_caught_up(isolated, [worker], log, timeout=CATCH_UP_S)
        result = verdict(isolated, campaign)
    finally:
        stop(worker)
    report.append(
        Row("worker kill -9 (catch-up)", behind, result.lost, result.double_counted, recovery)
    )


def test_clickhouse_stopped_under_load(
    isolated: Settings, tmp_path: Path, variant: Variant, report: list[Row]
) -> None:
    log = tmp_path / "worker.log"
    worker = None
    # worker_stall_s: the outage outlasts it, so the worker says where it waits.
    with own_clickhouse(isolated, tmp_path / "clickhouse", worker_stall_s=2.0) as (
        clickhouse,
        settings,
    ):
        try:
            campaign = simulate(settings, tmp_path, variant.scale, seed=23)
            _prepare(settings)
            worker = start_worker(settings, log)
            send, close = sdk_sender(settings)
            load = Load(send, campaign.lines, variant.rate).start()
            out = outage(
                settings, campaign, variant.outage_s, [worker], log, clickhouse.stop,
                clickhouse.start,
            )  # fmt: skip
            _finish(settings, campaign, load, [worker], log)
            close()
            written = log.read_text()
            assert "consumption paused" in written
            stalled = written[written.index("no batch written for") :]
            assert "handed over is not written" in stalled.splitlines()[0]
            assert "in _write" in stalled, "the stall report lacks the write's stack"
            assert "the worker moves again" in stalled
            result = verdict(settings, campaign)
        finally:
            if worker is not None:
                stop(worker)
    report.append(
        Row("ClickHouse stopped (steady load)", load.offered_between(out.down, out.up),
            result.lost, result.double_counted, out.recovery_s)
    )  # fmt: skip


def test_kafka_stopped_while_apps_post(
    isolated: Settings, tmp_path: Path, variant: Variant, report: list[Row]
) -> None:
    log = tmp_path / "worker.log"
    worker = None
    store = TokenStore(tmp_path / "tokens.json")
    with own_kafka(isolated, tmp_path / "kafka") as (kafka, settings):
        try:
            campaign = simulate(settings, tmp_path, variant.scale, seed=24)
            orgs = {json.loads(line)["org_id"] for line in campaign.lines}
            tokens = {org: store.create(f"device-{org}", org) for org in orgs}
            _prepare(settings)
            worker = start_worker(settings, log)
            ingest = settings.model_copy(update={"ingest_rate_limit": 1000.0})
            with serving(create_ingest_app(ingest, store)) as url:
                send = http_sender(url, tokens)
                load = Load(send, campaign.lines, variant.rate, by_org=True).start()
                out = outage(
                    settings, campaign, variant.outage_s, [worker], log, kafka.kill, kafka.start
                )
                _finish(settings, campaign, load, [worker], log)
            assert load.failures > 0, "no request was refused while Kafka was down"
            # The worker's log carries its Kafka client's errors (silenced before 2026-12-03).
            assert "Unable connect to node" in log.read_text()
            result = verdict(settings, campaign)
        finally:
            if worker is not None:
                stop(worker)
            drop_database(settings.clickhouse)
    report.append(
        Row("Kafka stopped (HTTP ingest: 503, apps retry)",
            load.offered_between(out.down, out.up), result.lost, result.double_counted,
            out.recovery_s)
    )  # fmt: skip


def test_rebalance_a_worker_joins_then_one_leaves(
    isolated: Settings, tmp_path: Path, variant: Variant, report: list[Row]
) -> None:
    campaign = simulate(isolated, tmp_path, variant.scale, seed=25)
    _prepare(isolated)
    log = tmp_path / "workers.log"
    first = start_worker(isolated, log, "--batch", "500", "--metrics-port", "0")
    second = None
    send, close = sdk_sender(isolated)
    # The campaign's last 40 % is sent after the first worker left. Sent all at once, the
    # load of the short variant (11.5 s) could end before the fault did (worker start-up,
    # outage_s, stop): everything was counted by then and no checkpoint could move after it
    # (CI 2026-12-02 and -03: "no checkpoint moved within 300 s"; reproduced here, every
    # checkpoint stood at its partition's end: the second worker had counted it all).
    held = len(campaign.lines) * 2 // 5
    load = Load(send, campaign.lines[:-held], variant.rate).start()
    try:
        wait_until(
            lambda: progress(isolated) > len(campaign.lines) // 5, 120, "progress", [first], log
        )
        joined = time.monotonic()
        second = start_worker(isolated, log, "--batch", "500", "--metrics-port", "0")
        time.sleep(variant.outage_s)
        stop(first)  # leaves the group: its partitions move to the second worker
        left = time.monotonic()
        rest = Load(send, campaign.lines[-held:], variant.rate)

        # Only once the first part is sent: a conflicting copy must not overtake the first one.
        def after_the_load() -> None:
            load.join()
            rest.start()

        starter = threading.Thread(target=after_the_load, daemon=True)
        starter.start()
        recovery = recovery_after(isolated, left, [second], log)
        starter.join(600)
        load.join()
        _finish(isolated, campaign, rest, [second], log)
        result = verdict(isolated, campaign)
    finally:
        close()
        stop(first)
        if second is not None:
            stop(second)
    report.append(
        Row("rebalance: a worker joins, one leaves", load.offered_between(joined, left),
            result.lost, result.double_counted, recovery)
    )  # fmt: skip


def test_a_worker_stopped_while_a_rebalance_waits_for_its_write_exits_by_itself(
    isolated: Settings, tmp_path: Path
) -> None:
    # Seen while chasing CI stop 24: a worker stopped during a rebalance waited in its revoke
    # for batches its stopped agent would never project, until it was killed; the group's
    # rebalance waited on it meanwhile. ClickHouse down holds the revoke open long enough.
    log = tmp_path / "worker.log"
    worker = joining = None
    with own_clickhouse(isolated, tmp_path / "clickhouse") as (clickhouse, settings):
        try:
            campaign = simulate(settings, tmp_path, "0.002", seed=28)
            _prepare(settings)
            send, close = sdk_sender(settings)
            Load(send, campaign.lines, 100_000, batch=500).start().join()  # a backlog to catch up
            close()
            worker = start_worker(settings, log, "--batch", "500", "--write-max", "500")
            wait_until(lambda: progress(settings) > 0, 120, "progress", [worker], log)
            clickhouse.stop()  # the write in flight waits; the next batches are handed over
            joining = _GroupMember(settings)  # a rebalance: the worker's revoke waits to finish
            wait_until(lambda: "revoked: finishing their writes" in log.read_text(), 60, "revoke",
                       [worker], log)  # fmt: skip
            worker.send_signal(signal.SIGTERM)
            clickhouse.start()
            try:
                code = worker.wait(60)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"the stopped worker hangs:\n{stuck([worker], log)}") from None
            assert code == 0, log.read_text()[-3000:]
            joining.close()
            joining = None
            worker = start_worker(settings, log)  # the rest is counted, exactly
            wait_caught_up(settings, [worker], log, timeout=CATCH_UP_S)
            verdict(settings, campaign)
        finally:
            if joining is not None:
                joining.close()
            if worker is not None:
                stop(worker)


class _GroupMember:
    """A consumer of the worker group polling in a thread of its own: it joins the group and
    stays, as a second worker would, without needing ClickHouse."""

    def __init__(self, settings: Settings) -> None:
        self._consumer = KafkaConsumer(
            events_topic(settings),
            bootstrap_servers=settings.bootstrap_servers,
            group_id=worker_group(settings),
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._done.is_set():
            self._consumer.poll(timeout_ms=200)

    def close(self) -> None:
        self._done.set()
        self._thread.join(30)
        self._consumer.close()


def test_five_fold_duplicate_flood(
    isolated: Settings, tmp_path: Path, variant: Variant, report: list[Row]
) -> None:
    campaign = simulate(isolated, tmp_path, variant.scale, seed=26)
    _prepare(isolated)
    log = tmp_path / "worker.log"
    worker = start_worker(isolated, log)
    send, close = sdk_sender(isolated)
    started = time.monotonic()
    load = Load(send, campaign.lines, 5 * variant.rate, copies=5).start()
    try:
        recovery = recovery_after(isolated, started, [worker], log)
        _finish(isolated, campaign, load, [worker], log)
        result = verdict(isolated, campaign)
    finally:
        close()
        stop(worker)
    duplicates = isolated.clickhouse.client().execute(
        "SELECT uniqExact(kafka_partition, kafka_offset) FROM uncounted WHERE outcome = 'duplicate'"
    )[0][0]
    assert duplicates >= 4 * campaign.expected["meta"]["accepted_unique"]
    report.append(
        Row("5x duplicate flood", load.sent, result.lost, result.double_counted, recovery)
    )


def _poisons(settings: Settings) -> list[tuple[bytes | None, str, int | None]]:
    """(value, expected code, partition or None) of every kind of poison message."""
    valid = {**EXAMPLES["sampling.assisted"], "event_id": "a0b1c2d3-0000-4000-8000-000000000001"}
    home = partition_for(uuid.UUID(valid["event_id"]), settings.topic_partitions)
    deep = b"[" * 100_000 + b"]" * 100_000
    out: list[tuple[bytes | None, str, int | None]] = [
        (b"{" + b" " * (2 << 20) + b"}", "too_large", None),  # 2 MiB, arrives compressed
        (None, "malformed_json", None),  # a tombstone
        (bytes(range(256)) * 8, "invalid_encoding", None),
        (deep, "too_large", None),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "malformed_json", None),
        # A valid event outside its id's partition (a raw producer keyed by something else).
        (json.dumps(valid).encode(), "misrouted", (home + 1) % settings.topic_partitions),
    ]
    out += [(f.wire, f.expect, None) for f in fixtures("invalid")]
    return out


def test_poison_messages_of_every_kind_under_load(
    isolated: Settings, tmp_path: Path, variant: Variant, report: list[Row]
) -> None:
    campaign = simulate(isolated, tmp_path, variant.scale, seed=27)
    _prepare(isolated)
    log = tmp_path / "worker.log"
    worker = start_worker(isolated, log)
    send, close = sdk_sender(isolated)
    load = Load(send, campaign.lines, variant.rate).start()
    raw = KafkaProducer(
        bootstrap_servers=isolated.bootstrap_servers,
        compression_type="gzip",
        max_request_size=8 << 20,
        acks="all",
    )
    try:
        wait_until(
            lambda: progress(isolated) > len(campaign.lines) // 4, 120, "progress", [worker], log
        )
        started = time.monotonic()
        poisons = _poisons(isolated)
        placed = [
            raw.send(
                events_topic(isolated),
                key=None if value is not None else b"a-tombstone",
                value=value,
                partition=partition,
            ).get(30)
            for value, _, partition in poisons
        ]
        recovery = recovery_after(isolated, started, [worker], log)
        _finish(isolated, campaign, load, [worker], log)
        result = verdict(isolated, campaign)
    finally:
        raw.close()
        close()
        stop(worker)
    letters = {
        (d["origin"]["partition"], d["origin"]["offset"]): d
        for d in read_dead_letters(isolated, dead_letter_topic(isolated))
        if d["origin"]["via"] == "worker"
    }
    for (_, code, _), meta in zip(poisons, placed, strict=True):
        letter = letters[(meta.partition, meta.offset)]
        assert letter["code"] == code, (code, letter["message"])
        assert letter["message"]
    report.append(
        Row(f"{len(poisons)} poison messages (2 MiB included)", len(poisons), result.lost,
            result.double_counted, recovery)
    )  # fmt: skip
