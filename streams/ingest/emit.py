"""`frontline emit`: JSON Lines into Kafka through the producer SDK, with flat memory.

One line = one event. A line the contract refuses is written, with its reason, to the rejects
file and to the dead-letter topic (origin `emit`, file name and line number); it never stops
the run. Lines are read in chunks of CHUNK_LINES; the first chunk is checked here, the others
by a process of its own (streams/ingest/validate.py: checking in this process halved what
kafka-python could send), at most IN_FLIGHT chunks ahead, and at most the producer's buffer
waits for Kafka, so memory does not grow with the file (a 6.5 M-event campaign streams
through). Events are sent in the file's order.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

from streams.dead_letters import dead_letter
from streams.ingest.producer import Delivered, DeliveryOutcome, IngestError, Producer
from streams.ingest.validate import Checked, Refused, check_lines

CHUNK_LINES = 2_000
IN_FLIGHT = 4


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

    def acknowledged_one(self, _: Any) -> None:
        # Kafka's I/O thread is the only caller: no lock for the common case.
        self.acknowledged += 1

    def failed_one(self, error: IngestError) -> None:
        self.delivered(error)


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
    partitions = producer.partition_count()  # known since the producer started
    try:
        for checked in _checked(_chunks(lines, stats), partitions):
            for item in checked:
                stats.lines += 1
                try:
                    if isinstance(item, Checked):
                        producer.send_validated(
                            item.key,
                            item.value,
                            item.partition,
                            stats.acknowledged_one,
                            stats.failed_one,
                        )
                        stats.sent += 1
                        stats.sent_by_type[item.type] += 1
                    else:
                        _reject(producer, stats, item, source_name, rejects)
                except IngestError as exc:
                    # Kafka takes nothing more (down, or no room freed within the producer's
                    # block time): stop here; rerunning the same input is safe (event_id dedups).
                    stats.stopped_at = item.number
                    stats.first_failure = stats.first_failure or str(exc)
                    raise _StoppedError from None
            if progress is not None:
                now = time.monotonic()
                if now >= next_report:
                    progress(stats)
                    next_report = now + progress_every_s
    except _StoppedError:
        pass
    try:
        producer.flush()
    except IngestError as exc:
        stats.first_failure = stats.first_failure or str(exc)
    if progress is not None:
        progress(stats)
    return stats


class _StoppedError(Exception):
    """Kafka stopped taking events: the run ends at that line."""


def _chunks(lines: Iterable[bytes], stats: EmitStats) -> Iterator[list[tuple[int, bytes]]]:
    """The non-blank lines with their numbers, CHUNK_LINES at a time."""
    chunk: list[tuple[int, bytes]] = []
    for number, line in enumerate(lines, start=1):
        stats.bytes_read += len(line)
        raw = line.rstrip(b"\r\n")
        if not raw.strip():
            continue
        chunk.append((number, raw))
        if len(chunk) == CHUNK_LINES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _checked(
    chunks: Iterator[list[tuple[int, bytes]]], partitions: int
) -> Iterator[list[Checked | Refused]]:
    """Each chunk checked, in order: the first here (a short input never starts a process),
    the others in a process of their own, at most IN_FLIGHT ahead of the one being sent."""
    first = next(chunks, None)
    if first is None:
        return
    yield check_lines(first, partitions)
    pool: ProcessPoolExecutor | None = None
    pending: deque[Future[list[Checked | Refused]]] = deque()
    try:
        for chunk in chunks:
            if pool is None:
                # spawn: this process runs kafka-python's I/O thread, which a fork would copy
                # mid-flight.
                pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            pending.append(pool.submit(check_lines, chunk, partitions))
            if len(pending) >= IN_FLIGHT:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _reject(
    producer: Producer,
    stats: EmitStats,
    refused: Refused,
    source_name: str,
    rejects: IO[str] | None,
) -> None:
    stats.rejected += 1
    stats.rejected_by_code[refused.code] += 1
    number, raw = refused.number, refused.raw
    if rejects is not None:
        text = raw.decode("utf-8", "replace")
        entry = {
            "line": number,
            "code": refused.code,
            "message": refused.message,
            "field": refused.field,
            "text": text,
        }
        rejects.write(json.dumps(entry, ensure_ascii=False) + "\n")
    origin = {"via": "emit", "file": source_name, "line": number, "device_id": None}
    record = dead_letter(
        raw, code=refused.code, message=refused.message, field=refused.field, origin=origin
    )
    # A dead letter that cannot be stored is a delivery failure like any other.
    producer.send_dead_letter(record).add_done_callback(_count_failures_only(stats))


def _count_failures_only(stats: EmitStats) -> Callable[[DeliveryOutcome], None]:
    def done(outcome: DeliveryOutcome) -> None:
        if not isinstance(outcome, Delivered):
            stats.delivered(outcome)

    return done
