"""`emit_lines`' control flow, with a stand-in producer (no Kafka: the real one is exercised by
tests/integration/test_emit.py): a rejected line never stops a run; Kafka refusing everything
stops it at that line, for exit code 3."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from typing import Any

from events import decode, encode
from events.examples import EXAMPLES
from streams.dead_letters import read_dead_letter
from streams.ingest import emit
from streams.ingest.emit import emit_lines
from streams.ingest.producer import BrokerUnavailable, Delivered, DeliveryOutcome


class _Done:
    def add_done_callback(self, callback: Callable[[DeliveryOutcome], None]) -> None:
        callback(Delivered("t", 0, 0))


class StandIn:
    """Takes events until `fail_from` sends were made, then raises like a dead broker."""

    def __init__(self, fail_from: int | None = None) -> None:
        self.fail_from = fail_from
        self.events: list[bytes] = []
        self.dead: list[bytes] = []

    def _count(self) -> None:
        if self.fail_from is not None and len(self.events) + len(self.dead) >= self.fail_from:
            raise BrokerUnavailable("Kafka refused or could not take the write: gone")

    def partition_count(self) -> int:
        return 3

    def send_validated(
        self,
        key: bytes,
        value: bytes,
        partition: int,
        on_acknowledged: Callable[[Any], None],
        on_failed: Callable[[Any], None],
    ) -> None:
        self._count()
        self.events.append(value)
        on_acknowledged(None)

    def send_dead_letter(self, record: bytes) -> _Done:
        self._count()
        self.dead.append(record)
        return _Done()

    def flush(self) -> None:
        pass


def _lines(*docs: Any) -> list[bytes]:
    return [(d if isinstance(d, bytes) else json.dumps(d).encode()) + b"\n" for d in docs]


def test_rejected_lines_never_stop_the_run() -> None:
    good = EXAMPLES["sampling.assisted"]
    huge = json.dumps(good).encode()[:-1] + b"," + b" " * 900_000 + b"}"
    producer = StandIn()
    rejects = io.StringIO()
    stats = emit_lines(
        _lines(good, huge, b"{nope", good),
        producer,  # type: ignore[arg-type]
        source_name="f",
        rejects=rejects,
    )
    assert (stats.lines, stats.sent, stats.rejected, stats.stopped_at) == (4, 2, 2, None)
    assert [read_dead_letter(d)["code"] for d in producer.dead] == ["too_large", "malformed_json"]


def test_kafka_refusing_stops_the_run_at_that_line() -> None:
    good = EXAMPLES["sampling.assisted"]
    producer = StandIn(fail_from=2)
    stats = emit_lines(_lines(good, good, good, good), producer, source_name="f")  # type: ignore[arg-type]
    assert stats.stopped_at == 3
    assert stats.sent == 2
    assert stats.first_failure is not None
    assert "gone" in stats.first_failure


def test_lines_checked_in_another_process_are_sent_in_order_as_checked_here(
    monkeypatch: Any,
) -> None:
    """Past the first chunk, lines are checked by another process: what is sent, and in what
    order, is what `decode` and `encode` make of each line here; a refused line is refused at
    its own line number, in whichever chunk it falls."""
    monkeypatch.setattr(emit, "CHUNK_LINES", 50)
    docs: list[Any] = []
    for i in range(230):
        doc = dict(EXAMPLES["sampling.assisted"])
        doc["event_id"] = str(uuid.UUID(int=i + 1, version=4))
        docs.append(b"{nope" if i % 37 == 5 else doc)
    producer = StandIn()
    rejects = io.StringIO()
    stats = emit_lines(_lines(*docs), producer, source_name="f", rejects=rejects)  # type: ignore[arg-type]
    good = [d for d in docs if not isinstance(d, bytes)]
    assert producer.events == [encode(decode(json.dumps(d).encode())) for d in good]
    refused = [json.loads(line)["line"] for line in rejects.getvalue().splitlines()]
    assert refused == [i + 1 for i, d in enumerate(docs) if isinstance(d, bytes)]
    assert (stats.lines, stats.rejected) == (230, len(refused))
    assert stats.sent == stats.acknowledged == len(good) == 223


def test_kafka_refusing_in_a_later_chunk_stops_at_that_line(monkeypatch: Any) -> None:
    monkeypatch.setattr(emit, "CHUNK_LINES", 50)
    good = EXAMPLES["sampling.assisted"]
    producer = StandIn(fail_from=120)
    stats = emit_lines(_lines(*[good] * 300), producer, source_name="f")  # type: ignore[arg-type]
    assert stats.stopped_at == 121
    assert stats.sent == 120
