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

import numpy as np

from projections.audit import SELECTED_EVENTS
from projections.store import StateStore
from streams.audit.history import Message, read_records
from streams.settings import Settings
from streams.topics import events_topic

MANIFEST = "manifest.json"
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
    number: int  # its place among the export's files, in the order they were first met
    events: int  # known before reading: read_records gives every wanted offset or raises
    offsets: dict[int, list[int]]  # partition: [first, last]
    handle: IO[bytes] | None = None
    sha256: Any = field(default_factory=hashlib.sha256)
    size: int = 0  # bytes written
    # Lines (without their newline) not yet written nor hashed: a few hundred bytes each, so
    # writing and hashing them one by one cost more than the rest of the export; done once per
    # run of records fetched together instead.
    pending: list[bytes] = field(default_factory=list)

    def flush(self) -> None:
        assert self.handle is not None
        data = b"\n".join(self.pending) + b"\n"
        self.handle.write(data)
        self.sha256.update(data)
        self.size += len(data)
        self.pending.clear()

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
    """The CSV record of an event, without its final newline."""
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
    return out.getvalue().encode()[:-1]


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
    rows = settings.dashboard.client().execute(
        SELECTED_EVENTS,
        {
            "topic": topic,
            "from_day": request.from_day,
            "to_day": request.to_day,
            "org_id": request.org_id,
            "type": request.type,
        },
    )
    # Each file's events, up to each partition's checkpoint, counted and spanned with numpy (a
    # few hundred thousand offsets a day at scale 1: nothing done per event in Python here).
    files: dict[tuple[date, str], _File] = {}
    chunks: dict[int, list[tuple[int, np.ndarray[Any, Any]]]] = {}
    for partition, day, kind, listed in sorted(rows):
        offsets = np.fromiter(listed, dtype=np.int64, count=len(listed))
        offsets = offsets[offsets <= checkpoints.get((topic, partition), -1)]
        if not len(offsets):
            continue
        f = files.get((day, kind))
        if f is None:
            name = day.isoformat()
            path = f"{name}/{kind}.{request.fmt}"
            f = files[(day, kind)] = _File(path, name, kind, len(files), 0, {})
        f.events += len(offsets)
        f.offsets[partition] = [int(offsets.min()), int(offsets.max())]
        chunks.setdefault(partition, []).append((f.number, offsets))
    # Per partition: the wanted offsets in order and the number of each one's file.
    wanted: dict[int, list[int]] = {}
    file_of: dict[int, list[int]] = {}
    for partition, parts in chunks.items():
        offsets = np.concatenate([o for _, o in parts])
        which = np.concatenate([np.full(len(o), n, dtype=np.int32) for n, o in parts])
        order = np.argsort(offsets, kind="stable")
        wanted[partition] = offsets[order].tolist()
        file_of[partition] = which[order].tolist()
    total = sum(len(o) for o in wanted.values())
    progress(0, total)
    request.out.mkdir(parents=True, exist_ok=True)
    numbered = list(files.values())  # in the order of their numbers
    appends = [f.pending.append for f in numbered]
    done = 0
    jsonl = request.fmt == "jsonl"

    def take(partition: int, first: int, records: list[Any]) -> None:
        nonlocal done
        which = file_of[partition][first : first + len(records)]
        if jsonl:
            for n, r in zip(which, records, strict=True):
                appends[n](r.value)
        else:
            for n, r in zip(which, records, strict=True):
                message = Message(partition, r.offset, r.timestamp, r.value or b"")
                appends[n](_csv_line(message))
        for f in numbered:
            if f.pending:
                f.flush()
        done += len(records)
        progress(done, total)

    try:
        for f in numbered:
            (request.out / f.day).mkdir(exist_ok=True)
            f.handle = (request.out / f.path).open("wb")
            if not jsonl:
                f.pending.append(",".join(CSV_COLUMNS).encode())
        # Partition after partition (read_records' order): the files are reproducible.
        read_records(settings, topic, wanted, take)  # every file has an event: all flushed
    finally:
        for f in numbered:
            if f.handle is not None:
                f.handle.close()
    progress(done, total)
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
        "files": [files[k].entry() for k in sorted(files)],
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
