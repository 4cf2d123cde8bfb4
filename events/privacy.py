"""Phone numbers never travel in clear: a keyed reference for field apps, a detector for ingest.

`contact_ref(phone, key)`:
1. normalize to E.164: drop spaces, dashes, dots and parentheses; a leading `00` becomes `+`;
   without `+`, a Chinese number is assumed: 11-digit mobile `1[3-9]...` -> `+86...`, a
   landline with trunk `0` -> `+86` without the `0`, `86...` (12-13 digits) -> `+86...`;
2. HMAC-SHA256 with the shared key over the UTF-8 of the E.164 string, as lowercase hex.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final

_SEPARATORS: Final = re.compile(r"[\s().-]")
_E164: Final = re.compile(r"^\+[1-9]\d{6,14}$")

# Mainland mobile (1[3-9] + 9 digits) and landline (0 + 2-3 digit area code + 7-8 digit number
# starting 2-9), each optionally prefixed by +86/0086/86, with optional space/dash groups.
# Digit boundaries (not word boundaries) so "vol13812345678" is caught too.
PHONE_RE: Final = re.compile(
    r"(?<!\d)(?:"
    r"(?:(?:\+|00)?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}"
    r"|(?:(?:\+|00)86[- ]?(?:\(0\))?|0)[1-9]\d{1,2}[- )]?[2-9]\d{2,3}[- ]?\d{4}"
    r")(?!\d)"
)


# Masking (dead letters): any run of digits, whatever separates them (spaces, - . ( ) / : _ +),
# also full-width digits and JSON escapes of digits (\u0031), is masked when it holds 7 or more
# digits: the shortest local landline number. Possessive quantifiers keep the scan linear.
_DIGIT: Final = r"(?:\\u003\d|\d)"
_DIGIT_RUN: Final = re.compile(rf"{_DIGIT}(?:[\s\-.()/:_+]*+{_DIGIT})*+")
_DIGIT_TOKEN: Final = re.compile(_DIGIT)
MASK_MIN_DIGITS: Final = 7


def _mask(match: re.Match[str]) -> str:
    run = match.group()
    return "#" * len(run) if len(_DIGIT_TOKEN.findall(run)) >= MASK_MIN_DIGITS else run


def mask_digit_runs(raw: bytes) -> bytes:
    """`raw` with every run of 7+ digits replaced by as many `#`: no phone number survives,
    whatever its separators. Bytes that are not UTF-8 are kept as they are."""
    text = raw.decode("utf-8", "surrogateescape")
    return _DIGIT_RUN.sub(_mask, text).encode("utf-8", "surrogateescape")


def looks_like_phone(value: str) -> bool:
    """True if `value` contains something shaped like a mainland mobile or landline number."""
    return PHONE_RE.search(value) is not None


def normalize_phone(phone: str) -> str:
    """E.164 form of `phone` (Chinese numbers assumed without a country code); ValueError if not."""
    digits = _SEPARATORS.sub("", phone.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not digits.startswith("+"):
        if re.fullmatch(r"1[3-9]\d{9}", digits):
            digits = "+86" + digits
        elif re.fullmatch(r"0[1-9]\d{8,10}", digits):
            digits = "+86" + digits[1:]
        elif re.fullmatch(r"86\d{10,11}", digits):
            digits = "+" + digits
        else:
            raise ValueError("not a recognizable phone number")
    if not _E164.match(digits):
        raise ValueError("not a recognizable phone number")
    return digits


def contact_ref(phone: str, key: bytes) -> str:
    """HMAC-SHA256(key, E.164(phone)) as 64 lowercase hex characters."""
    if not key:
        raise ValueError("contact_ref needs a non-empty key")
    e164 = normalize_phone(phone)
    return hmac.new(key, e164.encode("utf-8"), hashlib.sha256).hexdigest()
