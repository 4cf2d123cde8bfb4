"""Constrained field types shared by the envelope and the event data.

Bounds are part of the contract (docs/contract.md); they catch unit mistakes and typos in field
apps (fen vs yuan, seconds vs milliseconds) rather than describe physics.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

from pydantic import AwareDatetime, Field, StringConstraints

# Ids: 1-64 chars of letters, digits and . _ : - ; starting with a letter or digit; and no run
# of digits and separators holding 10 or more digits, whatever the separators (a run is what
# lies between two letters). That last rule keeps phone numbers (and IMEIs) out of ids, written
# as 138-0635-0000, 138.0635.0000 or 138:0635:0000 alike, and lets pydantic's compiled regex do
# the privacy check on the fast path: the alternative, a Python scan of every id, halved decode
# throughput. Written so that every string has at most one way to match: no catastrophic
# backtracking in the regex engines of field apps (JavaScript, Python) that use the exported
# JSON Schema.


def _run(separators: str) -> str:
    """A run of digits and separators with fewer than 10 digits."""
    sep = f"[{separators}]"
    return f"(?:{sep}+(?:[0-9]{sep}*){{0,9}}|(?:[0-9]{sep}*){{1,9}})"


def _id_pattern(separators: str) -> str:
    run = _run(separators)
    return (
        rf"^(?:[A-Za-z]+(?:{run}[A-Za-z]+)*{run}?"
        rf"|(?:[0-9][{separators}]*){{1,9}}(?:[A-Za-z]+{run})*[A-Za-z]*)$"
    )


ID_SEPARATORS: Final = "-._:"
ID_PATTERN: Final = _id_pattern(ID_SEPARATORS)
ID_FORMAT: Final = (
    "1-64 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit, "
    "with fewer than 10 digits in any run of digits and . _ : -"
)
# `source` says which app/device sent it: same rules, plus / @ + allowed, up to 128 chars.
SOURCE_SEPARATORS: Final = "-._:/@+"
SOURCE_PATTERN: Final = _id_pattern(SOURCE_SEPARATORS)
SOURCE_FORMAT: Final = (
    "1-128 characters of A-Z a-z 0-9 . _ : / @ + - starting with a letter or digit, "
    "with fewer than 10 digits in any run of digits and . _ : / @ + -"
)
# HMAC-SHA256 as lowercase hex (see events.privacy.contact_ref).
CONTACT_REF_PATTERN: Final = r"^[0-9a-f]{64}$"

EARLIEST: Final = datetime(2019, 12, 1, tzinfo=UTC)

MAX_PEOPLE_ASSISTED: Final = 500
MAX_AREA_M2: Final = 1_000_000
MAX_FLOORS: Final = 500
MAX_DURATION_S: Final = 14_400  # 4 h: longer is a timer left running
MAX_AMOUNT_FEN: Final = 1_000_000_000  # 10 M yuan in one donation

Id = Annotated[str, StringConstraints(max_length=64, pattern=ID_PATTERN)]
Source = Annotated[str, StringConstraints(max_length=128, pattern=SOURCE_PATTERN)]
ContactRef = Annotated[str, StringConstraints(pattern=CONTACT_REF_PATTERN)]
# Why an event is voided, in words: 1 to 200 characters, no control characters. decode refuses
# one that hides a phone number (events.decode, like the ids).
REASON_PATTERN: Final = r"^[^\x00-\x1f]{1,200}$"
Reason = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=REASON_PATTERN)]
# The lower bound is checked by pydantic (fast); the upper one depends on the receive time.
Timestamp = Annotated[AwareDatetime, Field(ge=EARLIEST)]
PeopleAssisted = Annotated[int, Field(ge=1, le=MAX_PEOPLE_ASSISTED)]
AreaM2 = Annotated[int, Field(ge=1, le=MAX_AREA_M2)]
Floors = Annotated[int, Field(ge=0, le=MAX_FLOORS)]
DurationS = Annotated[int, Field(ge=0, le=MAX_DURATION_S)]
AmountFen = Annotated[int, Field(ge=1, le=MAX_AMOUNT_FEN)]
