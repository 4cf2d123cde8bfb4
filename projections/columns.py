"""Every count Frontline keeps, declared once. The migrations, views, queries, the simulator's
oracle and the demo each list some of them; tests/unit/test_columns.py fails when a list
drifts from these, so adding a count means: add it here, then follow the failures.
"""

from __future__ import annotations

from typing import Final

# Values of one counter key (table `counters`, view `counters_current` as c_<name>).
COUNTERS: Final = (
    "events",
    "calls",
    "calls_reached",
    "call_s",
    "sampling_assists",
    "disinfected_m2",
    "floors",
    "donations_fen",
)

# The public views' columns (DESIGN.md, "The dashboard contract"): `totals` has all of them;
# `daily_by_org` has `day`, `org_id` and all but `orgs`.
PUBLIC: Final = (
    "orgs",
    "teams",
    "volunteers",
    "checkins",
    "service_hours",
    "open_shifts",
    "unclosed_shifts",
    "calls",
    "calls_reached",
    "call_minutes",
    "sampling_assists",
    "disinfected_m2",
    "floors",
    "donations_fen",
)
DAILY_BY_ORG: Final = ("day", "org_id", *(c for c in PUBLIC if c != "orgs"))

# Counts per team and per site (`frontline query daily_by_team|daily_by_site`): the counters,
# call seconds shown as minutes.
PER_MEMBER: Final = tuple("call_minutes" if c == "call_s" else c for c in COUNTERS)
