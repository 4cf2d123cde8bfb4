"""The dead-letter record: why an input was not counted, where it came from, and a bounded,
masked prefix of it.

One Kafka message per input that was not counted, value = UTF-8 JSON:

    {"format": 2, "code": "...", "message": "...", "field": "..." | null,
     "origin": {"via": "http" | "emit" | "worker", "device_id": ..., "topic": ...,
                "partition": ..., "offset": ..., "line": ...},
     "received_at": "2022-03-17T02:00:00+00:00",
     "event_id": "<the input's event_id when it is a valid UUID>" | null,
     "original_bytes": 123, "original_sha256": "<of the exact bytes received>",
     "original_prefix_b64": "<the first PREFIX_BYTES bytes, digit runs masked, base64>",
     "truncated": false}

Bounded whatever the input: the prefix keeps at most PREFIX_BYTES (the contract's size limit,
so an event that was refused for any other reason than its size is kept whole), and the record
stays under MAX_RECORD_BYTES, far below Kafka's 1 MiB message limit. So no input, however
large, can make dead-lettering fail (issue #11: a 2 MiB poison once stopped the worker). A
worker's dead letter names the input's Kafka coordinates: the full original stays in the event
topic, which is the history. Every run of 7+ digits in the prefix is masked whatever the code,
so a phone number typed anywhere never reaches the dead-letter topic in clear; the SHA-256 still
identifies the exact original.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from events import DEFAULT_MAX_BYTES, mask_digit_runs

FORMAT: Final = 2
PREFIX_BYTES: Final = DEFAULT_MAX_BYTES
# base64 of the prefix (4/3), after masking (a masked full-width digit shrinks), plus the rest.
MAX_RECORD_BYTES: Final = PREFIX_BYTES * 4 // 3 + 8192
_MESSAGE_CHARS: Final = 1000
# Where an event_id may be found without parsing a document that may be huge or broken.
_EVENT_ID: Final = re.compile(rb'"event_id"\s*:\s*"([0-9A-Fa-f-]{32,36})"')


def dead_letter(
    original: bytes,
    *,
    code: str,
    message: str,
    field: str | None = None,
    origin: dict[str, Any],
    received_at: datetime | None = None,
) -> bytes:
    """Serialize one dead-letter record (bounded, masked: see the module docstring)."""
    prefix = original[:PREFIX_BYTES]
    record = {
        "format": FORMAT,
        "code": code,
        "message": message[:_MESSAGE_CHARS],
        "field": None if field is None else field[:200],
        "origin": origin,
        "received_at": (received_at or datetime.now(UTC)).isoformat(),
        "event_id": _event_id(prefix),
        "original_bytes": len(original),
        "original_sha256": hashlib.sha256(original).hexdigest(),
        "original_prefix_b64": base64.b64encode(mask_digit_runs(prefix)).decode("ascii"),
        "truncated": len(original) > PREFIX_BYTES,
    }
    return json.dumps(record, separators=(",", ":"), sort_keys=True).encode()


def _event_id(prefix: bytes) -> str | None:
    """The input's event_id if it names a valid UUID (random digits, not a phone number)."""
    found = _EVENT_ID.search(prefix)
    if found is None:
        return None
    try:
        return str(uuid.UUID(found.group(1).decode("ascii")))
    except ValueError:
        return None


def read_dead_letter(value: bytes) -> dict[str, Any]:
    """Parse a record back; `original` holds the kept (masked) bytes.

    Records of format 1 (before the bound) kept the whole original in `original_b64`."""
    record: dict[str, Any] = json.loads(value)
    kept = record.pop("original_prefix_b64", None)
    if kept is None:
        kept = record.pop("original_b64")
    record["original"] = base64.b64decode(kept)
    return record
