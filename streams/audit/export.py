"""`frontline export`: the accepted events of a period, one file per day and type, and a
manifest an auditor can check a received copy against (`frontline export --check DIR`).

Which events: event_log says (day, org, type; offsets up to each checkpoint); their content
comes from Kafka, byte for byte as received (JSON Lines: each line hashes to event_log's
content_hash) or as CSV columns. Partitions are read one after another, so the files of two
exports of the same events are identical, byte for byte.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from projections.audit import SELECTED_EVENTS
from projections.store import StateStore
from streams.audit.history import Message, read_offsets
from streams.settings import Settings
from streams.topics import events_topic

MANIFEST = "manifest.json"
BUFFERED = 1 << 20
FORMATS = ("jsonl", "csv")
CSV_COLUMNS = (
    "kafka_partition",
    "kafka_offset",
    "kafka_ts_ms",
    "event_id",
    "type",
    "schema_version",
    "occurred_at",
    "org_id",
    "team_id",
    "volunteer_id",
    "source",
    "data",
)


@dataclass
class ExportRequest:
    from_day: date
    to_day: date
    out: Path
    fmt: str = "jsonl"
    org_id: str = ""
    type: str = ""


@dataclass
class _File:
    path: str  # relative to the export's directory
    day: str
    type: str
    handle: IO[bytes] | None = None  # opened at its first event
    sha256: Any = field(default_factory=hashlib.sha256)
    events: int = 0
    size: int = 0  # bytes written
    offsets: dict[int, list[int]] = field(default_factory=dict)  # partition: [first, last]
    # Lines not yet written nor hashed: a few hundred bytes each, so writing and hashing them
    # one by one cost more than the rest of the export; done per BUFFERED bytes instead.
    pending: list[bytes] = field(default_factory=list)
    pending_size: int = 0

    def write(self, data: bytes) -> None:
        self.pending.append(data)
        self.pending_size += len(data)
        if self.pending_size >= BUFFERED:
            self.flush()

    def cover(self, partition: int, offset: int) -> None:
        """Count an event written, at `offset` of `partition` (ascending within each)."""
        self.events += 1
        span = self.offsets.get(partition)
        if span is None:
            self.offsets[partition] = [offset, offset]
        else:
            span[1] = offset

    def flush(self) -> None:
        assert self.handle is not None
        data = b"".join(self.pending)
        self.handle.write(data)
        self.sha256.update(data)
        self.size += len(data)
        self.pending.clear()
        self.pending_size = 0

    def entry(self) -> dict[str, object]:
        return {
            "path": self.path,
            "day": self.day,
            "type": self.type,
            "events": self.events,
            "bytes": self.size,
            "sha256": self.sha256.hexdigest(),
            "offsets": {str(p): span for p, span in sorted(self.offsets.items())},
        }


def _csv_line(message: Message) -> bytes:
    event = json.loads(message.value)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(
        [
            message.partition,
            message.offset,
            message.timestamp_ms,
            event.get("event_id"),
            event.get("type"),
            event.get("schema_version"),
            event.get("occurred_at"),
            event.get("org_id"),
            event.get("team_id"),
            event.get("volunteer_id"),
            event.get("source"),
            json.dumps(event.get("data"), ensure_ascii=False, sort_keys=True),
        ]
    )
    return out.getvalue().encode()


def export(
    settings: Settings,
    request: ExportRequest,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> dict[str, Any]:
    """Write the export and its manifest; returns the manifest."""
    if request.fmt not in FORMATS:
        raise ValueError(f"format {request.fmt!r}: one of {', '.join(FORMATS)}")
    topic = events_topic(settings)
    checkpoints = StateStore(settings.dashboard).checkpoints()
    columns = settings.dashboard.client().execute(
        SELECTED_EVENTS,
        {
            "topic": topic,
            "from_day": request.from_day,
            "to_day": request.to_day,
            "org_id": request.org_id,
            "type": request.type,
        },
        columnar=True,
    )
    # Per partition: offset -> its file, up to the checkpoint (a few hundred thousand rows a
    # day at scale 1: one dict look-up per row, no per-row string).
    chosen: dict[int, dict[int, _File]] = {}
    files: dict[tuple[date, str], _File] = {}
    for partition, offset, day, kind in zip(*columns, strict=True) if columns else ():
        if offset > checkpoints.get((topic, partition), -1):
            continue
        f = files.get((day, kind))
        if f is None:
            name = day.isoformat()
            f = files[(day, kind)] = _File(f"{name}/{kind}.{request.fmt}", name, kind)
        by_offset = chosen.get(partition)
        if by_offset is None:
            by_offset = chosen[partition] = {}
        by_offset[offset] = f
    total = sum(len(o) for o in chosen.values())
    progress(0, total)
    request.out.mkdir(parents=True, exist_ok=True)
    done = 0
    jsonl = request.fmt == "jsonl"

    def write(message: Message) -> None:
        nonlocal done
        f = chosen[message.partition][message.offset]
        if f.handle is None:
            (request.out / f.day).mkdir(exist_ok=True)
            f.handle = (request.out / f.path).open("wb")
            if not jsonl:
                f.write((",".join(CSV_COLUMNS) + "\n").encode())
        if jsonl:
            f.write(message.value)
            f.write(b"\n")
        else:
            f.write(_csv_line(message))
        done += 1
        if done % 10_000 == 0:
            progress(done, total)

    wanted = {p: sorted(o) for p, o in chosen.items()}
    try:
        # Partition after partition (read_offsets' order): the files are reproducible.
        read_offsets(settings, topic, wanted, write)
    finally:
        for f in files.values():
            if f.handle is not None:
                f.flush()
                f.handle.close()
    progress(done, total)
    # read_offsets gave every wanted offset or raised: count them, not each write on the way.
    for partition, offsets in wanted.items():
        by_offset = chosen[partition]
        for offset in offsets:
            by_offset[offset].cover(partition, offset)
    manifest: dict[str, Any] = {
        "frontline_export": 1,
        "created_at_ms": int(time.time() * 1000),
        "topic": topic,
        "database": settings.clickhouse_database,
        "request": {
            "from_day": request.from_day.isoformat(),
            "to_day": request.to_day.isoformat(),
            "org_id": request.org_id,
            "type": request.type,
            "format": request.fmt,
        },
        "events": done,
        "files": [files[k].entry() for k in sorted(files) if files[k].handle is not None],
    }
    (request.out / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest


def manifest_digest(directory: Path) -> str:
    """SHA-256 of the manifest: keep it apart from the export to detect a rewritten manifest."""
    return hashlib.sha256((directory / MANIFEST).read_bytes()).hexdigest()


@dataclass(frozen=True)
class FileProblem:
    path: str
    problem: str


def check(directory: Path) -> list[FileProblem]:
    """Every file of the manifest present with its SHA-256, size and event count; no other
    file in the directory. Empty: the export is as it was written."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        return [FileProblem(MANIFEST, "missing: not a Frontline export directory")]
    try:
        manifest = json.loads(manifest_path.read_text())
        entries = list(manifest["files"])
    except (ValueError, KeyError, TypeError) as exc:
        return [FileProblem(MANIFEST, f"unreadable ({exc})")]
    problems = []
    listed = set()
    for entry in entries:
        path = str(entry["path"])
        listed.add(path)
        target = directory / path
        if not target.is_file():
            problems.append(FileProblem(path, "missing"))
            continue
        digest = hashlib.sha256()
        lines = 0
        size = 0
        with target.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                lines += chunk.count(b"\n")
                size += len(chunk)
        events = lines
        if path.endswith(".csv"):  # a quoted field may hold a newline: count records
            with target.open(newline="", encoding="utf-8", errors="replace") as text:
                events = sum(1 for _ in csv.reader(text)) - 1  # the header
        if digest.hexdigest() != entry["sha256"]:
            problems.append(FileProblem(path, f"SHA-256 {digest.hexdigest()} != manifest's"))
        if size != entry["bytes"]:
            problems.append(FileProblem(path, f"{size} bytes, manifest says {entry['bytes']}"))
        if events != entry["events"]:
            problems.append(FileProblem(path, f"{events} events, manifest says {entry['events']}"))
    for extra in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = extra.relative_to(directory).as_posix()
        if relative != MANIFEST and relative not in listed:
            problems.append(FileProblem(relative, "not in the manifest"))
    return problems
