"""Why an event is refused: one exception, stable machine-readable codes.

Codes are a public API (dead letters, `frontline validate`, field-app docs): never rename one;
add new codes at the end. Messages name the offending field but never echo its value, so a
phone number typed into the wrong field cannot leak through a rejection.
"""

from __future__ import annotations

from typing import Final

# code -> what it means (the fix is in docs/contract.md).
REJECTION_MEANINGS: Final[dict[str, str]] = {
    "too_large": "the message is bigger than the size limit (default 64 KiB)",
    "invalid_encoding": "the message is not valid UTF-8",
    "malformed_json": "the message is not a JSON document",
    "not_object": "the JSON document is not an object",
    "missing_field": "a required field is absent",
    "unknown_field": "a field that the event type does not define is present",
    "unknown_type": "`type` is not one of the event types",
    "unsupported_version": "`schema_version` is newer than this service or has no upcaster",
    "invalid_event_id": "`event_id` is not a UUID",
    "invalid_id": "an id or `source` is empty, too long or uses characters outside the set",
    "invalid_timestamp": "a timestamp is not an ISO 8601 date-time",
    "naive_timestamp": "a timestamp has no UTC offset",
    "timestamp_too_old": "a timestamp is before 2019-12-01",
    "timestamp_in_future": "`occurred_at` is later than the receive time plus the tolerance",
    "invalid_enum": "a value is not one of the allowed values of a closed enum",
    "out_of_range": "a number is below its minimum or above its documented maximum",
    "wrong_type": "a value has the wrong JSON type (e.g. a string where an integer is expected)",
    "phone_number": "a field looks like a phone number (never send numbers in clear)",
    "invalid_contact_ref": "`contact_ref` is not a keyed hash (64 lowercase hex characters)",
}

REJECTION_CODES: Final[tuple[str, ...]] = tuple(REJECTION_MEANINGS)

# Decided by the worker, which sees every copy of an event_id (docs/architecture.md); `decode`
# never raises these.
WORKER_REJECTION_MEANINGS: Final[dict[str, str]] = {
    "conflicting_duplicate": "the `event_id` was accepted before with other content",
    "misrouted": "the message is not in its `event_id`'s partition of the event topic",
    "already_voided": "a void of an event voided before: recorded, changes nothing",
}
WORKER_CODES: Final[tuple[str, ...]] = tuple(WORKER_REJECTION_MEANINGS)

# Decided by HTTP ingest, which parses the whole request body itself.
INGEST_REJECTION_MEANINGS: Final[dict[str, str]] = {
    "duplicate_key": "an object of the event has the same key twice (parsers disagree on which "
    "value wins)",
}
INGEST_CODES: Final[tuple[str, ...]] = tuple(INGEST_REJECTION_MEANINGS)


class Rejected(Exception):  # noqa: N818 - the name says what happened to the event
    """An event failed the contract; `code` is stable, `message` is for humans."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        if not any(
            code in known
            for known in (REJECTION_MEANINGS, WORKER_REJECTION_MEANINGS, INGEST_REJECTION_MEANINGS)
        ):
            raise ValueError(f"unknown rejection code {code!r}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field

    def __reduce__(self) -> tuple[type[Rejected], tuple[str, str, str | None]]:
        return (Rejected, (self.code, self.message, self.field))
