"""Properties: encode/decode round-trips; no input makes decode raise anything but Rejected."""

from __future__ import annotations

import json
import re
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import (
    REJECTION_CODES,
    Activity,
    AssistKind,
    CallOutcome,
    DonorKind,
    Event,
    Rejected,
    decode,
    encode,
    looks_like_phone,
)
from events.fields import ID_PATTERN, SOURCE_PATTERN
from tests.fixtures import load


def _ids(other: str, pattern: str, max_len: int) -> st.SearchStrategy[str]:
    """Letters-and-punctuation tokens alternating with digit runs of at most 9 digits.

    Built by hand: `st.from_regex` on the id pattern is far too slow.
    """
    token = st.text(alphabet=string.ascii_letters + other, min_size=1, max_size=5)
    run = st.text(alphabet="0123456789-", max_size=9)
    first = st.sampled_from(string.ascii_letters + string.digits)
    built = st.builds(
        lambda head, rest: head + "".join(a + b for a, b in rest),
        first,
        st.lists(st.tuples(token, run), max_size=6),
    )
    return built.filter(lambda s: len(s) <= max_len and re.fullmatch(pattern, s) is not None)


ids = _ids("._:", ID_PATTERN, 64)
sources = _ids("._:/@+", SOURCE_PATTERN, 128)
offsets = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(
    min_value=datetime(2019, 12, 2), max_value=datetime(2026, 1, 1), timezones=offsets
)


def _data(event_type: str) -> st.SearchStrategy[dict[str, Any]]:
    enum = st.sampled_from
    strategies: dict[str, st.SearchStrategy[dict[str, Any]]] = {
        "volunteer.checked_in": st.fixed_dictionaries(
            {"shift_id": ids, "site_id": ids, "activity": enum([a.value for a in Activity])}
        ),
        "volunteer.checked_out": st.fixed_dictionaries({"shift_id": ids, "site_id": ids}),
        "tracing.call_recorded": st.fixed_dictionaries(
            {
                "contact_ref": st.binary(min_size=32, max_size=32).map(bytes.hex),
                "started_at": moments.map(datetime.isoformat),
                "duration_s": st.integers(0, 14_400),
                "outcome": enum([o.value for o in CallOutcome]),
            }
        ),
        "sampling.assisted": st.fixed_dictionaries(
            {
                "site_id": ids,
                "people_assisted": st.integers(1, 500),
                "assist_kind": enum([k.value for k in AssistKind]),
            }
        ),
        "disinfection.completed": st.fixed_dictionaries(
            {"site_id": ids, "area_m2": st.integers(1, 1_000_000), "floors": st.integers(0, 500)}
        ),
        "donation.received": st.fixed_dictionaries(
            {"amount_fen": st.integers(1, 10**9), "donor_kind": enum([d.value for d in DonorKind])}
        ),
    }
    return strategies[event_type]


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    event_type = draw(st.sampled_from(sorted(_TYPES)))
    return {
        "event_id": str(draw(st.uuids())),
        "type": event_type,
        "schema_version": 1,
        "occurred_at": draw(moments).isoformat(),
        "org_id": draw(ids),
        "team_id": draw(ids),
        "volunteer_id": draw(ids),
        "source": draw(sources),
        "data": draw(_data(event_type)),
    }


_TYPES = (
    "volunteer.checked_in",
    "volunteer.checked_out",
    "tracing.call_recorded",
    "sampling.assisted",
    "disinfection.completed",
    "donation.received",
)


def _decode_or_code(raw: bytes) -> Event | str:
    try:
        return decode(raw)
    except Rejected as err:
        rejection = err
    assert rejection.code in REJECTION_CODES
    assert rejection.message
    return rejection.code


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
def test_encode_decode_round_trip(payload: dict[str, Any]) -> None:
    result = _decode_or_code(json.dumps(payload).encode())
    # Random ids may by chance be phone-shaped (e.g. "0635-8221234"): the only allowed refusal.
    if isinstance(result, str):
        assert result == "phone_number"
        return
    wire = encode(result)
    again = decode(wire)
    assert again == result
    assert encode(again) == wire
    assert again.occurred_at == datetime.fromisoformat(payload["occurred_at"])


