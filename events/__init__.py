"""The Frontline event contract: envelope, event types, versions, upcasters, JSON Schema export.

Imports nothing else of Frontline. The names re-exported here are its public API; a few
modules are used by name too (`events.routing`, `events.simulator`, `events.schema_export`,
`events.validation`, `events.fields`).
"""

from events.decode import DEFAULT_MAX_BYTES, SHANGHAI, decode, decode_at, encode, local_day
from events.envelope import Envelope
from events.privacy import contact_ref, looks_like_phone, mask_digit_runs, normalize_phone
from events.rejections import (
    INGEST_CODES,
    REJECTION_CODES,
    REJECTION_MEANINGS,
    WORKER_CODES,
    Rejected,
)
from events.types import (
    CURRENT_VERSION,
    EVENT_TYPES,
    FAMILIES,
    Activity,
    AssistKind,
    CallOutcome,
    DisinfectionCompleted,
    DonationReceived,
    DonorKind,
    Event,
    EventVoided,
    SamplingAssisted,
    TracingCallRecorded,
    VolunteerCheckedIn,
    VolunteerCheckedOut,
    family,
)
from events.upcasting import UPCASTERS

__all__ = [
    "CURRENT_VERSION",
    "DEFAULT_MAX_BYTES",
    "EVENT_TYPES",
    "FAMILIES",
    "INGEST_CODES",
    "REJECTION_CODES",
    "REJECTION_MEANINGS",
    "SHANGHAI",
    "UPCASTERS",
    "WORKER_CODES",
    "Activity",
    "AssistKind",
    "CallOutcome",
    "DisinfectionCompleted",
    "DonationReceived",
    "DonorKind",
    "Envelope",
    "Event",
    "EventVoided",
    "Rejected",
    "SamplingAssisted",
    "TracingCallRecorded",
    "VolunteerCheckedIn",
    "VolunteerCheckedOut",
    "contact_ref",
    "decode",
    "decode_at",
    "encode",
    "family",
    "local_day",
    "looks_like_phone",
    "mask_digit_runs",
    "normalize_phone",
]
