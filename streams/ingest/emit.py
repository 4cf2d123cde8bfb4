"""`frontline emit`: JSON Lines into Kafka through the producer SDK, with flat memory.

One line = one event. A line the contract refuses is written, with its reason, to the rejects
file and to the dead-letter topic (origin `emit`, file name and line number); it never stops
the run. Lines are read one at a time and at most the producer's buffer waits for Kafka, so
memory does not grow with the file (a 6.5 M-event campaign streams through).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO

from events import Rejected, decode
from streams.dead_letters import dead_letter
from streams.ingest.producer import Delivered, DeliveryOutcome, IngestError, Producer


@dataclass
class EmitStats:
    """What happened to the lines of one run."""

    lines: int = 0
    sent: int = 0
    acknowledged: int = 0
    rejected: int = 0
    failed: int = 0
    stopped_at: int | None = None  # the line where Kafka stopped taking events, if it did
    bytes_read: int = 0
    started: float = field(default_factory=time.monotonic)
    sent_by_type: Counter[str] = field(default_factory=Counter)
    rejected_by_code: Counter[str] = field(default_factory=Counter)
    first_failure: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    @property
    def rate(self) -> float:
        """Lines per second so far."""
        return self.lines / self.elapsed

    def delivered(self, outcome: DeliveryOutcome) -> None:
        # Called on Kafka's I/O thread.
        with self._lock:
            if isinstance(outcome, Delivered):
                self.acknowledged += 1
            else:
                self.failed += 1
                self.first_failure = self.first_failure or str(outcome)


def emit_lines(
    lines: Iterable[bytes],
    producer: Producer,
    *,
    source_name: str,
    rejects: IO[str] | None = None,
    progress: Callable[[EmitStats], None] | None = None,
    progress_every_s: float = 0.5,
) -> EmitStats:
    """Send every line; returns once every sent event is acknowledged or failed.

    Rejections go to `rejects` (one JSON object per line: line, code, message, field, text)
    and to the dead-letter topic; a rejected line never stops the run. Delivery failures are
    counted in `failed`; if Kafka stops taking events altogether, the run stops at that line
    (`stopped_at`). Either way, rerun the same input (duplicates are harmless, `event_id`
    dedups downstream).
    """
    stats = EmitStats()
    next_report = stats.started + progress_every_s
    for number, line in enumerate(lines, start=1):
        stats.bytes_read += len(line)
        raw = line.rstrip(b"\r\n")
        if not raw.strip():
            continue
        stats.lines += 1
        try:
            try:
                event = decode(raw)
            except Rejected as rej:
                _reject(producer, stats, rej, raw, number, source_name, rejects)
            else:
                producer.send_event(event).add_done_callback(stats.delivered)
                stats.sent += 1
                stats.sent_by_type[event.type] += 1
        except IngestError as exc:
            # Kafka takes nothing more (down, or no room freed within the producer's block
            # time): stop here; rerunning the same input is safe (event_id dedups).
            stats.stopped_at = number
            stats.first_failure = stats.first_failure or str(exc)
            break
        if progress is not None and stats.lines % 1024 == 0:
            now = time.monotonic()
            if now >= next_report:
                progress(stats)
                next_report = now + progress_every_s
    try:
        producer.flush()
    except IngestError as exc:
        stats.first_failure = stats.first_failure or str(exc)
    if progress is not None:
        progress(stats)
    return stats


def _reject(
    producer: Producer,
    stats: EmitStats,
    rej: Rejected,
    raw: bytes,
    number: int,
    source_name: str,
    rejects: IO[str] | None,
) -> None:
    stats.rejected += 1
    stats.rejected_by_code[rej.code] += 1
    if rejects is not None:
        text = raw.decode("utf-8", "replace")
        entry = {
            "line": number,
            "code": rej.code,
            "message": rej.message,
            "field": rej.field,
            "text": text,
        }
        rejects.write(json.dumps(entry, ensure_ascii=False) + "\n")
    origin = {"via": "emit", "file": source_name, "line": number, "device_id": None}
    record = dead_letter(raw, code=rej.code, message=rej.message, field=rej.field, origin=origin)
    # A dead letter that cannot be stored is a delivery failure like any other.
    producer.send_dead_letter(record).add_done_callback(_count_failures_only(stats))


def _count_failures_only(stats: EmitStats) -> Callable[[DeliveryOutcome], None]:
    def done(outcome: DeliveryOutcome) -> None:
        if not isinstance(outcome, Delivered):
            stats.delivered(outcome)

    return done
