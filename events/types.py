"""The v1 event types (six facts and one correction) and the discriminated union that decodes
any of them."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import Field

from events.envelope import Data, Envelope
from events.fields import (
    AmountFen,
    AreaM2,
    ContactRef,
    DurationS,
    Floors,
    Id,
    PeopleAssisted,
    Reason,
    Timestamp,
)


class Activity(StrEnum):
    SAMPLING_SUPPORT = "sampling_support"
    DISINFECTION = "disinfection"
    TRACING_CALLS = "tracing_calls"
    ORDER_KEEPING = "order_keeping"
    DELIVERY = "delivery"
    OTHER = "other"


class CallOutcome(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"
    REFUSED = "refused"
    CALLBACK_REQUESTED = "callback_requested"


class AssistKind(StrEnum):
    REGISTRATION = "registration"
    ORDER_KEEPING = "order_keeping"
    ELDERLY_HELP = "elderly_help"
    OTHER = "other"


class DonorKind(StrEnum):
    INDIVIDUAL = "individual"
    COMPANY = "company"
    SOCIAL_ORG = "social_org"
    ANONYMOUS = "anonymous"
    OTHER = "other"


class CheckInData(Data):
    shift_id: Id
    site_id: Id
    activity: Activity


class CheckOutData(Data):
    shift_id: Id
    site_id: Id


class CallData(Data):
    contact_ref: ContactRef
    started_at: Timestamp
    duration_s: DurationS
    outcome: CallOutcome


class SamplingData(Data):
    site_id: Id
    people_assisted: PeopleAssisted
    assist_kind: AssistKind


class DisinfectionData(Data):
    site_id: Id
    area_m2: AreaM2
    floors: Floors


class DonationData(Data):
    amount_fen: AmountFen
    donor_kind: DonorKind


class VoidData(Data):
    voided_event_id: UUID
    reason: Reason


class VolunteerCheckedIn(Envelope):
    """A volunteer started a shift: one volunteer service person-time."""

    type: Literal["volunteer.checked_in"]
    data: CheckInData


class VolunteerCheckedOut(Envelope):
    """A volunteer ended a shift (may arrive before its check-in)."""

    type: Literal["volunteer.checked_out"]
    data: CheckOutData


class TracingCallRecorded(Envelope):
    """An epidemiological tracing call was made; the contact is a keyed hash only."""

    type: Literal["tracing.call_recorded"]
    data: CallData


class SamplingAssisted(Envelope):
    """Volunteers helped `people_assisted` people through nucleic-acid sampling."""

    type: Literal["sampling.assisted"]
    data: SamplingData


class DisinfectionCompleted(Envelope):
    """An area was disinfected."""

    type: Literal["disinfection.completed"]
    data: DisinfectionData


class DonationReceived(Envelope):
    """A donation was received, in fen (1/100 yuan) so sums are exact."""

    type: Literal["donation.received"]
    data: DonationData


class EventVoided(Envelope):
    """An earlier event is cancelled: it stays in the history and counts no more. Sent by the
    organisation that recorded it (org_id, team_id, volunteer_id: who voids)."""

    type: Literal["event.voided"]
    data: VoidData


Event = Annotated[
    VolunteerCheckedIn
    | VolunteerCheckedOut
    | TracingCallRecorded
    | SamplingAssisted
    | DisinfectionCompleted
    | DonationReceived
    | EventVoided,
    Field(discriminator="type"),
]

EventModel = (
    type[VolunteerCheckedIn]
    | type[VolunteerCheckedOut]
    | type[TracingCallRecorded]
    | type[SamplingAssisted]
    | type[DisinfectionCompleted]
    | type[DonationReceived]
    | type[EventVoided]
)

EVENT_TYPES: Final[dict[str, EventModel]] = {
    "volunteer.checked_in": VolunteerCheckedIn,
    "volunteer.checked_out": VolunteerCheckedOut,
    "tracing.call_recorded": TracingCallRecorded,
    "sampling.assisted": SamplingAssisted,
    "disinfection.completed": DisinfectionCompleted,
    "donation.received": DonationReceived,
    "event.voided": EventVoided,
}

CURRENT_VERSION: Final = 1

# Families: the types whose counts are computed together (reports group by them).
FAMILIES: Final[dict[str, str]] = {
    "volunteer.checked_in": "shifts",
    "volunteer.checked_out": "shifts",
    "tracing.call_recorded": "calls",
    "sampling.assisted": "sampling",
    "disinfection.completed": "disinfection",
    "donation.received": "donations",
    "event.voided": "corrections",
}


def family(event_type: str) -> str:
    """The family of an event type ("shifts", "calls", ...); KeyError if unknown."""
    return FAMILIES[event_type]
