"""contact_ref: E.164 normalization and HMAC vectors (the same as docs/contract.md)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from events import contact_ref, looks_like_phone, normalize_phone

KEY = b"frontline-test-key"

# Test vectors published in docs/contract.md for field-app developers.
VECTORS = [
    ("138 0635 0000", "+8613806350000"),
    ("+86 138-0635-0000", "+8613806350000"),
    ("008613806350000", "+8613806350000"),
    ("8613806350000", "+8613806350000"),
    ("0635-8221234", "+866358221234"),
    ("(010) 6552 9988", "+861065529988"),
    ("+1 415 555 2671", "+14155552671"),
]
# Pinned so that the published vectors cannot drift (docs/contract.md, "contact_ref").
PINNED = "e8f7482006792975e7c5a0a4da102e3c363eb27b2a0e7231ecf2746642ccdac7"


@pytest.mark.parametrize(("raw", "e164"), VECTORS)
def test_normalize_phone(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize(("raw", "e164"), VECTORS)
def test_contact_ref_is_hmac_sha256_of_e164(raw: str, e164: str) -> None:
    expected = hmac.new(KEY, e164.encode(), hashlib.sha256).hexdigest()
    assert contact_ref(raw, KEY) == expected
    assert len(expected) == 64


def test_pinned_vector() -> None:
    assert contact_ref("138 0635 0000", KEY) == PINNED


# The table of docs/contract.md, "Privacy: contact_ref".
DOC_VECTORS = [
    ("0635-8221234", "d0d97d0a398f4ff5d61c30c2621e17422381ee5fc663dc6d9410660f9c0d42b9"),
    ("(010) 6552 9988", "b82a0a7243aaad5ab35fc449be6a1d1a5c7d1bb1a85d9cc469017e49f1d4ac48"),
    ("+1 415 555 2671", "0c2eea8c852a21cac872871a6c3e7802d88aa9acdae3689f4acb074755389827"),
]


@pytest.mark.parametrize(("raw", "ref"), DOC_VECTORS)
def test_documented_vectors(raw: str, ref: str) -> None:
    assert contact_ref(raw, KEY) == ref


def test_contact_ref_depends_on_key() -> None:
    assert contact_ref("13806350000", KEY) != contact_ref("13806350000", b"other-key")


@pytest.mark.parametrize("raw", ["", "12345", "hello", "+0123456789", "138063500001234567"])
def test_not_a_phone_number(raw: str) -> None:
    with pytest.raises(ValueError, match="phone"):
        contact_ref(raw, KEY)


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        contact_ref("13806350000", b"")


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("13806350000", True),
        ("call 138 0635 0000 now", True),
        ("+86-138-0635-0000", True),
        ("0635-8221234", True),
        ("0635 82212345", True),
        ("+86 635 8221234", True),
        ("vol-012345", False),
        ("2022-03-17T09:30:00+08:00", False),
        ("team-0042-03", False),
        ("12806350000", False),
        ("138063500001", False),
    ],
)
def test_looks_like_phone(text: str, phone: bool) -> None:
    assert looks_like_phone(text) is phone
