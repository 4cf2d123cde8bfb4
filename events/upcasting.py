"""Older wire versions become the current one by small pure functions, never by guessing.

An upcaster takes the decoded JSON object of version N and returns one of version N+1. Unknown
versions (newer than this service, or older without an upcaster) are rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from events.types import CURRENT_VERSION

JsonObject = dict[str, Any]
Upcaster = Callable[[JsonObject], JsonObject]


def upcast_sampling_v0_v1(event: JsonObject) -> JsonObject:
    """Pilot app: `count` became `people_assisted`; `assist_kind` did not exist ("other")."""
    data = event.get("data")
    if isinstance(data, dict):
        data = dict(data)
        if "count" in data:
            data["people_assisted"] = data.pop("count")
        data.setdefault("assist_kind", "other")
    return {**event, "data": data, "schema_version": 1}


# (type, from_version) -> upcaster to from_version + 1
UPCASTERS: Final[dict[tuple[str, int], Upcaster]] = {
    ("sampling.assisted", 0): upcast_sampling_v0_v1,
}


def can_upcast(event_type: str, version: int) -> bool:
    """True if a chain of upcasters leads from `version` to the current version."""
    return all((event_type, v) in UPCASTERS for v in range(version, CURRENT_VERSION))


def upcast(event: JsonObject, event_type: str, version: int) -> JsonObject:
    """Apply the upcasters from `version` to the current one (check `can_upcast` first)."""
    for v in range(version, CURRENT_VERSION):
        event = UPCASTERS[(event_type, v)](event)
    return event
