"""One invalid message per rejection code, made from a valid event (for the simulator)."""

from __future__ import annotations

import json
from collections.abc import Callable
from random import Random
from typing import Any, Final

Mutation = Callable[[dict[str, Any], Random], dict[str, Any] | list[Any] | None]


def _set(key: str, value: Any) -> Mutation:
    def apply(event: dict[str, Any], rng: Random) -> dict[str, Any]:
        event[key] = value
        return event

    return apply


def _set_data(key: str, value: Any) -> Mutation:
    def apply(event: dict[str, Any], rng: Random) -> dict[str, Any]:
        event["data"][key] = value
        return event

    return apply


def _drop(key: str) -> Mutation:
    def apply(event: dict[str, Any], rng: Random) -> dict[str, Any]:
        event.pop(key)
        return event

    return apply


def _phone(event: dict[str, Any], rng: Random) -> dict[str, Any]:
    # A volunteer typed their mobile number as their id.
    event["volunteer_id"] = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
    return event


def _contact(event: dict[str, Any], rng: Random) -> dict[str, Any]:
    event["type"] = "tracing.call_recorded"
    event["data"] = {
        "contact_ref": "unknown",
        "started_at": event["occurred_at"],
        "duration_s": 60,
        "outcome": "reached",
    }
    return event


def _naive(event: dict[str, Any], rng: Random) -> dict[str, Any]:
    event["occurred_at"] = event["occurred_at"][:19]
    return event


def _future(event: dict[str, Any], rng: Random) -> dict[str, Any]:
    event["occurred_at"] = "2099" + event["occurred_at"][4:]
    return event


# code -> change to a valid sampling.assisted event (None: handled on bytes).
MUTATIONS: Final[dict[str, Mutation | None]] = {
    "too_large": None,
    "invalid_encoding": None,
    "malformed_json": None,
    "not_object": lambda event, rng: [event],
    "missing_field": _drop("volunteer_id"),
    "unknown_field": _set_data("notes", "queue at gate 2"),
    "unknown_type": _set("type", "sampling.helped"),
    "unsupported_version": _set("schema_version", 2),
    "invalid_event_id": lambda event, rng: event | {"event_id": event["event_id"][:8]},
    "invalid_id": _set_data("site_id", "site 1"),
    "invalid_timestamp": _set("occurred_at", "17/03/2022 09:30"),
    "naive_timestamp": _naive,
    "timestamp_too_old": _set("occurred_at", "1970-01-01T08:00:00+08:00"),
    "timestamp_in_future": _future,
    "invalid_enum": _set_data("assist_kind", "cheering"),
    "out_of_range": _set_data("people_assisted", 0),
    "wrong_type": _set_data("people_assisted", "1"),
    "phone_number": _phone,
    "invalid_contact_ref": _contact,
}


def invalid_line(code: str, event: dict[str, Any], rng: Random, max_bytes: int = 65_536) -> bytes:
    """A JSON line (with newline) that `decode` rejects with `code`."""
    mutation = MUTATIONS[code]
    if mutation is not None:
        return json.dumps(mutation(event, rng), separators=(",", ":")).encode() + b"\n"
    raw = json.dumps(event, separators=(",", ":")).encode()
    if code == "too_large":
        raw += b" " * (max_bytes + 1 - len(raw))
    elif code == "invalid_encoding":
        raw = raw.replace(b'"site-', b'"site-\xe9', 1)
    else:  # malformed_json: cut short
        raw = raw[: len(raw) // 2]
    return raw + b"\n"
