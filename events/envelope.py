"""The envelope every event carries (DESIGN.md, "The wire contract (v1)")."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from events.fields import Id, Source, Timestamp


class Envelope(BaseModel):
    """Fields common to all events. `event_id` is the idempotency key.

    Strict (no "5" for 5), closed (unknown fields are refused: typos do not pass silently) and
    frozen (events are facts).
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    event_id: UUID
    # Narrowed to a Literal by each event type; declared here to keep the wire order.
    type: str
    # A strict int, not Literal[1]: a Literal would accept JSON `true` (True == 1).
    schema_version: Annotated[int, Field(ge=1, le=1)]
    occurred_at: Timestamp
    org_id: Id
    team_id: Id
    volunteer_id: Id
    source: Source


class Data(BaseModel):
    """Base of the per-type payloads."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")
