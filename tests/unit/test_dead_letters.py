"""Dead letters are bounded and never carry a phone number in clear (issue #11, findings 1, 4).

Whatever the input (2 MiB, binary, a number in any field), the record stays small enough to be
sent, keeps the reason, the origin, the size and SHA-256 of the original, and a prefix of it
with every run of 7+ digits masked, whatever the rejection code.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.privacy import mask_digit_runs
from streams.dead_letters import MAX_RECORD_BYTES, PREFIX_BYTES, dead_letter, read_dead_letter

ORIGIN = {"via": "worker", "topic": "t", "partition": 0, "offset": 7}


@pytest.mark.parametrize(
    "text",
    [
        "13806350003",
        "138 0635 0003",
        "+86 138-0635-0003",
        "vol.138.0635.0003",
        "v:138:0635:0004",
        "v_138_0635_0005",
        "(0635) 822/1234",
        "\uff11\uff13\uff18\uff10\uff16\uff13\uff15\uff10\uff10\uff10\uff13",  # full-width
        "\\u0031\\u0033\\u0038\\u0030\\u0036\\u0033\\u0035\\u0030\\u0030\\u0030\\u0033",
    ],
)
def test_every_phone_shaped_run_is_masked(text: str) -> None:
    masked = mask_digit_runs(f'{{"volunteer_id":"{text}"}}'.encode())
    digits = [c for c in masked.decode() if c.isdigit()]
    assert len(digits) < 7, masked
    assert b"#" in masked


def test_short_numbers_stay() -> None:
    raw = b'{"people_assisted":12,"site_id":"site-0042","floors":6}'
    assert mask_digit_runs(raw) == raw


def test_invalid_utf8_keeps_its_other_bytes() -> None:
    raw = b'\xff\xfe{"v":"13806350003"}\xe9'
    masked = mask_digit_runs(raw)
    assert masked.startswith(b"\xff\xfe")
    assert masked.endswith(b"\xe9")
    assert b"13806350003" not in masked


@pytest.mark.parametrize(
    "code", ["unknown_type", "malformed_json", "invalid_encoding", "too_large"]
)
def test_masked_whatever_the_code(code: str) -> None:
    raw = b'{"type":"x","note":"call 138-0635-0003"}'
    record = read_dead_letter(dead_letter(raw, code=code, message="m", origin=ORIGIN))
    assert b"0635" not in record["original"]
    assert record["original_sha256"] == hashlib.sha256(raw).hexdigest()
    assert record["original_bytes"] == len(raw)
    assert record["truncated"] is False


def test_a_2_mib_input_gives_a_small_record() -> None:
    raw = b"{" + b" " * (2 << 20) + b"}"
    value = dead_letter(raw, code="too_large", message="m", origin=ORIGIN)
    assert len(value) <= MAX_RECORD_BYTES
    record = read_dead_letter(value)
    assert record["truncated"] is True
    assert record["original"] == raw[:PREFIX_BYTES]
    assert record["original_bytes"] == len(raw)
    assert record["original_sha256"] == hashlib.sha256(raw).hexdigest()
    assert record["origin"] == ORIGIN


def test_a_valid_event_id_is_kept_in_clear() -> None:
    event_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    raw = json.dumps({"event_id": event_id, "type": "nope"}).encode()
    record = read_dead_letter(dead_letter(raw, code="unknown_type", message="m", origin=ORIGIN))
    assert record["event_id"] == event_id
    nope = dead_letter(
        b'{"event_id":"13806350003"}', code="invalid_event_id", message="m", origin=ORIGIN
    )
    assert read_dead_letter(nope)["event_id"] is None


@given(st.binary(max_size=4096), st.sampled_from(["too_large", "malformed_json"]))
def test_any_input_gives_a_bounded_readable_record(raw: bytes, code: str) -> None:
    value = dead_letter(raw, code=code, message="m", origin=ORIGIN)
    assert len(value) <= MAX_RECORD_BYTES
    record = read_dead_letter(value)
    assert len(record["original"]) <= PREFIX_BYTES
