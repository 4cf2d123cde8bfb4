"""Dead-letter records for ingest rejections (emit and HTTP), with phone numbers kept out.

The dead-letter format (`streams.dead_letters`) keeps the original bytes whole. When the reason
is a phone number in clear, keeping them whole would put that number into Kafka, which the
design forbids; so, for that code only, digit runs of 7+ digits (with separators) are replaced
by `#` before the record is made. The rest of the original stays, so the broken app is still
recognizable.
"""

from __future__ import annotations

import re
from typing import Any

from streams.dead_letters import dead_letter

PHONE_CODE = "phone_number"
_DIGIT_RUN = re.compile(rb"\+?\d(?:[\d \-().]{5,}\d)")


def redact_digits(original: bytes) -> bytes:
    """Every run of 7+ digits (spaces, dashes, dots, parentheses allowed inside) -> '#'s."""
    return _DIGIT_RUN.sub(lambda m: b"#" * len(m.group(0)), original)


def reject_record(
    original: bytes,
    *,
    code: str,
    message: str,
    field: str | None,
    origin: dict[str, Any],
) -> bytes:
    """A dead-letter record for a rejected input; redacted when the reason is a phone number."""
    kept = redact_digits(original) if code == PHONE_CODE else original
    return dead_letter(kept, code=code, message=message, field=field, origin=origin)