@settings(max_examples=500)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    _decode_or_code(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=300)
@given(json_values)
def test_arbitrary_json_never_crashes(value: object) -> None:
    assert isinstance(_decode_or_code(json.dumps(value).encode()), str)


VALID_PAYLOADS = [f.payload for f in load("valid")]


@settings(max_examples=500)
@given(
    st.sampled_from(VALID_PAYLOADS),
    st.lists(st.tuples(st.booleans(), st.sampled_from(["", "data"]), st.text(max_size=15))),
    json_values,
)
def test_mutated_events_never_crash(
    payload: dict[str, Any], edits: list[tuple[bool, str, str]], value: object
) -> None:
    doc = json.loads(json.dumps(payload))
    for delete, where, key in edits:
        target = doc["data"] if where == "data" and isinstance(doc.get("data"), dict) else doc
        existing = sorted(target)
        name = existing[len(key) % len(existing)] if existing and not key.startswith("+") else key
        if delete:
            target.pop(name, None)
        else:
            target[name] = json.loads(json.dumps(value))  # a fresh copy per edit
    _decode_or_code(json.dumps(doc).encode())


@given(st.integers(0, 2**32).map(lambda n: datetime.fromtimestamp(n, UTC)))
def test_naive_timestamps_are_rejected_as_naive_even_if_too_old(moment: datetime) -> None:
    payload = json.loads(json.dumps(VALID_PAYLOADS[0]))
    payload["occurred_at"] = moment.replace(tzinfo=None).isoformat()
    assert _decode_or_code(json.dumps(payload).encode()) == "naive_timestamp"


def _id_rule(value: str, other: str) -> bool:
    """The documented id rule, read literally."""
    allowed = re.fullmatch(rf"[A-Za-z0-9][A-Za-z0-9{re.escape(other)}-]*", value) is not None
    # A run: digits and separators between two letters, whatever the separators.
    runs = re.findall(rf"[0-9{re.escape(other)}-]+", value)
    return allowed and all(sum(c.isdigit() for c in run) <= 9 for run in runs)


@settings(max_examples=1000)
@given(st.text(alphabet="aZ._:/@+-0123456789 é", max_size=30))
def test_id_patterns_are_the_documented_rule(value: str) -> None:
    assert (re.match(ID_PATTERN, value) is not None) == _id_rule(value, "._:")
    assert (re.match(SOURCE_PATTERN, value) is not None) == _id_rule(value, "._:/@+")


@settings(max_examples=1000)
@given(
    st.text(alphabet="0123456789-+ ()ab.", min_size=10, max_size=24)
    | st.from_regex(r"[ab]{0,2}(\+86|0086|86)?[- ]?1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4}[ab]?")
)
def test_anything_phone_shaped_fails_the_id_rules(value: str) -> None:
    # Accepted events skip the phone scan: this is why that is safe.
    if looks_like_phone(value):
        assert re.match(ID_PATTERN, value) is None
        assert re.match(SOURCE_PATTERN, value) is None


@settings(max_examples=500)
@given(
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    st.lists(st.sampled_from(["", "-", ".", ":", "_", "._", "-:"]), min_size=10, max_size=10),
    st.sampled_from(["", "v", "vol-", "x."]),
)
def test_a_mobile_number_fails_the_id_rules_whatever_separates_its_digits(
    number: str, separators: list[str], prefix: str
) -> None:
    value = prefix + "".join(d + s for d, s in zip(number, [*separators, ""], strict=True))
    assert re.match(ID_PATTERN, value) is None
    assert re.match(SOURCE_PATTERN, value) is None
