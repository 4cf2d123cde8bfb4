"""A worker's first start against a Kafka that has never seen a consumer group counts exactly
(issue #12, finding 1): a freshly formatted broker answers the first group request with
COORDINATOR_NOT_AVAILABLE while it creates __consumer_offsets, and the worker died on it at
start; the second try passed. Start-up steps now retry it (streams.startup)."""

from __future__ import annotations

import json
from pathlib import Path

from streams.settings import Settings
from tests.integration.harness import (
    assert_counts_exact,
    frontline,
    start_worker,
    stop,
    wait_caught_up,
)
from tests.integration.servers import ThrowawayKafka


def test_a_worker_on_a_brand_new_broker_counts_exactly(isolated: Settings, tmp_path: Path) -> None:
    (tmp_path / "kafka").mkdir()
    kafka = ThrowawayKafka(tmp_path / "kafka")
    kafka.start()  # formatted now: no group has ever been asked for
    fresh = isolated.model_copy(update={"kafka_bootstrap": kafka.bootstrap})
    worker = None
    try:
        out, expect = tmp_path / "events.jsonl", tmp_path / "expected.json"
        sim = frontline(
            fresh, "simulate", "--scale", "0.001", "--seed", "11", "--out", str(out),
            "--expect", str(expect),
        )  # fmt: skip
        assert sim.returncode == 0, sim.stderr
        log = tmp_path / "worker.log"
        worker = start_worker(fresh, log)  # its start-up makes the broker's first group request
        emitted = frontline(fresh, "emit", str(out), "--allow-rejects", "--quiet")
        assert emitted.returncode == 0, emitted.stderr
        wait_caught_up(fresh, [worker], log)
        assert_counts_exact(fresh, json.loads(expect.read_text()))
    finally:
        if worker is not None:
            stop(worker)
        kafka.kill()
