"""The dead-letter record: an event that failed validation, never dropped.

One Kafka message per rejected input, value = UTF-8 JSON:

    {"code": "...", "message": "...", "field": "..." | null,
     "origin": {"via": "http" | "emit" | "worker", "device_id": ..., "topic": ...,
                "partition": ..., "offset": ..., "line": ...},
     "received_at": "2022-03-17T02:00:00+00:00",
     "original_b64": "<the exact bytes received, base64>"}

The original bytes are kept whole (base64) so an operator can replay them after a fix; the
message never repeats the offending value itself (a rejected phone number stays out of it).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any


def dead_letter(
    original: bytes,
    *,
    code: str,
    message: str,
    field: str | None = None,
    origin: dict[str, Any],
    received_at: datetime | None = None,
) -> bytes:
    """Serialize one dead-letter record."""
    record = {
        "code": code,
        "message": message,
        "field": field,
        "origin": origin,
        "received_at": (received_at or datetime.now(UTC)).isoformat(),
        "original_b64": base64.b64encode(original).decode("ascii"),
    }
    return json.dumps(record, separators=(",", ":"), sort_keys=True).encode()


def read_dead_letter(value: bytes) -> dict[str, Any]:
    """Parse a record back; `original` holds the decoded original bytes."""
    record: dict[str, Any] = json.loads(value)
    record["original"] = base64.b64decode(record.pop("original_b64"))
    return record
