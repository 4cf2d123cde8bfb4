"""The packed counters against a plain dict model of the same bumps."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from projections import counters as c
from projections.counters import Counters

KEYS = st.tuples(
    st.sampled_from(c.DIMS),
    st.integers(0, 30_000).map(lambda n: date(1970, 1, 1) + timedelta(days=n)),
    st.sampled_from(["org-0001", "org-0002", "org-9999"]),
    st.sampled_from(["org-0001", "team-0001-0001", "site-00001", "reached", ""]),
)


def test_pack_round_trips() -> None:
    key = ("site", date(2022, 3, 17), "org-0042", "site-00105")
    assert c.unpack(c.pack(*key)) == key
    assert c.day_of(19_068) is c.day_of(19_068)  # one shared date per day


@given(st.lists(st.tuples(KEYS, st.integers(0, 7), st.integers(0, 10**12)), max_size=60))
def test_bumps_match_a_dict_of_lists(
    bumps: list[tuple[tuple[str, date, str, str], int, int]],
) -> None:
    counters = Counters()
    model: dict[tuple[str, date, str, str], list[int]] = {}
    for key, column, amount in bumps:
        at = counters.bump(c.pack(*key))
        if column:
            counters.values[at + column] += amount
        row = model.setdefault(key, [0] * c.STRIDE)
        row[c.EVENTS] += 1
        if column:
            row[column] += amount
    assert len(counters) == len(model)
    assert counters.changed_rows("t", 3, 9) == [
        ("t", 3, *key, 9, *row) for key, row in model.items()
    ]
    for key, row in model.items():
        assert counters.get(*key) == tuple(row)
    counters.clear_changed()
    assert counters.changed_rows("t", 3, 9) == []


def test_loaded_values_are_not_changes_until_bumped() -> None:
    counters = Counters()
    key = ("team", date(2022, 3, 17), "org-0001", "team-0001-0001")
    counters.load(*key, (5, 1, 1, 60, 0, 0, 0, 0))
    assert counters.changed_rows("t", 3, 9) == []
    counters.bump(c.pack(*key))
    assert counters.changed_rows("t", 0, 1) == [("t", 0, *key, 1, 6, 1, 1, 60, 0, 0, 0, 0)]


def test_count_bumps_the_same_counters_as_bump() -> None:
    day = date(2022, 3, 17)
    counted, bumped = Counters(), Counters()
    for site, outcome in (("site-00001", ""), ("", "reached"), ("site-00002", "no_answer")):
        org, team, at_site = c.indexes("org-0001", "team-0001-0001", site)
        counted.count((day - date(1970, 1, 1)).days, org, team, at_site, outcome)
        members = [("org", "org-0001"), ("team", "team-0001-0001")]
        members += [("site", site)] if site else []
        members += [("outcome", outcome)] if outcome else []
        for dim, member in members:
            bumped.bump(c.pack(dim, day, "org-0001", member))
    assert counted.changed_rows("t", 0, 1) == bumped.changed_rows("t", 0, 1)
    assert len(counted) == 6  # the org and team counters were bumped three times each


@given(
    st.lists(
        st.tuples(
            st.integers(18_000, 19_000),
            st.sampled_from(["org-0001", "org-0002"]),
            st.sampled_from(["team-0001-0001", "team-0002-0001"]),
            st.sampled_from(["", "site-00001", "site-00002"]),
            st.sampled_from([1, -1]),
            st.integers(0, c.STRIDE - 1),
            st.integers(0, 10**9),
        ),
        max_size=40,
    )
)
def test_add_is_count_plus_one_value(
    events: list[tuple[int, str, str, str, int, int, int]],
) -> None:
    added, counted = Counters(), Counters()
    for day_number, org, team, site, sign, column, amount in events:
        o, t, s = c.indexes(org, team, site)
        added.add(day_number, o, t, s, sign, column, amount)
        for at in counted.count(day_number, o, t, s, "", sign):
            counted.values[at + column] += amount
    assert added.changed_rows("t", 0, 1) == counted.changed_rows("t", 0, 1)
    assert added.values == counted.values
